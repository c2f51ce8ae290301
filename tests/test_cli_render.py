"""The CLI's terminal output at 60, 80 and 200 columns, without processes.

Key fields (id, kind, status, percent, file name) must survive a narrow terminal in
full; paths are shortened from the left; no line is wider than the terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from rich.console import Console

from medialoom.clients import (
    cli_kinds,
    cli_outcome,
    cli_parser,
    render_formats,
    render_live,
    render_tables,
)

LONG = ("/srv/media/music/Some Artist Name/The Long Album Title (Deluxe Edition) [2011]/"
        "01 A Track With A Long Name.mp3")
CJK = "/srv/media/music/坂本龍一/Lights Signal Neon (2007)/91 - 坂本龍一 Broken.flac"


def job(n: int = 1, kind: str = "scan", status: str = "running", total: int = 1000,
        processed: int = 450, current: str = LONG) -> dict[str, Any]:
    return {"id": f"01KB2X3Y4Z5Q0DMSCHR{n:03d}ABCD", "kind": kind, "status": status,
            "priority": "normal", "attempts": 1, "max_attempts": 3, "created": time.time(),
            "started": time.time() - 5, "finished": None, "dry_run": False,
            "paths": ["/srv/media/music/Some Artist Name/The Long Album Title (Deluxe Edition)"],
            "params": {}, "cancel_requested": False, "error": None, "result": None, "seq": 3,
            "progress": {"total": total, "processed": processed, "succeeded": processed - 3,
                         "skipped": 1, "failed": 2, "remaining": total - processed,
                         "percent": 100 * processed / total if total else 0.0, "rate": 123.4,
                         "eta_seconds": 44.2, "current": current}}


JOBS = [job(1), job(2, "audio-default", "completed", processed=1000),
        job(3, "rename", "cancelled", total=0, processed=0, current=CJK), job(4, "dedupe", "queued")]


def draw(renderable: Any, width: int) -> list[str]:
    c = Console(width=width, record=True, color_system=None, file=io.StringIO())
    c.print(renderable)
    return c.export_text().rstrip("\n").split("\n")


def fits(lines: list[str], width: int) -> None:
    wide = [line for line in lines if cell_len(line.rstrip()) > width]
    assert not wide, f"lines wider than {width}: {wide}"


@pytest.mark.parametrize(("path", "width", "expected"), [
    ("/srv/music/Artist/Album/01 Track.mp3", 40, "/srv/music/Artist/Album/01 Track.mp3"),
    ("/srv/music/Artist/Album/01 Track.mp3", 22, "…/Album/01 Track.mp3"),
    ("/srv/music/Artist/Album/01 Track.mp3", 15, "…/01 Track.mp3"),
    ("/srv/music/Artist/Album/01 Track.mp3", 10, "…Track.mp3"),
    ("/a/坂本龍一.flac", 9, "…一.flac"),  # wide characters count two cells
    ("Artist - A Very Long Title.mp3", 20, "Artist - A …itle.mp3"),  # a bare name: both ends
])
def test_paths_are_shortened_from_the_left(path: str, width: int, expected: str) -> None:
    out = render_formats.shorten_left(path, width)
    assert out == expected
    assert cell_len(out) <= width


@pytest.mark.parametrize("width", [60, 80, 200])
def test_jobs_table_keeps_id_kind_status_and_percent(width: int) -> None:
    lines = draw(render_tables.jobs_table(JOBS, 4, width=width), width)
    fits(lines, width)
    text = "\n".join(lines)
    for j in JOBS:
        row = next(line for line in lines if render_formats.short_id(j["id"]) in line)
        assert j["kind"] in row and j["status"] in row, row
        assert f"{j['progress']['percent']:.0f}%" in row, row
        assert "…" in row or width == 200, row  # the path, shortened from the left
        assert "Deluxe Edition)" in row, row  # ... keeping its end
    if width >= 140:
        assert JOBS[0]["id"] in text


@pytest.mark.parametrize("width", [60, 80, 200])
def test_results_table_keeps_status_and_the_file_name(width: int) -> None:
    items = [{"i": 12, "status": "failed", "path": LONG, "message": f"cannot read {LONG}: "
              "file is truncated", "duration_ms": 3.25},
             {"i": 13, "status": "quarantined", "path": CJK, "message": "", "duration_ms": 1234.5}]
    lines = draw(render_tables.results_table(items, 2, width=width), width)
    fits(lines, width)
    text = "\n".join(lines)
    assert "failed" in text and "quarantined" in text
    assert "Name.mp3" in text and "Broken.flac" in text
    if width < 200:
        assert "…/" in text or "…" in text


@pytest.mark.parametrize("width", [60, 80, 200])
def test_the_live_board_keeps_kind_id_status_percent_and_the_file(width: int) -> None:
    board = render_live.Board()
    for j in JOBS:
        board.update(j)
    lines = draw(board, width)
    fits(lines, width)
    text = "\n".join(lines)
    for j in JOBS:
        head = next(line for line in lines if render_formats.short_id(j["id"]) in line)
        assert head.startswith(j["kind"]) and j["status"] in head, head
        pct = "100.0%" if j["status"] == "completed" else f"{j['progress']['percent']:.1f}%"
        assert pct in head, head
    assert "Name.mp3" in text and "Broken.flac" in text


@pytest.mark.parametrize("width", [60, 80, 200])
def test_plan_table_keeps_status_and_both_names_and_the_message(width: int) -> None:
    folder = "/srv/media/music/Some Artist Name/The Long Album Title (Deluxe Edition)"
    ops = [{"i": 0, "op": "rename", "src": f"{folder}/01 Track.mp3",
            "dst": f"{folder}/Some Artist Name - A Fairly Long Title.mp3", "status": "planned",
            "message": ""},
           {"i": 1, "op": "rename", "src": f"{folder}/zz copy.mp3",
            "dst": f"{folder}/Some Artist Name - A Fairly Long Title.mp3", "status": "conflict",
            "message": "name taken: another file of this job is planned to it"}]
    lines = draw(render_tables.plan_table(ops, 2, width=width), width)
    fits(lines, width)
    text = " ".join(" ".join(lines).split())
    assert "planned" in text and "conflict" in text and "01 Track.mp3" in text
    assert "Title.mp3" in text and "Some Artist" in text  # both ends of the new name
    assert "name taken: another file of this job is planned to it" in text


def test_markup_in_paths_and_messages_is_shown_as_text() -> None:
    items = [{"i": 0, "status": "ok", "path": "/m/Album [Deluxe]/[bold]x.mp3",
              "message": "[red]not a style[/red]", "duration_ms": 1}]
    text = "\n".join(draw(render_tables.results_table(items, 1, width=200), 200))
    assert "[Deluxe]/[bold]x.mp3" in text and "[red]not a style[/red]" in text


def test_stats_labels_job_and_item_rates_apart() -> None:
    stats = {"counts": {"queued": 0, "running": 1, "completed": 12, "failed": 1, "cancelled": 2},
             "items_processed": 10_000, "items_succeeded": 9_990, "items_failed": 10,
             "success_rate": 0.9231, "mean_duration_s": 2.31, "workers": []}
    text = " ".join(" ".join(draw(render_tables.stats_table(stats), 200)).split())
    assert "jobs 12 completed, 1 failed, 2 cancelled — 92.3% of finished jobs succeeded" in text
    assert "items 10,000 processed, 9,990 ok, 10 failed" in text
    assert "success rate" not in text


def test_start_help_text_fits_80_columns() -> None:
    specs = {"rename": cli_kinds.normalize_spec("rename", {
        "description": "rename audio files from their tags", "changes_files": True,
        "params": [{"name": "on_collision", "type": "str", "default": "skip",
                    "choices": ["skip", "counter"], "description": "a name already taken"},
                   {"name": "a_very_long_parameter_name_indeed", "type": "int", "min": 0}]})}
    text = cli_kinds.kinds_help(specs, "from the broker at tcp://127.0.0.1:5570", 80)
    fits(text.split("\n"), 80)
    assert "on_collision=STR" in text and "one of skip, counter" in text
    assert "a_very_long_parameter_name_indeed=INT" in text and "range 0.." in text


@pytest.mark.parametrize(("type_", "text", "value"), [
    ("int", "1_000", 1000), ("float", "2.5", 2.5), ("float", "3", 3.0), ("bool", "yes", True),
    ("bool", "off", False), ("list", "mp3,flac", ["mp3", "flac"]), ("list", '["a,b"]', ["a,b"]),
    ("map", '{"audio": ["mp3"]}', {"audio": ["mp3"]}), ("str", "{artist}", "{artist}"),
    ("int", "many", "many"),  # the broker refuses it with job.bad_params naming the field
])
def test_set_values_take_the_type_of_the_spec(type_: str, text: str, value: Any) -> None:
    assert cli_kinds.coerce({"name": "x", "type": type_}, text) == value


def test_set_without_equals_is_a_usage_error() -> None:
    with pytest.raises(cli_outcome.UsageError, match="KEY=VALUE"):
        cli_kinds.split_pairs(["min_size"])
    assert cli_kinds.split_pairs(["template={artist}={title}"]) == [("template", "{artist}={title}")]


async def _updates(states: list[tuple[float, dict[str, Any]]]) -> AsyncIterator[dict[str, Any]]:
    for delay, state in states:
        await asyncio.sleep(delay)
        yield state


def test_plain_progress_prints_changes_at_most_once_per_interval() -> None:
    states = [(0.0, job(processed=i)) for i in range(1, 30)]  # a burst: one line, then one more
    states.append((0.0, job(status="completed", processed=1000)))  # a status change: at once
    out = io.StringIO()
    last = asyncio.run(render_live.plain_progress(_updates(states), out, interval_s=0.3))
    lines = out.getvalue().splitlines()
    assert last is not None and last["status"] == "completed"
    assert len(lines) == 2, lines
    assert " running 0.1% " in lines[0] and " completed 100.0% " in lines[1]


def test_plain_progress_prints_a_throttled_update_when_its_interval_is_up() -> None:
    states = [(0.0, job(processed=1)), (0.0, job(processed=2)), (1.0, job(processed=3))]
    out = io.StringIO()
    asyncio.run(render_live.plain_progress(_updates(states), out, interval_s=0.3))
    lines = out.getvalue().splitlines()
    assert [line.split()[5] for line in lines] == ["1/1000", "2/1000", "3/1000"], lines


ROOT = Path(__file__).resolve().parent.parent


def _commands() -> set[str]:
    parser = cli_parser.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def test_readme_command_table_lists_exactly_the_cli_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("| `medialoom ")]
    named = set()
    for row in rows:
        cell = row.split("|")[1]
        named |= set(re.findall(r"`medialoom ([a-z]+)", cell))
        named |= set(re.findall(r"/ `([a-z]+) ID`", cell))  # `status ID` / `cancel ID` / ...
    assert named == _commands()


def test_cli_and_render_modules_stay_small() -> None:
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines())
             for p in (ROOT / "clients").glob("*.py")}
    assert {"cli.py", "cli_parser.py", "render_tables.py", "render_live.py"} <= set(sizes)
    assert not {name: n for name, n in sizes.items() if n > 400}
