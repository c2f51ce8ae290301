"""Planning helpers shared by the kinds: collision policy and the folders a plan will create.

``Claims`` decides, while a plan is built, whether a target name is free.  A
name is taken when a file of that name is on disk (any file, including one
this job will move away: plans never chain renames, so reconciliation stays
unambiguous) or when an earlier operation of the plan targets it.  Names are
compared NFC-normalized and case-folded, so a plan is safe on case-insensitive
file systems too; a file may always take a case- or normalization-only
variant of its own name.  Policy ``skip`` turns a taken name into a
``conflict`` row; ``counter`` tries ``name (1).ext``, ``name (2).ext``, ...
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from .safenames import name_key, with_counter

__all__ = ["POLICIES", "Claims", "NewDirs"]

POLICIES = ("skip", "counter")
MAX_COUNTER = 10_000


class Claims:
    """Target names taken on disk or by earlier operations of this plan (blocking: listdir)."""

    def __init__(self, policy: str = "skip", *, in_place: bool = False) -> None:
        """in_place: every target is in its source's folder and sources come folder by
        folder (a rename over fileops.walk), so a folder is forgotten once passed."""
        if policy not in POLICIES:
            raise ValueError(f"on_collision must be one of {', '.join(POLICIES)}, not {policy!r}")
        self.policy = policy
        self.in_place = in_place
        self._current = ""
        self._claimed: dict[str, set[str]] = {}  # folder -> name keys planned there
        self._listings: dict[str, Counter[str]] = {}

    def _on_disk(self, folder: str) -> Counter[str]:
        names = self._listings.get(folder)
        if names is None:
            try:
                names = Counter(name_key(n) for n in os.listdir(folder))
            except OSError:
                names = Counter()
            self._listings[folder] = names
        return names

    def taken(self, src: str, dst: str) -> str:
        """Why dst cannot be used for src ("" when it is free)."""
        folder, name = os.path.split(dst)
        key = name_key(name)
        if key in self._claimed.get(folder, ()):
            return f"another file of this job is planned to {dst}"
        count = self._on_disk(folder)[key]
        src_folder, src_name = os.path.split(src)
        if src_folder == folder and name_key(src_name) == key:
            count -= 1  # the file itself, under a case or normalization variant
        return f"{dst} already exists" if count > 0 else ""

    def claim(self, src: str, dst: str) -> tuple[str, str, str, dict[str, Any]]:
        """(target, status, message, details) for moving src to dst under the policy."""
        if self.in_place and os.path.dirname(src) != self._current:
            self._release(self._current)
            self._current = os.path.dirname(src)
        if dst == src:
            return src, "unchanged", "already named so", {}
        why = self.taken(src, dst)
        if not why:
            self._claim(dst)
            return dst, "planned", "", {}
        if self.policy == "skip":
            return dst, "conflict", f"name taken: {why}", {"wanted": dst}
        folder, name = os.path.split(dst)
        for n in range(1, MAX_COUNTER):
            candidate = os.path.join(folder, with_counter(name, n))
            if candidate == src:
                return src, "unchanged", "already named so (with a counter)", {"wanted": dst}
            if not self.taken(src, candidate):
                self._claim(candidate)
                return (candidate, "planned", f"name taken ({why}): counter added",
                        {"wanted": dst, "collision": "counter"})
        return dst, "conflict", f"name taken: {why}; no free counter", {"wanted": dst}

    def _claim(self, path: str) -> None:
        folder, name = os.path.split(path)
        self._claimed.setdefault(folder, set()).add(name_key(name))

    def _release(self, folder: str) -> None:
        self._claimed.pop(folder, None)
        self._listings.pop(folder, None)


class NewDirs:
    """Folders a plan will create, each attributed to the first operation that needs it."""

    def __init__(self) -> None:
        self._known: set[str] = set()

    def claim(self, folder: str) -> tuple[list[str], str]:
        """(folders to create for folder, outermost first; a problem such as a file in the way)."""
        missing: list[str] = []
        probe = folder
        while probe not in self._known:
            if os.path.isdir(probe):
                break
            if os.path.lexists(probe):
                return [], f"cannot create folder {probe}: a file has that name"
            missing.append(probe)
            parent = os.path.dirname(probe)
            if parent == probe:
                break
            probe = parent
        self._known.update(missing)
        self._known.add(probe)
        return list(reversed(missing)), ""
