"""ctx.run_tool and prompt cancel, in-process (JobContext with a CollectingReporter).

Real child processes; the time bounds are generous (seconds) and only catch a
job or a loop that waits on a child that will not die.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest

from medialoom.workers import tools
from medialoom.workers.context import CollectingReporter, JobContext
from medialoom.workers.errors import JobCancelled, ToolError, ToolTimeout

IGNORES_TERM = ["sh", "-c", 'echo $$ > "$0"; trap "" TERM; sleep 60']


def make_ctx(kind: str = "sleep") -> tuple[JobContext, CollectingReporter]:
    reporter = CollectingReporter()
    ctx = JobContext(job_id="J1", attempt=1, kind=kind, paths=[], params={}, dry_run=False,
                     roots=[], reporter=reporter)
    return ctx, reporter


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


async def wait_gone(pgid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not group_alive(pgid):
            return True
        await asyncio.sleep(0.05)
    return False


def written(path: Path) -> bool:
    return path.exists() and bool(path.read_text().strip())


async def wait_file(path: Path, within_s: float = 10) -> None:
    """Wait until the tool wrote its pid to path."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if written(path):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path} was not written")


class LoopWatch:
    """The longest gap between ticks of a 50 ms ticker: a blocked loop shows here."""

    def __init__(self) -> None:
        self.max_gap = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.05)
            now = time.monotonic()
            self.max_gap = max(self.max_gap, now - last)
            last = now

    async def __aenter__(self) -> LoopWatch:
        self._task = asyncio.create_task(self._tick())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def test_output_exit_status_stdin_and_no_shell(tmp_path: Path) -> None:
    ctx, _ = make_ctx()
    r = await ctx.run_tool(["echo", "$HOME;", "`id`"], 10)
    assert (r.returncode, r.stdout, r.stderr) == (0, b"$HOME; `id`\n", b"")
    assert 0 <= r.duration_s < 10
    r = await ctx.run_tool(["cat"], 10, stdin=b"fed through stdin")
    assert r.stdout == b"fed through stdin"
    r = await ctx.run_tool(["sh", "-c", "pwd; echo oops >&2; exit 3"], 10, cwd=tmp_path)
    assert r.returncode == 3 and r.stdout.decode().strip() == str(tmp_path)
    assert r.stderr == b"oops\n"
    with pytest.raises(ToolError):
        await ctx.run_tool(["/nonexistent/tool"], 10)
    with pytest.raises(TypeError):
        await ctx.run_tool("echo hi", 10)  # type: ignore[arg-type]


async def test_output_is_capped_and_the_rest_drained() -> None:
    r = await tools.run_tool(["head", "-c", "3000000", "/dev/zero"], 20, max_output=1000)
    assert r.returncode == 0 and len(r.stdout) == 1000 and r.truncated


