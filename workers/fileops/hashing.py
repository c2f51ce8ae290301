"""Content hashes and comparisons for dedupe and copy verification, read in 1 MiB chunks.

hashlib releases the GIL while it hashes a buffer, so several threads hash
several files at once.  ``partial_digest`` hashes the first and the last
``PARTIAL_BYTES`` of a file (the whole file when it is not larger than twice
that), the cheap second stage of duplicate detection.
"""

from __future__ import annotations

import hashlib

__all__ = ["CHUNK_BYTES", "PARTIAL_BYTES", "file_digest", "partial_digest"]

CHUNK_BYTES = 1 << 20
PARTIAL_BYTES = 64 << 10


def file_digest(path: str, expect_size: int | None = None, partial: str = "") -> str:
    """blake2b hex digest of the whole file; OSError if it is not expect_size bytes long.

    With ``partial`` (this file's partial_digest) only the middle is read: the
    digest is then blake2b(partial || middle), which covers every byte once.
    """
    h = hashlib.blake2b(digest_size=32)
    buf = bytearray(CHUNK_BYTES)
    view = memoryview(buf)
    total = 0
    with open(path, "rb", buffering=0) as fh:
        if partial and expect_size is not None and expect_size > 2 * PARTIAL_BYTES:
            h.update(bytes.fromhex(partial))
            fh.seek(PARTIAL_BYTES)
            total, left = 2 * PARTIAL_BYTES, expect_size - 2 * PARTIAL_BYTES
            while left > 0 and (n := fh.readinto(view[:min(CHUNK_BYTES, left)])):
                h.update(view[:n])
                total, left = total + n, left - n
            if len(fh.read(PARTIAL_BYTES + 1)) != PARTIAL_BYTES:
                raise OSError(f"{path} changed while it was read")
        else:
            while n := fh.readinto(buf):
                h.update(view[:n])
                total += n
    if expect_size is not None and total != expect_size:
        raise OSError(f"{path} changed while it was read ({expect_size} -> {total} bytes)")
    return h.hexdigest()


def partial_digest(path: str, size: int) -> str:
    """blake2b of the first and last PARTIAL_BYTES of a file of size bytes."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb", buffering=0) as fh:
        h.update(fh.read(PARTIAL_BYTES))
        if size > PARTIAL_BYTES:
            fh.seek(max(PARTIAL_BYTES, size - PARTIAL_BYTES))
            h.update(fh.read(PARTIAL_BYTES))
    return h.hexdigest()

