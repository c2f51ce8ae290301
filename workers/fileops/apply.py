"""Blocking file-system primitives that never clobber a file (SPEC.md section 8, apply).

- ``rename_noreplace``: Linux ``renameat2(RENAME_NOREPLACE)`` through ctypes;
  where the call or the flag is missing, ``link`` then ``unlink`` (link fails
  when the target exists); where hard links are not supported either, and for
  directories, ``os.rename`` after an existence check (the only racy path,
  for file systems that offer nothing better).  A case-only (or
  normalization-only) rename on a case-insensitive file system goes through
  a temporary name, since there the target "exists": it is the file itself.
- ``move``: a rename, or across file systems a copy to a temporary name in
  the target folder, fsync, size check (and a blake2b comparison when asked),
  a no-replace rename into place, fsync of the folder, then the unlink.
- ``make_dirs``: like ``os.makedirs`` but returns the folders it created.
- ``replace_with_link`` / ``replace_with_copy``: dedupe's hard-link action
  and its undo; both build the new file under a temporary name and swap it in
  with one atomic ``os.replace`` after a last check of what they replace.

Temporary names are ``.medialoom-<hash of the final name>.part`` in the
target folder: fixed per target, so a retried attempt finds and removes the
leftover of an interrupted one.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import shutil
import stat
from typing import Any

from .hashing import file_digest
from .safenames import name_key

__all__ = ["Conflict", "expect_of", "fsync_dir", "is_case_alias", "make_dirs", "mismatch", "move",
           "remove_quietly", "rename_noreplace", "replace_with_copy", "replace_with_link",
           "temp_name"]

TEMP_PREFIX = ".medialoom-"
_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_NO_FLAG_SUPPORT = frozenset({errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP})
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK,
                            errno.ENOSYS})
_COPY_BUFFER = 1 << 20


class Conflict(Exception):
    """The file system is not in the state the operation expects; nothing was changed."""


def _load_renameat2() -> Any:
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_RENAMEAT2 = _load_renameat2()


def expect_of(st: os.stat_result) -> dict[str, int]:
    """What an operation expects to find: size, mtime_ns, inode and device of a stat."""
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino, "dev": st.st_dev}


def mismatch(st: os.stat_result, expect: dict[str, int]) -> str:
    """"" when st agrees with every field of expect, else which fields differ."""
    fields = (("size", st.st_size), ("mtime_ns", st.st_mtime_ns), ("ino", st.st_ino),
              ("dev", st.st_dev))
    return ", ".join(f"{name} {expect[name]} -> {value}" for name, value in fields
                     if name in expect and expect[name] != value)


def temp_name(path: str) -> str:
    """The fixed temporary name used while building path (same folder, hidden)."""
    digest = hashlib.blake2b(os.fsencode(os.path.basename(path)), digest_size=8).hexdigest()
    return os.path.join(os.path.dirname(path), f"{TEMP_PREFIX}{digest}.part")


def is_case_alias(src: str, dst: str) -> bool:
    """True when dst names src itself only because the file system ignores case (or NFC/NFD)."""
    if os.path.dirname(src) != os.path.dirname(dst):
        return False
    a, b = os.path.basename(src), os.path.basename(dst)
    if a == b or name_key(a) != name_key(b):
        return False
    try:
        if not os.path.samefile(src, dst):
            return False
        return b not in os.listdir(os.path.dirname(dst) or ".")
    except OSError:
        return False


def rename_noreplace(src: str, dst: str, *, use_renameat2: bool = True) -> None:
    """Rename src to dst; FileExistsError if dst exists, never replacing it."""
    if is_case_alias(src, dst):
        temp = temp_name(dst)
        _rename_noreplace(src, temp, use_renameat2)
        _rename_noreplace(temp, dst, use_renameat2)
        return
    _rename_noreplace(src, dst, use_renameat2)


def _rename_noreplace(src: str, dst: str, use_renameat2: bool) -> None:
    if use_renameat2 and _RENAMEAT2 is not None:
        if _RENAMEAT2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst),
                      _RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        if err not in _NO_FLAG_SUPPORT:
            raise OSError(err, os.strerror(err), src, None, dst)
    if not stat.S_ISDIR(os.lstat(src).st_mode):
        try:
            os.link(src, dst, follow_symlinks=False)
        except OSError as exc:
            if exc.errno not in _NO_HARD_LINKS:
                raise
        else:
            os.unlink(src)
            return
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst)
    os.rename(src, dst)


def move(src: str, dst: str, *, verify_hash: bool = False, force_copy: bool = False) -> bool:
    """Move src to dst without replacing anything; True when it had to copy across devices."""
    if not force_copy:
        try:
            rename_noreplace(src, dst)
            return False
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
    copy_then_unlink(src, dst, verify_hash=verify_hash)
    return True


def copy_then_unlink(src: str, dst: str, *, verify_hash: bool = False) -> None:
    """Copy src to dst (temp name, fsync, verify, no-replace rename, fsync folder), unlink src."""
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst)
    temp = temp_name(dst)
    remove_quietly(temp)  # the leftover of an interrupted attempt, by its fixed name
    try:
        _copy_synced(src, temp)
        if verify_hash and file_digest(src) != file_digest(temp):
            raise OSError(errno.EIO, "the copy differs from the original", temp)
        rename_noreplace(temp, dst)
    except BaseException:
        remove_quietly(temp)
        raise
    fsync_dir(os.path.dirname(dst))
    os.unlink(src)


def _copy_synced(src: str, dst: str) -> None:
    with open(src, "rb") as fin, open(dst, "xb") as fout:
        shutil.copyfileobj(fin, fout, _COPY_BUFFER)
        fout.flush()
        os.fsync(fout.fileno())
        want, got = os.fstat(fin.fileno()).st_size, os.fstat(fout.fileno()).st_size
    if want != got:
        raise OSError(errno.EIO, f"short copy: {got} of {want} bytes", dst)
    shutil.copystat(src, dst, follow_symlinks=False)


def make_dirs(path: str) -> list[str]:
    """Create path and its missing parents; the folders created, outermost first."""
    missing: list[str] = []
    probe = path
    while not os.path.isdir(probe):
        missing.append(probe)
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    created: list[str] = []
    for folder in reversed(missing):
        try:
            os.mkdir(folder)
        except FileExistsError:
            if not os.path.isdir(folder):
                raise NotADirectoryError(errno.ENOTDIR, "a file has the folder's name",
                                         folder) from None
            continue
        created.append(folder)
    return created


def replace_with_link(extra: str, keep: str, expect: dict[str, int]) -> None:
    """Replace extra by a hard link to keep, if extra still matches expect (else Conflict)."""
    temp = temp_name(extra)
    remove_quietly(temp)
    os.link(keep, temp, follow_symlinks=False)
    try:
        why = mismatch(os.lstat(extra), expect)
        if why:
            raise Conflict(f"{extra} changed since it was hashed ({why})")
        os.replace(temp, extra)
    except BaseException:
        remove_quietly(temp)
        raise


def replace_with_copy(keep: str, extra: str, mode: int | None, mtime_ns: int | None) -> None:
    """Replace extra, a hard link of keep, by an independent copy with its own mode and mtime."""
    temp = temp_name(extra)
    remove_quietly(temp)
    try:
        _copy_synced(keep, temp)
        if mode is not None:
            os.chmod(temp, mode)
        if mtime_ns is not None:
            os.utime(temp, ns=(mtime_ns, mtime_ns))
        if os.lstat(extra).st_ino != os.lstat(keep).st_ino:
            raise Conflict(f"{extra} is no longer a hard link of {keep}")
        os.replace(temp, extra)
    except BaseException:
        remove_quietly(temp)
        raise


def remove_quietly(path: str) -> None:
    """Remove path if it exists."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def fsync_dir(path: str) -> None:
    """fsync a folder (where the file system allows it)."""
    try:
        fd = os.open(path or ".", os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory; the data itself is synced
    finally:
        os.close(fd)
