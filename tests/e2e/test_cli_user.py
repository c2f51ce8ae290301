"""What a new user meets in an 80-column terminal (issue 8, item 7), on a real broker.

One broker and two worker processes serve the whole module; every CLI run is a
subprocess with COLUMNS=80 (and a pty where a terminal is the point).
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.cells import cell_len

from tests.support import System, free_ports, make_system

pytestmark = pytest.mark.e2e
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
WIDTH = 80


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    s = make_system(tmp_path_factory.mktemp("cli-user"))
    s.start_broker()
    s.start_worker()
    s.start_worker()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def library(system: System) -> Path:
    """A sample library with deep paths and 3 unreadable files, scanned once."""
    from medialoom.samplelib import generate
    lib = system.root / "A Rather Long Library Folder" / "Music Collection"
    generate(str(lib), 60, corrupt=3)
    return lib


def cli(system: System | None, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "medialoom.clients.cli_main", *args]
    if system is not None:
        argv += ["--endpoint", system.clients, "--events", system.events_out]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": str(WIDTH)})


def in_a_terminal(system: System, *args: str, timeout: float = 60) -> tuple[int, str]:
    """Run the CLI on a pty of 80 columns; (exit code, output without ANSI sequences)."""
    argv = [sys.executable, "-m", "medialoom.clients.cli_main", *args,
            "--endpoint", system.clients, "--events", system.events_out]
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, WIDTH, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR")}
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                            env={**env, "TERM": "xterm-256color"})
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the pty
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=10)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return code, ANSI.sub("", out.decode(errors="replace"))


def lines_of(text: str) -> list[str]:
    return [line for line in re.split(r"\r\n|\n|\r", text) if line.strip()]


def assert_fits(text: str) -> None:
    wide = [line for line in lines_of(text) if cell_len(line.rstrip()) > WIDTH]
    assert not wide, f"lines wider than {WIDTH} columns: {wide}"


@pytest.fixture(scope="module")
def dry_rename(system: System, library: Path) -> str:
    """The id of a dry-run rename of the library (a plan, nothing changed)."""
    out = cli(system, "start", "rename", str(library), "--dry-run", "--watch", "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])["id"]


def scan_job(system: System, library: Path) -> dict:
    """The (one) scan of the library, started the first time it is asked for."""
    done = json.loads(cli(system, "jobs", "--kind", "scan", "--status", "completed",
                          "--json").stdout)
    if done["total"]:
        return done["jobs"][0]
    out = cli(system, "start", "scan", str(library), "--watch", "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


# --- narrow tables and the live bar -----------------------------------------------------------


def test_jobs_and_results_keep_the_key_columns_at_80_columns(system: System,
                                                             library: Path) -> None:
    job = scan_job(system, library)
    jobs = cli(system, "jobs")
    assert jobs.returncode == 0, jobs.stderr
    assert_fits(jobs.stdout)
    row = next(line for line in lines_of(jobs.stdout) if job["id"][-8:] in line)
    assert "scan" in row.split() and "completed" in row.split() and "100%" in row, row
    assert "…/" in row and row.rstrip().endswith("Music Collection"), row  # cut from the left

    failed = cli(system, "results", job["id"][-8:], "--status", "failed")
    assert failed.returncode == 0, failed.stderr
    assert_fits(failed.stdout)
    rows = [line for line in lines_of(failed.stdout) if " failed " in f" {line} "]
    assert len(rows) == 3, failed.stdout
    assert all(re.search(r"Broken \d\.\w+", row) for row in rows), failed.stdout
    assert all("…" in row for row in rows), failed.stdout  # the folders went, the name stayed


def test_the_live_bar_keeps_kind_status_percent_and_file_at_80_columns(system: System,
                                                                      library: Path) -> None:
    code, out = in_a_terminal(system, "start", "scan", str(library), "--watch",
                              "--allow-conflict")
    assert code == 0, out
    assert_fits(out)
    started = re.search(r"started scan job (\w{26})", out)
    assert started, out
    short = started.group(1)[-8:]
    bars = [line for line in lines_of(out) if line.startswith(f"scan {short} ")]
    assert bars, out
    assert any("completed" in b and "100.0%" in b and "60/60" in b for b in bars), bars
    assert re.search(r"…/[^\n]*\.(mp3|flac|wav)", out), out  # the current file, cut from the left


# --- help and kinds -------------------------------------------------------------------------


def _choices(system: System, kind: str, param: str) -> list[str]:
    """The choices the broker's spec gives a param (none before specs are in HELLO)."""
    with system.client() as c:
        spec = (c.hello().get("specs") or {}).get(kind) or {}
    return next((p.get("choices") or [] for p in spec.get("params", []) if p["name"] == param),
                [])


