"""JSON text of the values the store keeps (paths, params, errors, results, item rows).

``json.dumps(value, allow_nan=False)`` builds a JSONEncoder and its C encoder on every call
(3.7 us of a small params map); the C encoder built once here takes 1.1 us.  Same text, same
errors: ValueError for NaN and infinities, TypeError for what JSON has no form for.  There
is no check for circular references: these values come from msgpack, which has none.
"""

from __future__ import annotations

import json
from json import encoder as _encoder
from typing import Any


def _default(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_C = (_encoder.c_make_encoder(None, _default, _encoder.encode_basestring_ascii, None, ": ", ", ",
                              False, False, False)
      if _encoder.c_make_encoder is not None else None)


def dumps(value: Any) -> str:
    """``json.dumps(value, allow_nan=False)``, with the C encoder made once."""
    if _C is None:  # a Python without the _json accelerator
        return json.dumps(value, allow_nan=False)
    return "".join(_C(value, 0))
