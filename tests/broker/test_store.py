"""The SQLite writer thread on a real file: it survives a bad write, counts rows, stays private."""

from __future__ import annotations

import dataclasses
import os
import queue
import sqlite3
import stat
from pathlib import Path
from typing import Any

from medialoom.broker.jobs import Job, job_row
from medialoom.broker.store import Store, connect, load_active


def run_store(path: Path) -> tuple[Store, queue.Queue[Any]]:
    done: queue.Queue[Any] = queue.Queue()
    store = Store(str(path))
    store.start(lambda writes, reads: done.put((writes, reads)), lambda: done.put("fatal"))
    return store, done


def next_batch(done: queue.Queue[Any]) -> Any:
    return done.get(timeout=10)


def job(job_id: str) -> Job:
    return Job(id=job_id, kind="sleep", paths=[], params={}, priority=2, dry_run=False,
               created=1.0, max_attempts=3)


def test_a_failing_write_is_reported_and_the_writer_goes_on(tmp_path: Path) -> None:
    store, done = run_store(tmp_path / "s.sqlite3")
    try:
        store.write((("job", job_row(job("A"))),), "a")
        assert next_batch(done)[0] == [("a", True)]
        # a row the database cannot take (an unbindable value) fails alone
        store.write((("items", (("A", 0, object(), "ok", "", 0, {}),)),), "bad")
        store.write((("job", job_row(job("B"))),), "b")
        seen: dict[str, bool] = {}
        while len(seen) < 2:
            for then, ok in next_batch(done)[0]:
                seen[then] = ok
        assert seen == {"bad": False, "b": True}
        assert store.alive and store.failures == 1
        store.read("tally", ("A",), 7)
        while True:
            writes, reads = next_batch(done)
            if reads:
                break
        assert reads == [(7, (0, 0, -1, -1))]
    finally:
        store.stop()
    assert {j.id for j in load_active(str(tmp_path / "s.sqlite3"))} == {"A", "B"}


def test_plan_and_item_rows_are_counted(tmp_path: Path) -> None:
    store, done = run_store(tmp_path / "s.sqlite3")
    try:
        plan = tuple(("A", i, "move", f"/a/{i}", f"/b/{i}", {}, "planned", "", {})
                     for i in (0, 1, 3))
        items = tuple(("A", i, f"/a/{i}", "moved", "", 1, {}) for i in (0, 1))
        store.write((("job", job_row(job("A"))), ("plan", plan), ("items", items)), None)
        store.read("plan_check", ("A",), 1)
        store.read("tally", ("A",), 2)
        got: dict[int, Any] = {}
        while len(got) < 2:
            got.update(dict(next_batch(done)[1]))
        assert got == {1: (3, 0, 3), 2: (2, 3, 0, 3)}
    finally:
        store.stop()


def test_an_old_store_gets_the_new_column_and_private_modes(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE jobs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, paths TEXT, "
                 "params TEXT, priority INTEGER, dry_run INTEGER, status TEXT NOT NULL, "
                 "attempts INTEGER, max_attempts INTEGER, created REAL, started REAL, "
                 "updated REAL, finished REAL, error TEXT, cancel_requested INTEGER, seq "
                 "INTEGER, result TEXT, total INTEGER, processed INTEGER, succeeded INTEGER, "
                 "skipped INTEGER, failed INTEGER, current TEXT, rate REAL, planned INTEGER)")
    conn.close()
    os.chmod(path, 0o644)
    connect(str(path)).close()
    columns = {row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(jobs)")}
    assert "batches" in columns
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_writer_that_cannot_write_at_all_stops_loudly(tmp_path: Path) -> None:
    from medialoom.broker.store import MAX_FAILED_BATCHES

    store, done = run_store(tmp_path / "s.sqlite3")
    bad = (("items", (("A", 0, object(), "ok", "", 0, {}),)),)
    for _ in range(MAX_FAILED_BATCHES - 1):
        store.write(bad, None)
        assert next_batch(done)[0] == [(None, False)]
    store.write(bad, None)
    assert next_batch(done) == "fatal"
    store._thread.join(timeout=10)
    assert not store.alive


def test_a_plan_page_says_whether_the_stored_plan_is_complete(tmp_path: Path) -> None:
    """PLAN of a job no longer in the broker's memory reads `complete` from the store."""
    store, done = run_store(tmp_path / "s.sqlite3")
    try:
        planned = job("A")
        planned.planned = True
        plan = (("A", 0, "move", "/a/0", "/b/0", {}, "planned", "", {}),)
        store.write((("job", job_row(planned)), ("job", job_row(job("B"))), ("plan", plan)),
                    None)
        store.read("plan_page", ("A", (), 10, 0), 1)
        store.read("plan_page", ("B", (), 10, 0), 2)
        store.read("plan_page", ("C", (), 10, 0), 3)
        got: dict[int, Any] = {}
        while len(got) < 3:
            got.update(dict(next_batch(done)[1]))
        assert got[1][1:] == (1, True) and got[2][1:] == (0, False) and got[3] is None
    finally:
        store.stop()


def test_a_job_row_comes_back_from_the_store_as_it_was_written(tmp_path: Path) -> None:
    """Every column through the one-statement upsert (a JSON array unpacked by SQLite):
    text with quotes, NULs and non-ASCII, floats that need all 17 digits, booleans, nil,
    64-bit integers, maps; a second row of the same job replaces the first except that a
    cancel request is never taken back."""
    from medialoom.broker.jobs import job_map

    path = tmp_path / "s.sqlite3"
    first = Job(id="J1", kind="rename", paths=['/lib/"quoted"\u00e9\u0000/x', "/lib/\U0001f3b5"],
                params={"template": "{artist} - {title}", "n": 2**63 - 1, "f": 0.1 + 0.2,
                        "neg": -(2**63), "nested": {"a": [1, None, True, "\\"]}},
                priority=1, dry_run=True, created=1_764_000_000.123456789, max_attempts=5,
                status="running", attempts=2, started=1_764_000_001.5, updated=1_764_000_002.25,
                error={"code": "x.y", "message": "line\nbreak"}, cancel_requested=True,
                seq=7, result={"files": 3, "ratio": 1e-300}, total=10, processed=4,
                succeeded=3, skipped=1, failed=0, current="/lib/\u00e9", rate=12.5,
                planned=True, batches=3, retry_of="J0")
    again = dataclasses.replace(first, cancel_requested=False, status="queued")
    store, done = run_store(path)
    try:
        store.write((("job", job_row(first)),), "a")
        assert next_batch(done)[0] == [("a", True)]
        store.write((("job", job_row(again)),), "b")
        assert next_batch(done)[0] == [("b", True)]
    finally:
        store.stop()
    (back,) = load_active(str(path))
    want = job_map(again)
    want["cancel_requested"] = True
    assert job_map(back) == want
    assert type(job_map(back)["created"]) is float and back.created == first.created
