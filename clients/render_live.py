"""Live progress: the board on a terminal, throttled plain lines when stdout is piped.

The board lays each job out for the width it is drawn at (one to three lines);
piped, ``watch`` prints one line per change of each job, at most about one a
second per job, and never loses the last state.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TextIO

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from medialoom.protocol.constants import TERMINAL_STATUSES

from .render_formats import eta, final_line, progress_line, short_id, shorten_left
from .render_tables import STATUS_STYLE, add_row, console

Job = dict[str, Any]


class Board:
    """The live progress of one or more jobs, laid out for the width it is drawn at.

    Wide: ``rename 7Q0DMSCH running ━━━━━━  45.0%  450/1000  12.3/s  ETA 44s  ok 450 skip 0
    fail 0  …/Album/01 Track.mp3`` on one line.  Narrow (80 columns): the bar, percent and
    counts on the first line, the outcome counts and the current file (shortened from the
    left) on a second.  The key fields never shrink; the bar and the path take what is left.
    """

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}

    def update(self, job: Job) -> None:
        self.jobs[job["id"]] = job

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        jobs = list(self.jobs.values())
        kind_w = max((len(j.get("kind", "")) for j in jobs), default=0)
        fig_w = max((len(_figures(j)) for j in jobs), default=0)
        for job in jobs:
            yield from job_lines(job, options.max_width, kind_w, fig_w)


def _bar(job: Job, width: int) -> ProgressBar:
    p = job["progress"]
    if p["total"]:
        return ProgressBar(total=p["total"], completed=p["processed"], width=width)
    if job["status"] == "completed":
        return ProgressBar(total=1, completed=1, width=width)
    return ProgressBar(total=None, width=width, pulse=job["status"] == "running")


def _pct(job: Job) -> float:
    p = job["progress"]
    return 100.0 if job["status"] == "completed" and not p["total"] else p["percent"]


def _line(*cells: tuple[Any, int | None]) -> Table:
    """One board line: cells of a fixed width (None: as wide as the text)."""
    grid = Table.grid(padding=0)
    for _cell, width in cells:
        grid.add_column(width=width, no_wrap=True, overflow="crop")
    add_row(grid, *(cell for cell, _width in cells))
    return grid


def _figures(job: Job) -> str:
    p = job["progress"]
    return f"  {p['processed']}/{p['total']}  {p['rate']:.1f}/s  ETA {eta(p['eta_seconds'])}"


def job_lines(job: Job, width: int, kind_width: int = 0, figures_width: int = 0) -> list[Any]:
    """The renderables (one to three lines) of one job on the board at width.

    The head (kind, short id, status) and the percent always show in full; the
    bar takes 10-40 columns of what is left; the current file is shortened from
    the left to the rest of its line.  kind_width and figures_width align the bars and
    percents of several jobs.
    """
    p = job["progress"]
    head = Text.assemble((f"{job.get('kind', ''):<{kind_width}} {short_id(job['id'])} ", "bold"),
                         (f"{job['status']:<9} ", STATUS_STYLE.get(job["status"], "")))
    pct = f" {_pct(job):5.1f}%"
    figures = _figures(job).ljust(figures_width)
    counts = f"  ok {p['succeeded']} skip {p['skipped']} fail {p['failed']}"
    current = p.get("current") or ""

    def cur(room: int) -> Text:
        return Text("  " + shorten_left(current, max(0, room - 2)), style="dim", no_wrap=True)

    fixed = len(head) + len(pct) + len(figures)
    if fixed + 10 + len(counts) + min(cell_len(current), 24) + 2 <= width:  # one line
        bar_w = max(10, min(40, (width - fixed) // 4))
        cells: list[tuple[Any, int | None]] = [
            (head, None), (_bar(job, bar_w), bar_w), (pct + figures, None), (counts, None)]
        if current:
            cells.append((cur(width - fixed - bar_w - len(counts)), None))
        return [_line(*cells)]
    if fixed + 10 <= width:  # bar and figures, then the counts and the current file
        bar_w = min(40, width - fixed)
        lines: list[Any] = [_line((head, None), (_bar(job, bar_w), bar_w),
                                  (pct + figures, None))]
        second = Text(counts)
        if current and width - len(counts) > 8:
            second.append_text(cur(width - len(counts)))
        return [*lines, second]
    bar_w = max(0, min(40, width - len(head) - len(pct)))  # narrow: three short lines
    first = [(head, None), (_bar(job, bar_w), bar_w)] if bar_w >= 5 else [(head, None)]
    lines = [_line(*first, (pct, None)), Text(figures + counts, no_wrap=True, overflow="crop")]
    if current:
        lines.append(cur(width))
    return lines


async def live_progress(updates: AsyncIterator[Job], every_job: bool = False) -> Job | None:
    """Draw the board while updates arrive (a terminal); returns the last job map.

    every_job (``watch`` with no id): a job that ends leaves the board and its final
    line is printed above it, so the board holds the jobs that are still going.
    """
    board = Board()
    last: Job | None = None
    with Live(board, console=console, refresh_per_second=8, transient=False) as live:
        async for job in updates:
            last = job
            if every_job and job["status"] in TERMINAL_STATUSES:
                board.jobs.pop(job["id"], None)
                live.console.print(Text(final_line(job),
                                        style=STATUS_STYLE.get(job["status"], "")))
            else:
                board.update(job)
            live.refresh()
    return last


def plain_line(job: Job) -> str:
    """One line of piped progress: time, kind, short id, status, percent, counts, current."""
    p = job["progress"]
    line = (f"{time.strftime('%H:%M:%S')} {job.get('kind', '')} {short_id(job['id'])} "
            f"{job['status']} {_pct(job):.1f}% {progress_line(job)}")
    if p.get("current") and job["status"] == "running":
        line += f"  {p['current']}"
    if job.get("error"):
        line += f"  {job['error']['code']}: {job['error']['message']}"
    return line


async def plain_progress(updates: AsyncIterator[Job], out: TextIO | None = None,
                         interval_s: float = 1.0,
                         clock: Callable[[], float] = time.monotonic) -> Job | None:
    """Print a line per change of each job, at most one per job per interval_s.

    A change of status is printed at once; a throttled update is printed when its
    interval is up (or when the stream ends), so the last state is never lost.
    """
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for job in updates:
                queue.put_nowait(("job", job))
        except BaseException as exc:  # handed to the printer, which re-raises it
            queue.put_nowait(("error", exc))
            return
        queue.put_nowait(("end", None))

    def emit(job: Job) -> None:
        print(plain_line(job), file=out, flush=True)
        printed[job["id"]] = (clock(), job["status"])

    printed: dict[str, tuple[float, str]] = {}
    pending: dict[str, Job] = {}
    last: Job | None = None
    task = asyncio.get_running_loop().create_task(pump())
    try:
        while True:
            now = clock()
            due = [printed[j][0] + interval_s for j in pending]
            timeout = max(0.0, min(due) - now) if due else None
            try:
                what, value = await asyncio.wait_for(queue.get(), timeout)
            except TimeoutError:
                for jid in [j for j in pending if printed[j][0] + interval_s <= clock()]:
                    emit(pending.pop(jid))
                continue
            if what == "error":
                raise value
            if what == "end":
                break
            last = job = value
            seen = printed.get(job["id"])
            if seen is None or seen[1] != job["status"] or clock() - seen[0] >= interval_s:
                pending.pop(job["id"], None)
                emit(job)
            else:
                pending[job["id"]] = job
        for job in pending.values():
            emit(job)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return last


async def show_progress(updates: AsyncIterator[Job], every_job: bool = False) -> Job | None:
    """The live board on a terminal, plain throttled lines when stdout is piped."""
    if console.is_terminal:
        return await live_progress(updates, every_job)
    return await plain_progress(updates)



__all__ = ["Board", "job_lines", "live_progress", "plain_line", "plain_progress", "show_progress"]
