"""medialoom: long batch jobs over media libraries on a ZeroMQ fabric."""