async def test_a_child_that_ignores_sigterm_is_killed_at_the_timeout(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    ctx, _ = make_ctx()
    started = time.monotonic()
    async with LoopWatch() as watch:
        with pytest.raises(ToolTimeout) as info:
            await ctx.run_tool([*IGNORES_TERM, str(pidfile)], 0.5)
    took = time.monotonic() - started
    assert info.value.code == "tool.timeout" and info.value.timeout_s == 0.5
    assert took < 6, f"timeout 0.5 s + 2 s grace took {took:.1f} s"
    assert watch.max_gap < 1.0, f"the loop was blocked for {watch.max_gap:.2f} s"
    pgid = int(pidfile.read_text())
    assert await wait_gone(pgid, 5), "the tool's process group survived SIGKILL"


async def test_a_child_blocked_on_a_fifo_without_writer_is_ended(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    ctx, _ = make_ctx()
    started = time.monotonic()
    with pytest.raises(ToolTimeout):
        await ctx.run_tool(["cat", str(fifo)], 0.5)
    assert time.monotonic() - started < 5


async def toolkind(ctx: JobContext) -> dict[str, Any]:
    """A test-only kind: one item per command in params, ``timeout`` when it times out."""
    commands = ctx.params["commands"]
    ctx.set_total(len(commands))
    for i, argv in enumerate(commands):
        await ctx.checkpoint()
        try:
            r = await ctx.run_tool(argv, ctx.params["timeout_s"])
        except ToolTimeout as exc:
            ctx.item(argv[-1], "timeout", exc.message, index=i)
        else:
            ctx.item(argv[-1], "ok" if r.returncode == 0 else "failed", index=i)
    return {"ran": len(commands)}


async def test_a_kind_reports_stuck_tools_as_failed_timeout_items(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    commands = [["true"], [*IGNORES_TERM, str(tmp_path / "pid")], ["cat", str(fifo)],
                ["echo", "after"]]
    ctx, reporter = make_ctx("toolkind")
    ctx.params = {"commands": commands, "timeout_s": 0.5}
    async with LoopWatch() as watch:
        result = await ctx.run_kind(toolkind)
    ctx.flush_items()
    assert result == {"ran": 4}
    assert [i["status"] for i in reporter.items] == ["ok", "timeout", "timeout", "ok"]
    assert (ctx.succeeded, ctx.failed) == (2, 2)  # timeout is a failed outcome
    assert watch.max_gap < 1.0


async def test_cancel_kills_a_running_tool_within_a_second(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    ctx, reporter = make_ctx("toolkind")
    ctx.params = {"commands": [["true"], ["sh", "-c", 'echo $$ > "$0"; exec sleep 60',
                                          str(pidfile)]], "timeout_s": 60}
    task = asyncio.create_task(ctx.run_kind(toolkind))
    await wait_file(pidfile)
    asked = time.monotonic()
    ctx.request_cancel()
    with pytest.raises(JobCancelled):
        await task
    assert time.monotonic() - asked < 1.5
    ctx.flush_items()
    assert [i["status"] for i in reporter.items] == ["ok"]  # the partial result stays
    assert await wait_gone(int(pidfile.read_text()), 3), "the cancelled tool still runs"


async def test_cancel_of_a_tool_that_ignores_sigterm_gets_it_killed_in_the_background(
        tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    ctx, _ = make_ctx("toolkind")
    ctx.params = {"commands": [[*IGNORES_TERM, str(pidfile)]], "timeout_s": 60}
    task = asyncio.create_task(ctx.run_kind(toolkind))
    await wait_file(pidfile)
    asked = time.monotonic()
    ctx.request_cancel()
    with pytest.raises(JobCancelled):
        await task
    assert time.monotonic() - asked < 1.5
    assert await wait_gone(int(pidfile.read_text()), 6)
    # the background reaper has the child's exit status before the test's loop closes
    await asyncio.wait_for(asyncio.gather(*tools._reapers), 30)


async def test_ctx_sleep_ends_at_once_on_cancel() -> None:
    ctx, _ = make_ctx()
    asyncio.get_running_loop().call_later(0.2, ctx.request_cancel)
    started = time.monotonic()
    with pytest.raises(JobCancelled):
        await ctx.run_kind(lambda c: c.sleep(30))
    assert time.monotonic() - started < 1.5


async def test_a_kind_that_never_checks_is_cancelled_after_the_grace() -> None:
    async def stubborn(ctx: JobContext) -> None:
        ctx.item("first", "ok", index=0)
        await asyncio.sleep(30)  # not ctx.sleep: no checkpoint

    ctx, reporter = make_ctx()
    asyncio.get_running_loop().call_later(0.2, ctx.request_cancel)
    started = time.monotonic()
    with pytest.raises(JobCancelled):
        await ctx.run_kind(stubborn)
    assert time.monotonic() - started < 1.5
    ctx.flush_items()
    assert [i["path"] for i in reporter.items] == ["first"]


async def test_a_thread_is_waited_out_and_its_results_kept() -> None:
    async def threaded(ctx: JobContext) -> None:
        done = await ctx.run_blocking(time.sleep, 0.8)
        ctx.item("after the thread", "ok", index=0, details={"done": done is None})
        await ctx.checkpoint()
        raise AssertionError("the checkpoint after a cancel must raise")

    ctx, reporter = make_ctx()
    asyncio.get_running_loop().call_later(0.1, ctx.request_cancel)
    with pytest.raises(JobCancelled):
        await ctx.run_kind(threaded)
    ctx.flush_items()
    assert [i["path"] for i in reporter.items] == ["after the thread"]


async def test_an_outer_cancel_is_not_turned_into_job_cancelled() -> None:
    ctx, _ = make_ctx()
    task = asyncio.create_task(ctx.run_kind(lambda c: asyncio.sleep(30)))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task



async def test_a_child_that_survives_sigkill_is_abandoned_not_awaited(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stands in for uninterruptible sleep: the signals are not delivered at all."""
    real_signal = tools._signal_group
    monkeypatch.setattr(tools, "_signal_group", lambda proc, sig: None)
    pidfile = tmp_path / "pid"
    started = time.monotonic()
    async with LoopWatch() as watch:
        with pytest.raises(ToolTimeout):
            await tools.run_tool(["sh", "-c", 'echo $$ > "$0"; exec sleep 60', str(pidfile)],
                                 0.3, grace_s=0.3)
    took = time.monotonic() - started
    # the child sleeps 60 s: finishing in seconds shows it was abandoned, not awaited
    assert took < 20, f"waited {took:.1f} s on the child"
    assert watch.max_gap < 1.0
    pgid = int(pidfile.read_text())
    assert group_alive(pgid) and pgid in tools._live  # abandoned, reaper still waiting
    monkeypatch.setattr(tools, "_signal_group", real_signal)
    tools.kill_all()  # what the worker does at exit
    assert await wait_gone(pgid, 5)
    await asyncio.sleep(0.1)  # let the background reaper see it go
    assert pgid not in tools._live
