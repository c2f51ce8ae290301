"""The CLI's tables: jobs, one job, item results, a plan, stats and the kinds.

Every table fits the terminal it is drawn on (rich reads ``COLUMNS``): the key
columns (id, kind, status, percent) never wrap or shrink, paths are shortened
from the left (``…/Album/01 Track.mp3``) to the room that is left, and less
important columns are dropped on narrow terminals.
"""

from __future__ import annotations

import json
import os
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from medialoom.protocol.constants import JOB_STATUSES, TERMINAL_STATUSES

from .render_formats import number, param_summary, progress_line, short_id, shorten_left, when
from .render_match import candidate_lines

console = Console(stderr=False, highlight=False)
STATUS_STYLE = {"queued": "yellow", "running": "cyan", "completed": "green", "failed": "red",
                "cancelled": "magenta"}
#: item and plan statuses drawn in red (SPEC 6.4: they count as failed)
BAD_ITEM = frozenset({"failed", "conflict", "error", "timeout"})
Job = dict[str, Any]


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



def styled_table(title: str | None, width: int) -> Table:
    """A table in the CLI's one style: a header rule, no vertical lines below 100 columns."""
    if width < 100:
        return Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                     collapse_padding=True, title_justify="left")
    return Table(title=title, box=box.ROUNDED, title_justify="left")


def add_row(table: Table, *cells: Any) -> None:
    """A row whose strings are plain text: a path or message with [brackets] is no markup."""
    table.add_row(*(Text(c) if isinstance(c, str) else c for c in cells))


def key_column(table: Table, name: str, **kw: Any) -> None:
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
    table = styled_table(title, width)
    key_column(table, "id")
    key_column(table, "kind")
    key_column(table, "status")
    key_column(table, "done" if width >= 70 else "%", justify="right")
    if width >= 100:
        key_column(table, "priority")
        key_column(table, "tries", justify="right")
        key_column(table, "created")
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
        add_row(table, *row)
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
    if job.get("waiting"):
        rows.append(("waiting", Text(job["waiting"], style="yellow")))
    if job["error"]:
        rows.append(("error", Text(f"{job['error']['code']}: {job['error']['message']}",
                                   style="red")))
    if job["result"]:
        rows.append(("result", json.dumps(job["result"], ensure_ascii=False, default=str)))
    for k, v in rows:
        add_row(table, k, v)
    return table


def _ms(value: float | int | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 10 else f"{value:,.0f}"


def results_table(items: list[dict[str, Any]], total: int, width: int | None = None) -> Table:
    """The ``medialoom results`` table: #, status, file (shortened from the left), message, ms."""
    width = width or console.width
    table = styled_table(f"{len(items)} of {total} items", width)
    key_column(table, "#", justify="right")
    key_column(table, "status")
    table.add_column("path")
    table.add_column("message", overflow="fold")
    if width >= 70:
        key_column(table, "ms", justify="right")
    for it in items:
        message = it["message"] or ""
        if it["path"] and it["path"] in message:  # the path is in its own column already
            message = message.replace(it["path"], os.path.basename(it["path"]))
        extra = candidate_lines(it)  # match items: the candidates (clients/render_match.py)
        if extra:
            message = f"{message}\n{extra}" if message else extra
        row: list[Any] = [str(it["i"]), item_status_text(it["status"]),
                          LeftPath(it["path"], min_width=20), message]
        if width >= 70:
            row.append(_ms(it.get("duration_ms")))
        add_row(table, *row)
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
    table = styled_table(title, width)
    key_column(table, "#", justify="right")
    if not same_op:
        key_column(table, "op")
    key_column(table, "status")
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
        add_row(table, *row)
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
    add_row(table, "jobs", jobs)
    add_row(table, "now", f"{number(c.get('running', 0))} running, "
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
    add_row(table, "items", items)
    mean = stats.get("mean_duration_s")
    add_row(table, "mean duration", "-" if mean is None else f"{mean:.2f} s per completed job")
    workers = stats.get("workers", [])
    add_row(table, "workers", str(len(workers)) if workers else "none connected")
    for w in workers:
        add_row(table, "", f"{w['host']}:{w['pid']}  {w['running']}/{w['slots']} busy  "
                      f"{', '.join(w['kinds'])}")
    return table


def kinds_table(specs: dict[str, dict[str, Any]], source: str, width: int | None = None) -> Table:
    """The ``medialoom kinds`` table: kind, description, params with type/default/choices."""
    width = width or console.width
    table = styled_table(f"{len(specs)} job kinds ({source})", width)
    key_column(table, "kind")
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
        add_row(table, name, Text(description, style=""), params)
    return table



__all__ = ["BAD_ITEM", "STATUS_STYLE", "LeftPath", "add_row", "console", "item_status_text",
           "job_detail", "jobs_table", "key_column", "kinds_table", "paths_cell", "plan_table",
           "results_table", "stats_table", "status_text", "styled_table"]
