"""Terminal output of the CLI: tables, the live progress board and plain progress lines.

Everything here fits the terminal it is drawn on (rich reads ``COLUMNS``): the
key columns of a table (id, kind, status, percent) never wrap or shrink, paths
are shortened from the left (``…/Album/01 Track.mp3``) to the room that is
left, and less important columns are dropped on narrow terminals.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TextIO

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.live import Live
from rich.measure import Measurement
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from medialoom.protocol.constants import JOB_STATUSES, TERMINAL_STATUSES

console = Console(stderr=False, highlight=False)
STATUS_STYLE = {"queued": "yellow", "running": "cyan", "completed": "green", "failed": "red",
                "cancelled": "magenta"}
#: item and plan statuses drawn in red (SPEC 6.4: they count as failed)
BAD_ITEM = frozenset({"failed", "conflict", "error", "timeout"})
#: characters of a job id shown in tables and bars (the random end of the ULID)
SHORT_ID = 8
ELLIPSIS = "…"
Job = dict[str, Any]


# --- small formatters -----------------------------------------------------------------------


def when(ts: float | None) -> str:
    """A unix time as local HH:MM:SS (date too if not today)."""
    if not ts:
        return "-"
    t = dt.datetime.fromtimestamp(ts)
    return t.strftime("%H:%M:%S" if t.date() == dt.date.today() else "%Y-%m-%d %H:%M")


def eta(seconds: float | None) -> str:
    """Seconds as 1h02m03s / 2m03s / 3s."""
    if seconds is None:
        return "-"
    s = int(seconds)
    h, rem = divmod(s, 3600)
    mi, se = divmod(rem, 60)
    return f"{h}h{mi:02d}m{se:02d}s" if h else f"{mi}m{se:02d}s" if mi else f"{se}s"


def short_id(job_id: str) -> str:
    """The last SHORT_ID characters of a job id: what tables and bars show.

    Any 6 or more characters from the start or the end of an id name the job
    on the command line, so this is what a user copies.
    """
    return job_id[-SHORT_ID:]


def _tail(text: str, width: int) -> str:
    """The end of text that fits in width terminal cells (wide characters count 2)."""
    out, used = [], 0
    for ch in reversed(text):
        w = cell_len(ch)
        if used + w > width:
            break
        out.append(ch)
        used += w
    return "".join(reversed(out))


def shorten_left(path: str, width: int) -> str:
    """path in at most width terminal cells, cut from the left at a folder boundary if it can.

    ``/srv/music/Artist/Album/01 Track.mp3`` at 24 → ``…/Album/01 Track.mp3``; a name
    longer than the room keeps its end (``…ng name.mp3``); a bare file name (no folder)
    keeps its start and its end (``Artist - A Ve…Title.mp3``).  Wide characters (CJK)
    count as two cells.
    """
    if width <= 0:
        return ""
    if cell_len(path) <= width:
        return path
    if width == 1:
        return ELLIPSIS
    if "/" not in path:  # a bare file name: its start and its end (the extension) both matter
        head = _tail(path[::-1], (width - 1) * 3 // 5)[::-1]
        return head + ELLIPSIS + _tail(path, width - 1 - cell_len(head))
    parts = path.split("/")
    kept = parts[-1]
    if cell_len(kept) + 2 > width:  # even the file name does not fit: keep its end
        return ELLIPSIS + _tail(kept, width - 1)
    for part in reversed(parts[:-1]):
        if cell_len(part) + 1 + cell_len(kept) + 2 > width:
            break
        kept = f"{part}/{kept}"
    return f"{ELLIPSIS}/{kept}"


class LeftPath:
    """A path cell that shortens itself from the left to the width rich gives it."""

    def __init__(self, path: str, style: str = "", min_width: int = 12) -> None:
        self.path = path
        self.style = style
        self.min_width = min_width

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        n = cell_len(self.path)
        return Measurement(min(n, self.min_width), max(n, 1)).clamp(max_width=options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text(shorten_left(self.path, options.max_width), style=self.style, no_wrap=True,
                   overflow="crop")


def paths_cell(paths: list[str]) -> LeftPath:
    """The job's first path (and how many more) as a left-shortened cell."""
    if not paths:
        return LeftPath("-")
    more = f"  (+{len(paths) - 1})" if len(paths) > 1 else ""
    return LeftPath(paths[0] + more)


