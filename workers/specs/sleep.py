"""Spec of kind ``sleep`` (workers/kinds/sleep.py)."""

from __future__ import annotations

from . import KindSpec, ParamSpec

SPEC = KindSpec(
    name="sleep",
    description="sleep in steps; a no-op job for benchmarks and checks",
    params={
        "seconds": ParamSpec("float", 0.0, "total time to sleep", min=0, max=86_400),
        "steps": ParamSpec("int", 1, "number of progress steps (items)", min=0, max=10_000_000),
        "fail": ParamSpec("bool", False, "fail the job instead (for tests)"),
    },
    needs_paths=False,
    outcomes={"ok": "ok"},
)
