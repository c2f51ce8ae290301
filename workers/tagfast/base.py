"""What the tagfast readers share: the first bytes read, spans of the file, the fallback."""

from __future__ import annotations

from io import BytesIO
from typing import IO

__all__ = ["HEAD", "Fallback", "NoTag", "file_size", "more", "span", "whole"]

HEAD = 16384  # bytes read first; a longer tag is read whole after


class Fallback(Exception):
    """This file is one for mutagen."""


class NoTag(Exception):
    """ID3NoHeaderError: the container has no ID3 tag (tags None, the map {})."""


def more(fh: IO[bytes], head: bytes, end: int) -> bytes:
    """head, extended to end bytes from the start of the file when the file has them."""
    if len(head) >= end or len(head) < HEAD:
        return head
    fh.seek(len(head))
    return head + fh.read(end - len(head))


def span(fh: IO[bytes], head: bytes, start: int, end: int) -> bytes:
    """Bytes start..end of the file (fewer at its end), from head when it holds them."""
    if end <= len(head) or len(head) < HEAD:
        return head[start:end]
    fh.seek(start)
    return fh.read(end - start)


def file_size(fh: IO[bytes], head: bytes) -> int:
    """The file's size (head's when head is the whole file)."""
    if len(head) < HEAD:
        return len(head)
    fh.seek(0, 2)
    return fh.tell()


def whole(fh: IO[bytes], head: bytes) -> IO[bytes]:
    """The file for find_id3v1, which reads its last 131 bytes: head in memory when head is
    the whole file (a BytesIO seeks to 0 where a short file's seek fails and find_id3v1
    then seeks to 0: the same bytes)."""
    return BytesIO(head) if len(head) < HEAD else fh
