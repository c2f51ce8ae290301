"""The ``medialoom workers`` table: every connected worker process (STATS ``workers``)."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from .render_formats import short_id
from .render_tables import add_row, console, key_column, styled_table


def mapping_lines(path_map: list[list[str]]) -> str:
    """``/srv/media -> /mnt/media`` per line; "-" for a worker that sees library paths as is."""
    return "\n".join(f"{lib} -> {local}" for lib, local in path_map) or "-"


def workers_table(workers: list[dict[str, Any]], waiting: int = 0,
                  width: int | None = None) -> Table:
    """host, pid, kinds, busy slots, the jobs it runs and its path mappings, one row each.

    The kinds column is dropped below 90 columns and the jobs column below 120.
    """
    width = width or console.width
    title = f"{len(workers)} worker process{'es' if len(workers) != 1 else ''}"
    if waiting:
        title += f"; {waiting} queued job{'s' if waiting != 1 else ''} no worker can reach"
    table = styled_table(title, width)
    key_column(table, "host")
    key_column(table, "pid", justify="right")
    key_column(table, "running", justify="right")
    if width >= 90:
        table.add_column("kinds", overflow="fold", max_width=28)
    if width >= 120:
        table.add_column("jobs", overflow="fold")
    table.add_column("path map (library -> here)", overflow="fold")
    for w in sorted(workers, key=lambda w: (w["host"], w["pid"])):
        busy = Text(f"{w['running']}/{w['slots']}",
                    style="yellow" if w["running"] >= w["slots"] else "")
        cells: list[Any] = [w["host"], str(w["pid"]), busy]
        if width >= 90:
            cells.append(", ".join(w["kinds"]))
        if width >= 120:
            cells.append(" ".join(short_id(j) for j in w.get("jobs", [])) or "-")
        cells.append(mapping_lines(w.get("path_map") or []))
        add_row(table, *cells)
    return table
