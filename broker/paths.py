"""Library roots and path conflicts (SPEC.md section 5, START rules).

``resolve_paths`` touches the file system and runs in a thread; ``PathIndex``
is pure and lives in the actor's state.
"""

from __future__ import annotations

import bisect
import os
from collections import Counter

from medialoom.protocol.errors import RequestError


def inside(path: str, root: str) -> bool:
    """True if path is root or lies below it (both absolute and normalised)."""
    return path == root or path.startswith(root.rstrip("/") + "/")


def resolve_paths(paths: list[str], roots: list[str]) -> list[str]:
    """Real paths (symlinks followed); RequestError if one is missing or outside the roots."""
    real_roots = [os.path.realpath(r) for r in roots]
    out = []
    for path in paths:
        if not isinstance(path, str) or not path or "\x00" in path:
            raise RequestError(f"bad path {path!r}", code="protocol.bad_field",
                               details={"field": "paths"})
        if not os.path.isabs(path):
            raise RequestError(f"path {path!r} must be absolute", code="protocol.bad_field",
                               details={"field": "paths"})
        real = os.path.realpath(path)
        if real_roots and not any(inside(real, r) for r in real_roots):
            raise RequestError(f"{path} resolves to {real}, outside the library roots "
                               f"({', '.join(real_roots)})", code="path.forbidden",
                               details={"path": path})
        if not os.path.exists(real):
            raise RequestError(f"{path} does not exist", code="path.not_found",
                               details={"path": path})
        out.append(real)
    return out


class PathIndex:
    """Paths of active jobs; finds an overlap (equal, ancestor or descendant) in O(depth + log n)."""

    def __init__(self) -> None:
        self._count: Counter[str] = Counter()
        self._sorted: list[str] = []

    def __len__(self) -> int:
        return len(self._sorted)

    def add(self, paths: list[str]) -> None:
        """Register the paths of a job that became active."""
        for p in paths:
            if self._count[p] == 0:
                bisect.insort(self._sorted, p)
            self._count[p] += 1

    def remove(self, paths: list[str]) -> None:
        """Forget the paths of a job that finished."""
        for p in paths:
            if self._count[p] <= 0:
                continue
            self._count[p] -= 1
            if self._count[p] == 0:
                del self._count[p]
                i = bisect.bisect_left(self._sorted, p)
                if i < len(self._sorted) and self._sorted[i] == p:
                    self._sorted.pop(i)

    def overlap(self, path: str) -> str | None:
        """An active path that equals, contains or lies inside path; None if there is none."""
        head = path
        while True:
            if self._count.get(head):
                return head
            parent = os.path.dirname(head)
            if parent == head:
                break
            head = parent
        prefix = path.rstrip("/") + "/"
        i = bisect.bisect_left(self._sorted, prefix)
        if i < len(self._sorted) and self._sorted[i].startswith(prefix):
            return self._sorted[i]
        return None
