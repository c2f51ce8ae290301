"""External tools for job kinds: ``await ctx.run_tool(argv, timeout_s)`` (workers/context.py).

This is the one place where a kind's subprocesses are started.  Each runs
from an argv list (never through a shell) in a session and process group of
its own, so that everything it spawns is signalled together.  On timeout the
group gets SIGTERM, then SIGKILL after a grace; on cancellation (the task is
cancelled: a CANCEL, a worker stopping) SIGTERM at once and the rest in the
background, so the job is not held up.  A child that does not die even of
SIGKILL (uninterruptible sleep on a dead network mount) is abandoned: it is
never awaited in the job, and a background task reaps it if it ever exits.
stdout and stderr are read as they come and kept up to a cap each; the rest
is read and dropped, so a chatty tool neither blocks on a full pipe nor
fills the worker's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .errors import ToolError, ToolTimeout

log = logging.getLogger("medialoom.tools")

#: bytes of stdout (and of stderr) kept per run; the rest is read and dropped
MAX_OUTPUT = 16 * 1024 * 1024
#: seconds between SIGTERM and SIGKILL
TERM_GRACE_S = 2.0
#: seconds to wait for a child to exit after SIGKILL before it is abandoned
KILL_WAIT_S = 1.0
#: seconds the pipes may stay open after the tool exited (a leftover grandchild holds them)
PIPE_GRACE_S = 1.0

#: processes whose group was signalled but which have not been reaped yet
_live: dict[int, asyncio.subprocess.Process] = {}
#: background tasks that finish off and reap cancelled or abandoned children
_reapers: set[asyncio.Task[None]] = set()


@dataclass(frozen=True)
class ToolResult:
    """What a finished tool left: exit status, captured output, wall time."""

    returncode: int
    stdout: bytes
    stderr: bytes
    duration_s: float
    #: True when stdout or stderr went over the cap (the kept part is the beginning)
    truncated: bool = False

    def __repr__(self) -> str:
        return (f"<ToolResult rc={self.returncode} stdout={len(self.stdout)}B "
                f"stderr={len(self.stderr)}B {self.duration_s:.3f}s>")


def _signal_group(proc: asyncio.subprocess.Process, sig: int) -> None:
    if proc.returncode is not None and proc.pid not in _live:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)  # the group id is the pid (start_new_session=True)


async def _read(stream: asyncio.StreamReader | None, cap: int) -> tuple[bytes, bool]:
    if stream is None:
        return b"", False
    kept = bytearray()
    truncated = False
    while chunk := await stream.read(65536):
        room = cap - len(kept)
        if room > 0:
            kept += chunk[:room]
        if len(chunk) > room:
            truncated = True
    return bytes(kept), truncated


async def _feed(proc: asyncio.subprocess.Process, data: bytes) -> None:
    assert proc.stdin is not None
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        proc.stdin.write(data)
        await proc.stdin.drain()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        proc.stdin.close()


async def _wait(proc: asyncio.subprocess.Process, timeout_s: float) -> bool:
    """True if proc exited within timeout_s."""
    try:
        async with asyncio.timeout(timeout_s):
            await proc.wait()
        return True
    except TimeoutError:
        return False


async def _finish(proc: asyncio.subprocess.Process, grace_s: float) -> None:
    """After SIGTERM: SIGKILL after grace_s if still alive; reap it whenever it exits."""
    try:
        if not await _wait(proc, grace_s):
            _signal_group(proc, signal.SIGKILL)
            if not await _wait(proc, KILL_WAIT_S):
                log.warning("tool pid %d survives SIGKILL (uninterruptible sleep?); abandoned",
                            proc.pid)
                await proc.wait()
        # leftover members of the group (the leader is gone) get no second chance
        _signal_group(proc, signal.SIGKILL)
    finally:
        _live.pop(proc.pid, None)


def _in_background(proc: asyncio.subprocess.Process, grace_s: float) -> None:
    task = asyncio.get_running_loop().create_task(_finish(proc, grace_s))
    _reapers.add(task)
    task.add_done_callback(_reapers.discard)


def kill_all() -> None:
    """SIGKILL the groups of every tool still alive (the worker is exiting)."""
    for proc in list(_live.values()):
        _signal_group(proc, signal.SIGKILL)


async def run_tool(argv: Sequence[str | os.PathLike[str]], timeout_s: float, *,
                   stdin: bytes | None = None, cwd: str | os.PathLike[str] | None = None,
                   env: Mapping[str, str] | None = None, max_output: int = MAX_OUTPUT,
                   grace_s: float = TERM_GRACE_S) -> ToolResult:
    """Run argv (no shell) for at most timeout_s seconds; ToolTimeout if it takes longer.

    A non-zero exit status is not an error here: it is in the result.  A
    program that cannot be started raises ToolError.
    """
    if isinstance(argv, str | bytes) or not argv:
        raise TypeError("argv must be a non-empty list of arguments (no shell)")
    args = [os.fspath(a) for a in argv]
    started = time.monotonic()
    try:
        proc = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=cwd,
            env=dict(env) if env is not None else None, start_new_session=True)
    except OSError as exc:
        raise ToolError(f"cannot run {args[0]}: {exc.strerror or exc}") from exc
    _live[proc.pid] = proc
    readers = [asyncio.ensure_future(_read(proc.stdout, max_output)),
               asyncio.ensure_future(_read(proc.stderr, max_output))]
    feeder = asyncio.ensure_future(_feed(proc, stdin)) if stdin is not None else None
    reaped = False
    try:
        async with asyncio.timeout(timeout_s):
            returncode = await proc.wait()
            reaped = True
            done, _ = await asyncio.wait(readers, timeout=PIPE_GRACE_S)
            if len(done) < len(readers):
                # the tool is gone but something it started holds its pipes
                _signal_group(proc, signal.SIGKILL)
                await asyncio.wait(readers)
    except TimeoutError:
        _signal_group(proc, signal.SIGTERM)
        if not reaped:
            _in_background(proc, grace_s)
            # wait here for the grace (and the kill), not for a child that will not die
            await _wait(proc, grace_s + KILL_WAIT_S)
        raise ToolTimeout(f"{os.path.basename(args[0])} did not finish in {timeout_s:g} s",
                          argv=args, timeout_s=timeout_s) from None
    except BaseException:  # cancelled: do not hold the job up; finish it off in the background
        _signal_group(proc, signal.SIGTERM)
        if not reaped:
            _in_background(proc, grace_s)
        raise
    finally:
        for task in [*readers, *([feeder] if feeder else [])]:
            task.cancel()
        if reaped:
            _live.pop(proc.pid, None)
    (out, out_cut), (err, err_cut) = readers[0].result(), readers[1].result()
    return ToolResult(returncode, out, err, round(time.monotonic() - started, 6),
                      out_cut or err_cut)
