"""Spec of kind ``rollback`` (workers/kinds/rollback.py)."""

from __future__ import annotations

from . import KindSpec, ParamSpec

SPEC = KindSpec(
    name="rollback",
    description="undo the applied file operations of a finished or cancelled job",
    params={"job": ParamSpec("str", description="id of the job whose file operations to undo")},
    needs_paths=False,
    changes_files=True,
    outcomes={"restored": "ok", "moved": "ok", "created": "ok", "removed": "ok",
              "renamed": "ok", "quarantined": "ok", "hardlinked": "ok", "unchanged": "ok",
              "planned": "ok", "skipped": "skipped", "vanished": "skipped",
              "conflict": "failed", "failed": "failed"},
    target_param="job",
)
