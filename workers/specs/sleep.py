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
        "fail_attempts": ParamSpec("int", 0, "attempts 1..N fail with a transient error that "
                                   "asks for a retry (for tests)", min=0, max=100),
        "crash_attempts": ParamSpec("int", 0, "attempts 1..N raise an unexpected exception "
                                    "(for tests)", min=0, max=100),
    },
    needs_paths=False,
    outcomes={"ok": "ok"},
)
