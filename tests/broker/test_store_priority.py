"""Control-plane writes commit ahead of queued item rows, and the order per job holds.

No timing: the writer is started only after everything is queued, and the
order of its commits is what is checked (issue 9, item 1; SPEC.md 7.3).
"""

from __future__ import annotations

import queue
from dataclasses import replace
from pathlib import Path
from typing import Any

from medialoom.broker import store as store_module
from medialoom.broker.jobs import job_row
from medialoom.broker.store import DATA_ROWS_PER_COMMIT, Store, connect, load_active
from tests.broker.test_store import job

ROWS = 1000


def items(job_id: str, start: int, n: int = ROWS) -> tuple[tuple[Any, ...], ...]:
    return tuple((job_id, i, f"/a/{i}", "ok", "", 1, {}) for i in range(start, start + n))


def commits(store: Store, then_count: int) -> list[list[Any]]:
    """Run the writer over what is queued; the ``then`` of each commit, in commit order."""
    done: queue.Queue[Any] = queue.Queue()
    store.start(lambda writes, reads: done.put([t for t, ok in writes if ok] + [r[0] for r in reads]))
    out: list[list[Any]] = []
    while sum(len(c) for c in out) < then_count:
        out.append(done.get(timeout=30))
    store.stop()
    return out


def test_start_and_cancel_commit_before_50000_queued_item_rows(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sqlite3")
    store = Store(path)
    streaming = job("A")
    store.write((("job", job_row(streaming)),), "A created")
    for batch in range(50):  # 50,000 item rows of job A queued
        progressed = replace(streaming, processed=(batch + 1) * ROWS)
        store.write((("items", items("A", batch * ROWS)), ("job", job_row(progressed))),
                    f"A items {batch}")
    store.write((("job", job_row(job("B"))),), "B started")  # a START
    store.write((("cancel_flag", "A"),), "A cancel")  # a CANCEL of the streaming job
    order = commits(store, 53)
    first = order[0]
    assert "B started" in first and "A cancel" in first
    # the first commit took at most its row budget of A's items, the rest came after
    assert sum(t.startswith("A items") for t in first) <= DATA_ROWS_PER_COMMIT // ROWS + 1
    flat = [t for c in order for t in c]
    assert [t for t in flat if t.startswith("A items")] == [f"A items {b}" for b in range(50)]
    with connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 50 * ROWS
    # the job rows of A's item batches, older than the flag, did not take the cancel back
    recovered = {j.id: j for j in load_active(path)}
    assert recovered["A"].cancel_requested and recovered["A"].processed == 50 * ROWS


def test_a_job_row_or_read_about_a_job_waits_for_that_job_s_items(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sqlite3")
    store = Store(path)
    store.write((("job", job_row(job("A"))),), "A created")
    store.write((("job", job_row(job("C"))),), "C created")
    for batch in range(10):
        store.write((("items", items("A", batch * ROWS)),), f"A items {batch}")
        store.write((("items", items("C", batch * ROWS)),), f"C items {batch}")
    store.write((("job", job_row(replace(job("A"), status="completed"))),), "A finished")
    store.write((("barrier", "C"),), "C barrier")
    store.read("tally", ("C",), "C tally")
    order = commits(store, 2 + 20 + 3)
    flat = [t for c in order for t in c]
    # each job's writes in the order they were queued
    for name in ("A", "C"):
        mine = [t for t in flat if t.startswith(name)]
        assert mine[-1] in ("A finished", "C tally")
        assert [t for t in mine if "items" in t] == [f"{name} items {b}" for b in range(10)]
    assert flat.index("A finished") > flat.index("A items 9")
    assert flat.index("C barrier") > flat.index("C items 9")
    assert flat.index("C tally") > flat.index("C items 9")


def test_a_control_write_that_arrives_during_an_item_transaction_ends_it_early(
        tmp_path: Path, monkeypatch: Any) -> None:
    """The writer leaves the rest of a transaction's item rows for later when a START comes
    in while it inserts them: the START waits for one chunk of ROW_CHUNK rows, not for the
    rest of the ITEMS batch nor the row budget; the batch's ACK waits for all its rows."""
    path = str(tmp_path / "s.sqlite3")
    store = Store(path)
    real_connect = store_module.connect

    def connect_traced(*args: Any) -> Any:
        conn = real_connect(*args)

        def trace(statement: str) -> None:
            if "INTO items" in statement and not injected:
                injected.append(statement)
                store.write((("job", job_row(job("B"))),), "B started")  # arrives meanwhile
        conn.set_trace_callback(trace)
        return conn

    injected: list[str] = []
    monkeypatch.setattr(store_module, "connect", connect_traced)
    store.write((("job", job_row(job("A"))),), "A created")
    for batch in range(20):
        store.write((("items", items("A", batch * 256, 256)),), f"A items {batch}")
    order = commits(store, 22)
    flat = [t for c in order for t in c]
    assert injected, "the writer never inserted item rows"
    assert order[0] == ["A created"]  # ended after one chunk of A items 0: not acked yet
    assert order[1] == ["B started"]  # alone, ahead of the rest
    assert order[2][0] == "A items 0"  # then the rest of that batch, first
    assert [t for t in flat if t.startswith("A items")] == [f"A items {b}" for b in range(20)]
    with connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 20 * 256


def test_the_wal_starts_over_after_the_writer_had_a_quiet_moment(
        tmp_path: Path, monkeypatch: Any) -> None:
    """Automatic checkpoints are off (they stalled commits); the writer's own checkpoint,
    once nothing came for IDLE_S, lets the next transaction reuse the WAL instead of growing
    it (the background checkpointer is switched off here: it cannot finish under load)."""
    import os
    import time

    from medialoom.broker.checkpoint import IDLE_S
    monkeypatch.setattr(store_module.Checkpointer, "start", lambda self: None)
    path = str(tmp_path / "s.sqlite3")
    store = Store(path)
    done: queue.Queue[Any] = queue.Queue()
    store.start(lambda writes, reads: done.put(len(writes)))

    def burst(first: int) -> None:
        for batch in range(20):
            store.write((("items", items("A", first + batch * ROWS)),), "items")
        got = 0
        while got < 20:
            got += done.get(timeout=30)

    try:
        store.write((("job", job_row(job("A"))),), "A")
        done.get(timeout=30)
        burst(0)
        grown = os.path.getsize(f"{path}-wal")
        time.sleep(IDLE_S + 0.5)  # a quiet moment: the writer checkpoints
        burst(20 * ROWS)
        assert os.path.getsize(f"{path}-wal") < grown * 1.5, "the WAL grew instead of restarting"
    finally:
        store.stop()
    with connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 40 * ROWS


def test_a_transaction_that_carries_control_writes_takes_one_chunk_of_item_rows(
        tmp_path: Path) -> None:
    """A START queued behind 50,000 item rows commits with at most ROW_CHUNK of them, not the
    transaction's row budget: the writes it carries are waited for."""
    path = str(tmp_path / "s.sqlite3")
    store = Store(path)
    store.write((("job", job_row(job("A"))),), "A created")
    for batch in range(50):
        store.write((("items", items("A", batch * ROWS)),), f"A items {batch}")
    store.write((("job", job_row(job("B"))),), "B started")
    seen: queue.Queue[Any] = queue.Queue()

    def done(writes: list[Any], reads: list[Any]) -> None:
        if any(t == "B started" for t, ok in writes if ok):
            with connect(path) as conn:  # what is committed when the START is acked
                seen.put(conn.execute("SELECT COUNT(*) FROM items").fetchone()[0])

    store.start(done)
    try:
        assert seen.get(timeout=30) <= store_module.ROW_CHUNK
    finally:
        store.stop()
    with connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 50 * ROWS


def test_cancel_flags_of_many_jobs_in_one_transaction_are_all_set(tmp_path: Path) -> None:
    """The flags of a transaction go in one statement after its job rows: a flag queued
    before the row of its job, and rows queued after a flag, still leave it set."""
    path = str(tmp_path / "s.sqlite3")
    store = Store(path)
    names = [f"J{i:03d}" for i in range(300)]
    for name in names[:299]:
        store.write((("job", job_row(job(name))),), f"{name} created")
    for name in names:
        store.write((("cancel_flag", name),), f"{name} cancel")
    store.write((("job", job_row(job(names[-1]))),), "last created")  # after its flag
    for name in names[:10]:  # a later row of the job (queued before the flag was set)
        store.write((("job", job_row(replace(job(name), processed=5))),), f"{name} again")
    commits(store, 299 + 300 + 1 + 10)
    recovered = {j.id: j for j in load_active(path)}
    assert sorted(recovered) == names
    assert all(recovered[name].cancel_requested for name in names)
    assert all(recovered[name].processed == 5 for name in names[:10])
