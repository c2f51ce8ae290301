"""``python -m medialoom.clients.cli_main``: the CLI without the console script."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
