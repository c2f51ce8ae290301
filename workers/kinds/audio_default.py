"""Kind ``audio-default``: being built (issue 10); the spec is final, the run is a placeholder."""

from __future__ import annotations

from medialoom.workers.context import JobContext
from medialoom.workers.errors import JobFailed
from medialoom.workers.specs.audio_default import SPEC

from . import Kind


async def run(ctx: JobContext) -> None:
    """Fail clearly until the kind lands."""
    raise JobFailed(f"kind {ctx.kind!r} is not implemented yet", code="job.failed")


KIND = Kind(spec=SPEC, run=run)
