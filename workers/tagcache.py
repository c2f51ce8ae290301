"""Tags this worker process has read already, by file identity (used by workers/tags.py).

A second plan or scan of an unchanged library (a dry run, then the real run;
a template tried twice) then skips mutagen for every file it has seen.

An entry is keyed by the path and the file's (device, inode, size, mtime_ns,
ctime_ns), taken with ``fstat`` on the open file -- after ``open``, so a
network file system has revalidated them (NFS close-to-open).  It is stored
only when the file's ctime is at least STABLE_S older than the moment the
file was opened: the kernel sets the ctime on every write and metadata
change and user space cannot set it back, so a file changed after it was
read no longer matches its entry; a file changed within the same clock tick
as the read is never stored, because its ctime is recent.  Errors are not
stored (a corrupt file is parsed, and fails, every time).

At most MAX_ENTRIES entries, the oldest first out; values are msgpack bytes,
so every hit returns new dicts; an entry takes about 420 bytes with its path
(42 MB when full).  Safe to use from
the thread pool: each step is one OrderedDict call.
"""

from __future__ import annotations

import os
import struct
from collections import OrderedDict
from typing import Any

import msgpack

__all__ = ["MAX_ENTRIES", "STABLE_S", "FileKey", "TagCache", "file_key"]

MAX_ENTRIES = 100_000
STABLE_S = 2.0

FileKey = bytes
_KEY = struct.Struct("<QQQqq")


def file_key(st: os.stat_result) -> FileKey:
    """What must stay the same for a file's tags to stay the same, packed (40 bytes)."""
    return _KEY.pack(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def ctime_ns(key: FileKey) -> int:
    """The ctime a key holds."""
    return int(_KEY.unpack(key)[4])


class TagCache:
    """path -> (FileKey, packed read_tags result), bounded."""

    def __init__(self, max_entries: int = MAX_ENTRIES, stable_s: float = STABLE_S) -> None:
        self.max_entries = max_entries
        self.stable_ns = int(stable_s * 1e9)
        self._entries: OrderedDict[str, tuple[FileKey, bytes]] = OrderedDict()
        self.hits = self.misses = 0

    def __repr__(self) -> str:
        return f"<TagCache entries={len(self._entries)} hits={self.hits} misses={self.misses}>"

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, path: str, key: FileKey) -> dict[str, Any] | None:
        """The stored result for path if the file still has key, else None."""
        entry = self._entries.get(path)
        if entry is None or entry[0] != key:
            self.misses += 1
            return None
        self.hits += 1
        result: dict[str, Any] = msgpack.unpackb(entry[1])
        return result

    def put(self, path: str, key: FileKey, result: dict[str, Any], opened_ns: int) -> None:
        """Keep result for path unless the file changed less than STABLE_S before opened_ns."""
        if ctime_ns(key) > opened_ns - self.stable_ns:
            self._entries.pop(path, None)
            return
        self._entries[path] = (key, msgpack.packb(result))
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        self._entries.clear()