def status_text(status: str) -> Text:
    """A job status in its colour, never wrapped or cut."""
    return Text(status, style=STATUS_STYLE.get(status, ""), no_wrap=True)


def item_status_text(status: str) -> Text:
    """An item or plan status, red when it counts as failed."""
    return Text(status, style="red" if status in BAD_ITEM else "", no_wrap=True)


def number(n: int | float) -> str:
    """10000 → '10,000'."""
    return f"{n:,}"


def progress_line(job: Job) -> str:
    """processed/total, rate, ETA and the outcome counts of a job in one string."""
    p = job["progress"]
    return (f"{p['processed']}/{p['total']}  {p['rate']:.1f}/s  ETA {eta(p['eta_seconds'])}"
            f"  ok {p['succeeded']} skip {p['skipped']} fail {p['failed']}")


def final_line(job: Job) -> str:
    """How a job ended, in one line: status, kind, full id, duration, outcome counts."""
    p = job["progress"]
    took = ""
    if job.get("started") and job.get("finished"):
        took = f" in {eta(max(0.0, job['finished'] - job['started']))}" \
            if job["finished"] - job["started"] >= 1 else \
            f" in {job['finished'] - job['started']:.2f}s"
    counts = f"{number(p['succeeded'])} ok"
    if p["skipped"]:
        counts += f", {number(p['skipped'])} skipped"
    counts += f", {number(p['failed'])} failed"
    return f"{job['status']} {job['kind']} {job['id']}{took}: {number(p['processed'])} items, " \
        f"{counts}"


def _table(title: str | None, width: int) -> Table:
    """A table in the CLI's one style: a header rule, no vertical lines below 100 columns."""
    if width < 100:
        return Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                     collapse_padding=True, title_justify="left")
    return Table(title=title, box=box.ROUNDED, title_justify="left")


def _add(table: Table, *cells: Any) -> None:
    """A row whose strings are plain text: a path or message with [brackets] is no markup."""
    table.add_row(*(Text(c) if isinstance(c, str) else c for c in cells))


def _key(table: Table, name: str, **kw: Any) -> None:
    """A key column: never wraps, never shrinks below its content."""
    table.add_column(name, no_wrap=True, overflow="fold", **kw)


# --- tables ---------------------------------------------------------------------------------


def jobs_table(jobs: list[Job], total: int | None = None, width: int | None = None) -> Table:
    """The ``medialoom jobs`` table; columns fitted to width (the console's by default).

    id, kind, status, percent and path always; processed/total from 70 columns;
    priority, attempts and created from 100; the full id from 140.
    """
    width = width or console.width
    title = f"{len(jobs)} of {total} jobs" if total is not None else None
    table = _table(title, width)
    _key(table, "id")
    _key(table, "kind")
    _key(table, "status")
    _key(table, "done" if width >= 70 else "%", justify="right")
    if width >= 100:
        _key(table, "priority")
        _key(table, "tries", justify="right")
        _key(table, "created")
    table.add_column("path")  # a LeftPath: shrinks first, from the left
    for j in jobs:
        p = j["progress"]
        pct = f"{p['percent']:.0f}%"
        done = f"{pct} {p['processed']}/{p['total']}" if width >= 70 else pct
        row: list[Any] = [j["id"] if width >= 140 else short_id(j["id"]), j["kind"],
                          status_text(j["status"]), done]
        if width >= 100:
            row += [j["priority"], f"{j['attempts']}/{j['max_attempts']}"
                    if j.get("max_attempts") else str(j["attempts"]), when(j["created"])]
        row.append(paths_cell(j["paths"]))
        _add(table, *row)
    return table