def test_start_help_lists_every_kind_and_its_params(system: System) -> None:
    with system.client() as c:
        kinds = c.hello()["kinds"]
    out = cli(system, "start", "--help")
    assert out.returncode == 0, out.stderr
    assert_fits(out.stdout)
    flat = " ".join(out.stdout.split())
    assert system.clients in flat and "did not answer" not in flat
    for kind in kinds:
        assert re.search(rf"^  {re.escape(kind)}: ", out.stdout, re.M), kind
    assert "on_collision=STR" in out.stdout
    choices = _choices(system, "rename", "on_collision")
    assert not choices or f"one of {', '.join(choices)}" in flat
    assert "min_size=INT" in out.stdout and "seconds=FLOAT" in out.stdout

    one = cli(system, "start", "rename", "--help")
    assert one.returncode == 0 and "template=STR" in one.stdout
    assert "  scan: " not in one.stdout


def test_start_help_without_a_broker_lists_the_installed_kinds() -> None:
    port = free_ports(1)[0]
    out = cli(None, "start", "--help", "--endpoint", f"tcp://127.0.0.1:{port}")
    assert out.returncode == 0, out.stderr
    assert "did not answer" in " ".join(out.stdout.split()) and "  rename: " in out.stdout
    assert "template=STR" in out.stdout


def test_kinds_lists_kinds_with_params_as_a_table_and_as_json(system: System) -> None:
    with system.client() as c:
        kinds = c.hello()["kinds"]
    table = cli(system, "kinds")
    assert table.returncode == 0, table.stderr
    assert_fits(table.stdout)
    first_words = {line.split()[0] for line in lines_of(table.stdout)}
    assert set(kinds) <= first_words, table.stdout
    assert "on_collision str = " in table.stdout
    choices = _choices(system, "rename", "on_collision")
    assert not choices or "{" + "|".join(choices) + "}" in table.stdout
    data = json.loads(cli(system, "kinds", "--json").stdout)
    assert data["source"] == "broker" and set(data["kinds"]) == set(kinds)
    params = {p["name"]: p for p in data["kinds"]["scan"]["params"]}
    assert params["min_size"]["type"] == "int" and params["min_size"]["default"] == 0


# --- short ids ------------------------------------------------------------------------------


def _two_jobs_sharing_a_prefix(system: System) -> tuple[str, str]:
    for _ in range(5):  # ids share their first 6 characters unless a ~17-minute tick falls between
        a = cli(system, "start", "sleep", "--set", "steps=1").stdout.strip()
        b = cli(system, "start", "sleep", "--set", "steps=1").stdout.strip()
        if a[:6] == b[:6]:
            return a, b
    raise AssertionError("no two ids with a common 6-character prefix")


def test_a_unique_prefix_or_suffix_of_6_or_more_characters_names_a_job(system: System) -> None:
    a, b = _two_jobs_sharing_a_prefix(system)
    for given in (a[-6:], a[-8:].lower(), a[:-1], a):
        out = cli(system, "wait", given, "--json")
        assert out.returncode == 0, (given, out.stderr)
        assert json.loads(out.stdout)["id"] == a
    status = cli(system, "status", b[-8:])
    assert status.returncode == 0 and b in status.stdout

    ambiguous = cli(system, "status", a[:6])
    assert ambiguous.returncode == 2
    assert "job.ambiguous" in ambiguous.stderr and a in ambiguous.stderr and b in ambiguous.stderr
    short = cli(system, "status", a[-5:])
    assert short.returncode == 2 and "at least 6 characters" in short.stderr
    unknown = cli(system, "status", "ZZZZZZZZ", "--json")
    assert unknown.returncode == 2 and "job.not_found" in unknown.stderr
    assert json.loads(unknown.stdout)["error"]["code"] == "job.not_found"


def test_every_command_that_takes_a_job_id_takes_a_short_one(system: System, library: Path,
                                                            dry_rename: str) -> None:
    scan = scan_job(system, library)["id"][-8:]
    assert cli(system, "results", scan, "--limit", "1").returncode == 0
    assert cli(system, "watch", scan).returncode == 0  # a finished job: its end, exit 0
    long = cli(system, "start", "sleep", "--set", "seconds=60", "--set", "steps=600")
    job = long.stdout.strip()
    assert cli(system, "cancel", job[-8:]).returncode == 0
    assert cli(system, "wait", job[-8:]).returncode == 3
    cleared = cli(system, "clear", job[-8:], "--json")
    assert cleared.returncode == 0 and json.loads(cleared.stdout) == {"cleared": job}

    plan = cli(system, "plan", dry_rename[-8:], "--json")
    assert plan.returncode == 0 and json.loads(plan.stdout)["total"] == 60
    undo = cli(system, "start", "rollback", "--set", f"job={dry_rename[-8:]}", "--json")
    if undo.returncode == 0:  # the broker was asked about the full id, whatever it answers
        assert json.loads(undo.stdout)["params"]["job"] == dry_rename
    else:
        assert dry_rename in undo.stderr, undo.stderr


# --- stats, statuses, usage -----------------------------------------------------------------


