"""Plain-text formats of the CLI: times, durations, counts, short ids, paths shortened from the left.

No rich console here: these return strings that the tables (render_tables.py),
the live board and the piped lines (render_live.py) place.  Widths are terminal
cells (rich.cells), so wide characters (CJK) count as two.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from rich.cells import cell_len

#: characters of a job id shown in tables and bars (the random end of the ULID)
SHORT_ID = 8
ELLIPSIS = "…"
Job = dict[str, Any]


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



def show_value(value: Any) -> str:
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
        text += f" = {show_value(param['default'])}"
    if param.get("choices"):
        text += f"  {{{'|'.join(str(c) for c in param['choices'])}}}"
    lo, hi = param.get("min"), param.get("max")
    if lo is not None or hi is not None:
        text += f"  [{'' if lo is None else lo}..{'' if hi is None else hi}]"
    return text



__all__ = ["ELLIPSIS", "SHORT_ID", "eta", "final_line", "number", "param_summary", "progress_line",
           "short_id", "shorten_left", "show_value", "when"]
