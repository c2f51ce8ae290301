"""Private by default: the data dir is 0700 and the files in it 0600 (issue 7).

Paths, plans and results tell a lot about someone's library, so every process
that writes into the data dir sets a umask of 077 at start-up, and existing
installs that were created looser are tightened when they are opened.
"""

from __future__ import annotations

import logging
import os
import stat

log = logging.getLogger("medialoom")
DIR_MODE = 0o700
FILE_MODE = 0o600


def private_umask() -> None:
    """New files of this process are readable by its user only."""
    os.umask(0o077)


def private_dir(path: str) -> str:
    """Create path (and parents) as 0700, or tighten an existing folder to 0700."""
    os.makedirs(path, mode=DIR_MODE, exist_ok=True)
    _tighten(path, DIR_MODE)
    return path


def private_files(*paths: str) -> None:
    """Tighten each existing file to 0600 (missing ones are skipped)."""
    for path in paths:
        _tighten(path, FILE_MODE)


def _tighten(path: str, mode: int) -> None:
    try:
        current = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return
    if current & 0o077:
        log.warning("%s was readable by other users (mode %o); setting %o", path, current, mode)
        os.chmod(path, mode)
