"""How a ``medialoom`` command ends: its exit code, the usage error, the ``--json`` document."""

from __future__ import annotations

import json
from typing import Any

from .client import ClientError

RET_OK, RET_FAILED, RET_USAGE, RET_CANCELLED, RET_UNREACHABLE = 0, 1, 2, 3, 4
EXIT_FOR_STATUS = {"completed": RET_OK, "failed": RET_FAILED, "cancelled": RET_CANCELLED}


class UsageError(ClientError):
    """Bad usage the CLI itself finds (exit 2), reported like a refused request."""

    code = "cli.usage"


def print_json(data: Any) -> None:
    """data as one indented JSON document on stdout."""
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))