def job_detail(job: Job) -> Table:
    """The ``medialoom status`` view."""
    table = Table(show_header=False, box=None)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    p = job["progress"]
    status = status_text(job["status"])
    if job["cancel_requested"] and job["status"] == "running":
        status.append(" (cancel requested)")
    rows: list[tuple[str, Any]] = [
        ("id", job["id"]), ("kind", job["kind"]), ("status", status),
        ("paths", "\n".join(job["paths"]) or "-"),
        ("params", json.dumps(job["params"], ensure_ascii=False)),
        ("priority", job["priority"]), ("dry run", str(job["dry_run"]).lower()),
        ("attempts", f"{job['attempts']} of {job['max_attempts']}"),
        ("progress", f"{p['percent']:.1f}%  {progress_line(job)}"),
        ("current", p["current"] or "-"),
        ("created", when(job["created"])), ("started", when(job["started"])),
        ("finished", when(job["finished"]))]
    if job["error"]:
        rows.append(("error", Text(f"{job['error']['code']}: {job['error']['message']}",
                                   style="red")))
    if job["result"]:
        rows.append(("result", json.dumps(job["result"], ensure_ascii=False, default=str)))
    for k, v in rows:
        _add(table, k, v)
    return table


def _ms(value: float | int | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 10 else f"{value:,.0f}"


def results_table(items: list[dict[str, Any]], total: int, width: int | None = None) -> Table:
    """The ``medialoom results`` table: #, status, file (shortened from the left), message, ms."""
    width = width or console.width
    table = _table(f"{len(items)} of {total} items", width)
    _key(table, "#", justify="right")
    _key(table, "status")
    table.add_column("path")
    table.add_column("message", overflow="fold")
    if width >= 70:
        _key(table, "ms", justify="right")
    for it in items:
        message = it["message"] or ""
        if it["path"] and it["path"] in message:  # the path is in its own column already
            message = message.replace(it["path"], os.path.basename(it["path"]))
        row: list[Any] = [str(it["i"]), item_status_text(it["status"]),
                          LeftPath(it["path"], min_width=20), message]
        if width >= 70:
            row.append(_ms(it.get("duration_ms")))
        _add(table, *row)
    return table


def plan_table(ops: list[dict[str, Any]], total: int, width: int | None = None) -> Table:
    """The ``medialoom plan`` table: old → new (file names only for a rename in place).

    Below 100 columns the message goes under the new name (dimmed) instead of in a
    column of its own, and the op column goes when every row has the same op (the
    title names it).
    """
    width = width or console.width
    narrow = width < 100
    same_op = narrow and len({op["op"] for op in ops}) == 1
    title = f"{len(ops)} of {total} planned operations" + (f" ({ops[0]['op']})" if same_op
                                                          else "")
    table = _table(title, width)
    _key(table, "#", justify="right")
    if not same_op:
        _key(table, "op")
    _key(table, "status")
    table.add_column("old")
    table.add_column("new")
    if not narrow:
        table.add_column("message", overflow="fold")
    for op in ops:
        src, dst = op["src"], op["dst"]
        if dst and os.path.dirname(src) == os.path.dirname(dst):  # a rename in place
            src, dst = os.path.basename(src), os.path.basename(dst)
        message = (op["message"] or "").replace(os.path.dirname(op["src"]) + "/", "")
        new: Any = LeftPath(dst or "-")
        if narrow and message:
            new = Group(new, Text(message, style="dim", overflow="fold"))
        row: list[Any] = [str(op["i"])] + ([] if same_op else [op["op"]])
        row += [item_status_text(op["status"]), LeftPath(src), new]
        if not narrow:
            row.append(message)
        _add(table, *row)
    return table


def stats_table(stats: dict[str, Any]) -> Table:
    """The ``medialoom stats`` view: job-level and item-level figures on separate, labelled rows.

    ``jobs: 12 completed, 1 failed, 2 cancelled — 92.3% of finished jobs succeeded`` (the
    broker's ``success_rate``: completed / (completed + failed); cancelled jobs are not
    counted) and ``items: 10,000 processed, 9,990 ok, 10 failed`` are different figures.
    """
    table = Table(show_header=False, box=None)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    c = stats["counts"]
    jobs = ", ".join(f"{number(c.get(s, 0))} {s}" for s in JOB_STATUSES
                     if s in TERMINAL_STATUSES)
    rate = stats.get("success_rate")
    jobs += (" — no job has finished yet" if rate is None else
             f" — {rate * 100:.1f}% of finished jobs succeeded (cancelled ones not counted)")
    _add(table, "jobs", jobs)
    _add(table, "now", f"{number(c.get('running', 0))} running, "
                  f"{number(c.get('queued', 0))} queued")
    processed = stats.get("items_processed", 0)
    ok, bad = stats.get("items_succeeded"), stats.get("items_failed")
    items = f"{number(processed)} processed"
    if ok is not None and bad is not None:
        skipped = processed - ok - bad
        items += f", {number(ok)} ok" + (f", {number(skipped)} skipped" if skipped > 0 else "")
        items += f", {number(bad)} failed"
        if processed:
            items += f" ({ok / processed * 100:.1f}% of items ok)"
    _add(table, "items", items)
    mean = stats.get("mean_duration_s")
    _add(table, "mean duration", "-" if mean is None else f"{mean:.2f} s per completed job")
    workers = stats.get("workers", [])
    _add(table, "workers", str(len(workers)) if workers else "none connected")
    for w in workers:
        _add(table, "", f"{w['host']}:{w['pid']}  {w['running']}/{w['slots']} busy  "
                      f"{', '.join(w['kinds'])}")
    return table


def _show(value: Any) -> str:
    """A param default as typed on ``--set`` (lists comma-joined, maps as JSON)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        text = ",".join(str(v) for v in value)
        return text if len(text) <= 40 else text[:39] + ELLIPSIS
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return "nil" if value is None else str(value)


def param_summary(param: dict[str, Any]) -> str:
    """``name type = default (one of a, b) [min..max]`` for one param map."""
    text = f"{param['name']} {param.get('type') or '?'}"
    if param.get("required"):
        text += " (required)"
    elif "default" in param:
        text += f" = {_show(param['default'])}"
    if param.get("choices"):
        text += f"  {{{'|'.join(str(c) for c in param['choices'])}}}"
    lo, hi = param.get("min"), param.get("max")
    if lo is not None or hi is not None:
        text += f"  [{'' if lo is None else lo}..{'' if hi is None else hi}]"
    return text


def kinds_table(specs: dict[str, dict[str, Any]], source: str, width: int | None = None) -> Table:
    """The ``medialoom kinds`` table: kind, description, params with type/default/choices."""
    width = width or console.width
    table = _table(f"{len(specs)} job kinds ({source})", width)
    _key(table, "kind")
    table.add_column("description", overflow="fold", max_width=max(16, width // 3))
    table.add_column("params (--set NAME=VALUE)", overflow="fold")
    for name in sorted(specs):
        spec = specs[name]
        flags = []
        if spec.get("needs_paths") is False:
            flags.append("takes no paths")
        if spec.get("changes_files"):
            flags.append("changes files (dry run, rollback)")
        description = spec.get("description") or ""
        if flags:
            description += ("\n" if description else "") + "; ".join(flags)
        params = "\n".join(param_summary(p) for p in spec.get("params", [])) or "-"
        _add(table, name, Text(description, style=""), params)
    return table


# --- live progress --------------------------------------------------------------------------


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
    _add(grid, *(cell for cell, _width in cells))
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


__all__ = ["Board", "LeftPath", "console", "job_detail", "job_lines", "jobs_table",
           "kinds_table", "live_progress", "plain_line", "plain_progress", "plan_table",
           "results_table", "short_id", "shorten_left", "show_progress", "stats_table"]