def test_stats_labels_job_level_and_item_level_rates(system: System, library: Path) -> None:
    scan_job(system, library)
    cli(system, "start", "sleep", "--set", "fail=true", "--watch")
    with system.client() as c:  # nothing in flight, so both views count the same jobs
        system.wait_for(lambda: not sum(c.stats()["counts"][s] for s in ("queued", "running")),
                        "no queued or running job")
    stats = json.loads(cli(system, "stats", "--json").stdout)
    out = cli(system, "stats")
    assert out.returncode == 0
    assert_fits(out.stdout)
    text = " ".join(out.stdout.split())
    c = stats["counts"]
    rate = stats["success_rate"] * 100
    assert (f"jobs {c['completed']:,} completed, {c['failed']:,} failed, {c['cancelled']:,} "
            f"cancelled — {rate:.1f}% of finished jobs succeeded") in text, text
    assert (f"items {stats['items_processed']:,} processed, {stats['items_succeeded']:,} ok"
            in text), text
    assert f"{stats['items_failed']:,} failed" in text and stats["items_failed"] >= 3
    assert "success rate" not in text


def test_unknown_statuses_and_kinds_exit_2_naming_the_valid_ones(
        system: System, library: Path, dry_rename: str) -> None:
    job = scan_job(system, library)["id"]
    nope = cli(system, "results", job, "--status", "nope")
    assert nope.returncode == 2 and nope.stdout == ""
    assert "unknown item status 'nope'" in nope.stderr and "failed" in nope.stderr
    assert "this job's items have: failed, ok" in nope.stderr
    declared = cli(system, "results", job, "--status", "renamed")  # known, just none here
    assert declared.returncode == 0 and "0 of 0 items" in declared.stdout

    jobs = cli(system, "jobs", "--status", "nope")
    assert jobs.returncode == 2
    assert "queued, running, completed, failed, cancelled" in jobs.stderr
    assert cli(system, "jobs", "--status", "failed,cancelled").returncode == 0
    kind = cli(system, "jobs", "--kind", "scna")
    assert kind.returncode == 2 and "unknown kind 'scna'" in kind.stderr
    plan = cli(system, "plan", dry_rename, "--status", "nope")
    assert plan.returncode == 2 and "unknown operation status 'nope'" in plan.stderr
    assert "planned" in plan.stderr
    assert cli(system, "plan", dry_rename, "--status", "conflict").returncode == 0


def test_usage_errors_exit_2_even_without_a_broker(system: System) -> None:
    port = free_ports(1)[0]
    dead = ["--endpoint", f"tcp://127.0.0.1:{port}", "--timeout", "0.5"]
    no_eq = cli(None, "start", "scan", "/x", "--set", "min_size", *dead)
    assert no_eq.returncode == 2 and "--set needs KEY=VALUE, got 'min_size'" in no_eq.stderr
    no_key = cli(None, "start", "scan", "/x", "--set", "=3", *dead)
    assert no_key.returncode == 2
    bad_value = cli(system, "start", "scan", str(system.root), "--set", "min_size=lots")
    assert bad_value.returncode == 2 and "job.bad_params" in bad_value.stderr
    assert cli(None, "jobs", "--order", "sideways", *dead).returncode == 2


# --- watch: piped and NDJSON ----------------------------------------------------------------


def test_piped_watch_prints_a_plain_line_per_change_about_once_a_second(system: System) -> None:
    started = time.monotonic()
    out = cli(system, "start", "sleep", "--set", "seconds=3", "--set", "steps=300", "--watch")
    took = time.monotonic() - started
    assert out.returncode == 0, out.stderr
    assert "\x1b" not in out.stdout
    lines = lines_of(out.stdout)
    job = re.search(r"started sleep job (\w{26})", out.stderr).group(1)
    progress = [line for line in lines if f" sleep {job[-8:]} " in line]
    # 300 changes in ~3 s, printed about once a second (plus the changes of status)
    assert 3 <= len(progress) <= took + 4, lines
    assert "running" in progress[0] and "completed 100.0% 300/300" in progress[-1], progress
    assert lines[-1].startswith(f"completed sleep {job}")

    # watch of a job already running (a short id): its progress lines, then how it ended;
    # on a loaded machine the CLI may start late, so the job runs long and one line suffices
    running = cli(system, "start", "sleep", "--set", "seconds=6", "--set", "steps=60")
    job = running.stdout.strip()
    watched = cli(system, "watch", job[-8:])
    assert watched.returncode == 0
    watch_lines = lines_of(watched.stdout)
    assert any(f" sleep {job[-8:]} " in line for line in watch_lines), watch_lines
    assert watch_lines[-1].startswith(f"completed sleep {job}"), watch_lines


def test_streaming_json_is_ndjson_one_object_per_change(system: System) -> None:
    out = cli(system, "start", "sleep", "--set", "seconds=1", "--set", "steps=20", "--watch",
              "--json")
    assert out.returncode == 0, out.stderr
    states = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(states) >= 2 and states[-1]["status"] == "completed"
    seqs = [s["seq"] for s in states]
    assert seqs == sorted(set(seqs))
    watched = cli(system, "watch", states[-1]["id"][-8:], "--json")
    assert watched.returncode == 0
    assert json.loads(watched.stdout.strip())["status"] == "completed"  # one line: the end
