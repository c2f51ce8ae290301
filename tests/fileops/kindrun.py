"""Helpers for running the file-changing kinds in-process on real files (not a test module).

Files are real audio made by medialoom.samplelib and tagged by mutagen; kinds
run under a JobContext with a CollectingReporter, which keeps plans and item
results per job id like the broker does, so one reporter serves a job, its
retry and its rollback.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from medialoom.samplelib import make_audio, tag_audio
from medialoom.workers.context import CollectingReporter, JobContext
from medialoom.workers.kinds import Kind, validate_params


def write_track(path: Path, tags: dict[str, Any] | None, duration_s: float = 30.0) -> Path:
    """A real audio file of path's format (by extension) with tags written by mutagen."""
    ext = path.suffix.lstrip(".").lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tag_audio(ext, make_audio(ext, duration_s), tags))
    return path


def permission_bits_enforced(scratch: Path) -> bool:
    """False when this process ignores permission bits (root, or CAP_DAC_OVERRIDE).

    Probed, not guessed from the uid: a root process without CAP_DAC_OVERRIDE
    is refused like any user, and an unprivileged one in a user namespace may not be.
    """
    probe = scratch / "permission-probe"
    probe.mkdir()
    probe.chmod(0o555)
    try:
        (probe / "x").write_bytes(b"")
    except PermissionError:
        return True
    else:
        (probe / "x").unlink()
        return False
    finally:
        probe.chmod(0o755)
        probe.rmdir()


def exists(path: str | Path) -> bool:
    """True if path names anything (a plain helper, so async tests need no os.path call)."""
    return os.path.lexists(path)


def tree(root: Path) -> dict[str, str]:
    """relative path -> blake2b of content, for every file under root (folders as "<dir>")."""
    out: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            if not os.listdir(os.path.join(folder, name)):
                out[os.path.relpath(os.path.join(folder, name), root)] = "<dir>"
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as fh:
                out[os.path.relpath(path, root)] = hashlib.blake2b(fh.read()).hexdigest()
    return out


def make_ctx(kind: Kind, paths: list[Path], roots: list[Path], *,
             reporter: CollectingReporter | None = None, job_id: str = "j1", attempt: int = 1,
             has_plan: bool = False, dry_run: bool = False, survive: int | None = None,
             **params: Any) -> JobContext:
    """A JobContext for kind with validated params (a DyingContext when survive is given)."""
    args: dict[str, Any] = dict(
        job_id=job_id, attempt=attempt, kind=kind.name, paths=[str(p) for p in paths],
        params=validate_params(kind, params), dry_run=dry_run, roots=[str(r) for r in roots],
        reporter=reporter or CollectingReporter(), has_plan=has_plan)
    return JobContext(**args) if survive is None else DyingContext(survive=survive, **args)


async def run_kind(kind: Kind, paths: list[Path], roots: list[Path], **kwargs: Any
                   ) -> tuple[dict[str, Any], JobContext]:
    """Run kind to the end in-process; (its result, its context)."""
    ctx = make_ctx(kind, paths, roots, **kwargs)
    result = await kind.run(ctx) or {}
    ctx.flush_items()
    return {**ctx.result, **result}, ctx


def items(reporter: CollectingReporter, job_id: str = "j1") -> list[dict[str, Any]]:
    """The stored item results of job_id, by index."""
    store = reporter.results.get(job_id, {})
    return [store[i] for i in sorted(store)]


def plan(reporter: CollectingReporter, job_id: str = "j1") -> list[dict[str, Any]]:
    """The stored plan of job_id, by index."""
    store = reporter.plans.get(job_id, {})
    return [store[i] for i in sorted(store)]


def by_name(rows: list[dict[str, Any]], key: str = "path") -> dict[str, dict[str, Any]]:
    """Rows by the base name of their path (or another key holding a path)."""
    return {os.path.basename(row[key]): row for row in rows}


class DyingContext(JobContext):
    """A JobContext whose worker "dies" after `survive` item reports.

    Later reports are lost (their operations were done on disk, but the
    broker never hears of them) and the attempt is stopped at the next
    checkpoint, as a kill -9 of the worker would stop it.
    """

    def __init__(self, *args: Any, survive: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.survive = survive
        self.lost: list[int] = []

    def item(self, path: str, status: str, message: str = "", **kwargs: Any) -> None:
        if self.processed >= self.survive:
            self.lost.append(kwargs.get("index", -1))
            self.request_cancel()
            return
        super().item(path, status, message, **kwargs)


class PlanHookReporter(CollectingReporter):
    """Calls hook() once the plan is complete, before anything is applied."""

    def __init__(self, hook: Any) -> None:
        super().__init__()
        self.hook = hook

    def send_plan(self, ctx: JobContext, ops: list[dict[str, Any]], complete: bool) -> None:
        super().send_plan(ctx, ops, complete)
        if complete:
            self.hook()


def expose_kinds(tmp_path: Path, monkeypatch: Any, *names: str) -> None:
    """Make kinds missing from BUILTIN loadable by broker and worker processes started later.

    Registers them through the ``medialoom.kinds`` entry-point group (the
    third-party route) in a throw-away distribution put on PYTHONPATH.
    """
    from medialoom.workers.kinds import BUILTIN

    missing = [n for n in names if n not in BUILTIN]
    if not missing:
        return
    dist = tmp_path / "plugins" / "medialoom_test_kinds-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: medialoom-test-kinds\n"
                                   "Version: 0\n")
    (dist / "entry_points.txt").write_text(
        "[medialoom.kinds]\n" + "".join(f"{n} = medialoom.workers.kinds.{n}:KIND\n"
                                        for n in missing))
    path = os.pathsep.join(p for p in (str(dist.parent), os.environ.get("PYTHONPATH", "")) if p)
    monkeypatch.setenv("PYTHONPATH", path)
