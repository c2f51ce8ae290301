"""Kind ``sleep``: waits ``seconds`` in ``steps`` steps, one item per step.

Used by the benchmark and the tests, and handy to check a deployment.
"""

from __future__ import annotations

import time
from typing import Any

from medialoom.workers.context import JobContext
from medialoom.workers.errors import JobFailed
from medialoom.workers.specs.sleep import SPEC

from . import Kind


async def run(ctx: JobContext) -> dict[str, Any]:
    """Sleep seconds/steps per step, reporting one item per step."""
    seconds = float(ctx.params["seconds"])
    steps = int(ctx.params["steps"])
    if ctx.params.get("fail"):
        raise JobFailed("failed on request (fail=true)", code="job.failed")
    if ctx.attempt <= int(ctx.params.get("fail_attempts", 0)):
        raise JobFailed(f"transient failure on attempt {ctx.attempt} (fail_attempts)",
                        code="sleep.transient", retry=True)
    if ctx.attempt <= int(ctx.params.get("crash_attempts", 0)):
        raise RuntimeError(f"crash on attempt {ctx.attempt} (crash_attempts)")
    ctx.set_total(steps)
    per_step = seconds / steps if steps else 0.0
    started = time.monotonic()
    for step in range(steps):
        await ctx.checkpoint()
        # keep to the schedule without sub-millisecond sleeps (the loop cannot time those)
        delay = started + (step + 1) * per_step - time.monotonic()
        if delay > 0.001:
            await ctx.sleep(delay)  # ends at once on CANCEL (JobCancelled)
        ctx.item(f"step {step + 1}", "ok", index=step, duration_ms=per_step * 1000)
    return {"slept_s": seconds}


KIND = Kind(spec=SPEC, run=run)
