"""Terminal output of the CLI: tables and live progress bars (rich)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.table import Table

console = Console(stderr=False, highlight=False)
STATUS_STYLE = {"queued": "yellow", "running": "cyan", "completed": "green", "failed": "red",
                "cancelled": "magenta"}


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


def progress_line(job: dict[str, Any]) -> str:
    """processed/total, rate and ETA of a job in one string."""
    p = job["progress"]
    return (f"{p['processed']}/{p['total']}  {p['rate']:.1f}/s  ETA {eta(p['eta_seconds'])}"
            f"  ok {p['succeeded']} skip {p['skipped']} fail {p['failed']}")


def jobs_table(jobs: list[dict[str, Any]], total: int | None = None) -> Table:
    """The ``medialoom jobs`` table."""
    title = f"{len(jobs)} of {total} jobs" if total is not None else None
    table = Table(title=title, show_lines=False)
    for col in ("id", "kind", "status", "priority", "progress", "attempts", "created", "path"):
        table.add_column(col, no_wrap=col in ("id", "status"))
    for j in jobs:
        p = j["progress"]
        style = STATUS_STYLE.get(j["status"], "")
        table.add_row(j["id"], j["kind"], f"[{style}]{j['status']}[/]", j["priority"],
                      f"{p['percent']:.0f}% {p['processed']}/{p['total']}", str(j["attempts"]),
                      when(j["created"]), ", ".join(j["paths"])[:60])
    return table


def job_detail(job: dict[str, Any]) -> Table:
    """The ``medialoom status`` view."""
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    p = job["progress"]
    rows = [("id", job["id"]), ("kind", job["kind"]),
            ("status", f"[{STATUS_STYLE.get(job['status'], '')}]{job['status']}[/]"
             + (" (cancel requested)" if job["cancel_requested"] and job["status"] == "running"
                else "")),
            ("paths", "\n".join(job["paths"]) or "-"), ("params", str(job["params"])),
            ("priority", job["priority"]), ("dry run", str(job["dry_run"])),
            ("attempts", f"{job['attempts']} of {job['max_attempts']}"),
            ("progress", f"{p['percent']:.1f}%  {progress_line(job)}"),
            ("current", p["current"] or "-"),
            ("created", when(job["created"])), ("started", when(job["started"])),
            ("finished", when(job["finished"]))]
    if job["error"]:
        rows.append(("error", f"[red]{job['error']['code']}: {job['error']['message']}[/]"))
    if job["result"]:
        rows.append(("result", str(job["result"])))
    for k, v in rows:
        table.add_row(k, v)
    return table


def results_table(items: list[dict[str, Any]], total: int) -> Table:
    """The ``medialoom results`` table."""
    table = Table(title=f"{len(items)} of {total} items")
    for col in ("#", "status", "path", "message", "ms"):
        table.add_column(col)
    for it in items:
        style = "red" if it["status"] in ("failed", "conflict", "error") else ""
        table.add_row(str(it["i"]), f"[{style}]{it['status']}[/]" if style else it["status"],
                      it["path"], it["message"], f"{it['duration_ms']:.1f}")
    return table


def plan_table(ops: list[dict[str, Any]], total: int) -> Table:
    """The ``medialoom plan`` table: old -> new, conflicts in red."""
    table = Table(title=f"{len(ops)} of {total} planned operations")
    for col in ("#", "op", "status", "old", "new", "message"):
        table.add_column(col)
    for op in ops:
        style = "red" if op["status"] in ("conflict", "failed") else ""
        status = f"[{style}]{op['status']}[/]" if style else op["status"]
        src, dst = op["src"], op["dst"]
        if dst and os.path.dirname(src) == os.path.dirname(dst):  # a rename in place
            src, dst = os.path.basename(src), os.path.basename(dst)
        table.add_row(str(op["i"]), op["op"], status, src, dst, op["message"].replace(
            os.path.dirname(op["src"]) + "/", ""))
    return table


def stats_table(stats: dict[str, Any]) -> Table:
    """The ``medialoom stats`` view."""
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for status, n in stats["counts"].items():
        table.add_row(status, str(n))
    rate = stats["success_rate"]
    table.add_row("items processed", str(stats["items_processed"]))
    table.add_row("success rate", "-" if rate is None else f"{rate * 100:.1f}%")
    mean = stats["mean_duration_s"]
    table.add_row("mean duration", "-" if mean is None else f"{mean:.2f} s")
    for w in stats.get("workers", []):
        table.add_row("worker", f"{w['host']}:{w['pid']} {w['running']}/{w['slots']} "
                      f"{', '.join(w['kinds'])}")
    return table


def _bar() -> Progress:
    return Progress(TextColumn("[bold]{task.fields[label]}"), BarColumn(),
                    TextColumn("{task.percentage:>5.1f}%"), TextColumn("{task.fields[line]}"),
                    TextColumn("[dim]{task.fields[current]}"), console=console,
                    auto_refresh=True, refresh_per_second=10)


async def live_progress(updates: AsyncIterator[dict[str, Any]]) -> dict[str, Any] | None:
    """Show a progress bar per job while updates arrive; returns the last job map."""
    last: dict[str, Any] | None = None
    tasks: dict[str, TaskID] = {}
    with _bar() as bar:
        async for job in updates:
            last = job
            p = job["progress"]
            label = f"{job.get('kind', '')} {job['id'][-6:]} {job['status']}"
            fields = {"label": label, "line": progress_line(job),
                      "current": (p.get("current") or "")[-50:]}
            total = p["total"] or (1 if job["status"] in ("completed",) else None)
            done = p["processed"] if p["total"] else (1 if job["status"] == "completed" else 0)
            if job["id"] not in tasks:
                tasks[job["id"]] = bar.add_task("", total=total, completed=done, **fields)
            else:
                bar.update(tasks[job["id"]], total=total, completed=done, **fields)
    return last


__all__ = ["console", "job_detail", "jobs_table", "live_progress", "plan_table", "results_table",
           "stats_table"]
