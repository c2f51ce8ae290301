"""Spec of kind ``dedupe`` (workers/kinds/dedupe.py)."""

from __future__ import annotations

from . import KindSpec, ParamSpec
from .walking import walk_params

ACTIONS = ("report", "quarantine", "hardlink")
KEEP_POLICIES = ("oldest", "shortest_path", "preferred_root")

SPEC = KindSpec(
    name="dedupe",
    description="find duplicate files; report, quarantine or hard-link the extra copies",
    params={
        "action": ParamSpec("str", "report", "report, quarantine or hardlink", choices=ACTIONS),
        "keep": ParamSpec("str", "oldest", "file to keep", choices=KEEP_POLICIES),
        "preferred_root": ParamSpec("str", "", "folder whose copies are kept "
                                               "(keep preferred_root)"),
        "quarantine": ParamSpec("str", "Quarantine", "folder the extra copies move to, "
                                                     "absolute or relative to the library root"),
        "verify_hash": ParamSpec("bool", False, "compare hashes after a cross-device move"),
        **walk_params((), min_size=1),
    },
    changes_files=True,
    outcomes={"duplicate": "ok", "quarantined": "ok", "hardlinked": "ok", "created": "ok",
              "unchanged": "ok", "planned": "ok", "skipped": "skipped",
              "vanished": "skipped", "conflict": "failed", "failed": "failed"},
)
