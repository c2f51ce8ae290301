"""Blocking file steps around a video edit (run through ``ctx.run_blocking``).

The temporary file is fileops' fixed name for the target (``.medialoom-<hash>.part``
in the same folder, fileops.apply.temp_name): walkers skip it, and a retried
attempt finds and removes the leftover of an interrupted one.  ``put_in_place``
fsyncs it, gives it the original's mode (and owner, where allowed), checks the
original is still the file the edit started from, and renames it over the
original with one atomic ``os.replace``, then fsyncs the folder.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat

from medialoom.workers.fileops.apply import (
    Conflict,
    fsync_dir,
    mismatch,
    remove_quietly,
    temp_name,
)

__all__ = ["MARGIN_BYTES", "check_space", "copy_synced", "fresh_temp", "put_in_place",
           "remove_quietly", "state_of"]

#: room left over on the device after a copy or remux (bytes)
MARGIN_BYTES = 16 * 1024 * 1024
_COPY_BUFFER = 1 << 20


def state_of(path: str) -> dict[str, int]:
    """size, mtime_ns, ino, dev, nlink and mode of path (FileNotFoundError if gone)."""
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "not a regular file", path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino,
            "dev": st.st_dev, "nlink": st.st_nlink, "mode": stat.S_IMODE(st.st_mode)}


def check_space(path: str, need_bytes: int) -> str:
    """"" when path's folder has need_bytes (plus a margin) free, else why not."""
    folder = os.path.dirname(path) or "."
    vfs = os.statvfs(folder)
    free = vfs.f_bavail * vfs.f_frsize
    if free < need_bytes + MARGIN_BYTES:
        return (f"not enough free space in {folder}: {free // 2**20} MiB free, a new copy "
                f"needs {(need_bytes + MARGIN_BYTES) // 2**20} MiB")
    return ""


def fresh_temp(path: str) -> str:
    """path's temporary name, with any leftover of an earlier attempt removed."""
    temp = temp_name(path)
    remove_quietly(temp)
    return temp


def copy_synced(src: str, dst: str) -> None:
    """Copy src to a new file dst, fsynced, with src's mode and times."""
    with open(src, "rb") as fin, open(dst, "xb") as fout:
        shutil.copyfileobj(fin, fout, _COPY_BUFFER)
        fout.flush()
        os.fsync(fout.fileno())
    shutil.copystat(src, dst, follow_symlinks=False)


def put_in_place(temp: str, path: str, expect: dict[str, int]) -> None:
    """Replace path by temp (fsynced, path's mode and owner) if path still matches expect."""
    st = os.lstat(path)
    why = mismatch(st, {k: v for k, v in expect.items() if k in ("size", "mtime_ns", "ino",
                                                                    "dev")})
    if why:
        raise Conflict(f"{path} changed while it was being edited ({why}); left alone")
    fd = os.open(temp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(temp, stat.S_IMODE(st.st_mode))
    with contextlib.suppress(PermissionError):
        os.chown(temp, st.st_uid, st.st_gid)
    os.replace(temp, path)
    fsync_dir(os.path.dirname(path))
