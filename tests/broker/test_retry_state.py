"""Retries (issue 8, item 4): FAILED retry_after_s, codes that never retry, START retry_of."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from typing import Any

from test_state import C1, W1, acks, dispatched, make, ready, sends, start

from medialoom.broker.jobs import Job, job_row
from medialoom.broker.state import BrokerState, Query
from medialoom.broker.store import Store, connect
from medialoom.protocol import messages as m


def running(state: BrokerState, now: float = 1000.0, **kw: Any) -> str:
    job_id, _ = start(state, now, **kw)
    assert dispatched(ready(state, W1, now))[0].job == job_id
    return job_id


def failed(state: BrokerState, job_id: str, now: float, attempt: int = 1, n: int = 1,
           **kw: Any) -> list[Any]:
    return state.handle_worker(W1, m.Failed(job=job_id, attempt=attempt, n=n, **kw), now)


def test_retry_after_s_holds_the_job_back_longer_than_the_backoff() -> None:
    state = make()
    job_id = running(state)
    failed(state, job_id, 1001.0, code="catalog.unavailable", message="503 for minutes",
           retry=True, retry_after_s=120.0)
    job = state.active[job_id]
    assert job.status == "queued" and job.error["code"] == "catalog.unavailable"
    assert job.not_before == 1121.0  # max(120, backoff 0.25..0.75 s)
    state.handle_worker(W1, m.Heartbeat(), 1100.0)
    assert dispatched(state.tick(1100.0)) == []
    state.handle_worker(W1, m.Heartbeat(), 1121.0)
    d = dispatched(state.tick(1121.01))
    assert d[0].job == job_id and d[0].attempt == 2


def test_a_short_retry_after_s_still_waits_the_backoff() -> None:
    state = make()
    job_id = running(state)
    failed(state, job_id, 1001.0, code="x.y", message="m", retry=True, retry_after_s=0.001)
    wait = state.active[job_id].not_before - 1001.0
    assert 0.25 <= wait <= 0.75  # 0.5 s x 2^0 x uniform(0.5, 1.5)


def test_retry_after_s_that_is_nan_or_huge_is_tamed() -> None:
    state = make()
    job_id = running(state)
    failed(state, job_id, 1001.0, code="x.y", message="m", retry=True, retry_after_s=math.nan)
    assert state.active[job_id].not_before - 1001.0 <= 0.75
    other = make()
    job_id = running(other)
    failed(other, job_id, 1001.0, code="x.y", message="m", retry=True, retry_after_s=1e300)
    assert other.active[job_id].not_before == 1001.0 + 86_400


def test_an_unexpected_exception_retries_up_to_max_attempts() -> None:
    state = make(max_attempts=2)
    job_id = running(state)
    failed(state, job_id, 1001.0, code="internal", message="KeyError: 'x'", retry=True)
    assert state.active[job_id].status == "queued"
    state.handle_worker(W1, m.Heartbeat(), 1010.0)
    d = dispatched(state.tick(1010.0))
    assert d[0].attempt == 2
    failed(state, job_id, 1011.0, attempt=2, code="internal", message="KeyError: 'x'",
           retry=True)
    job = state.finished[job_id]
    assert job.status == "failed" and job.attempts == 2 and job.error["code"] == "internal"


def test_bad_params_never_retry_even_when_asked() -> None:
    for code in ("job.bad_params", "path.forbidden"):
        state = make()
        job_id = running(state)
        failed(state, job_id, 1001.0, code=code, message="no", retry=True, retry_after_s=5.0)
        assert state.finished[job_id].status == "failed"
        assert state.finished[job_id].attempts == 1


def test_retry_false_fails_at_once() -> None:
    state = make()
    job_id = running(state)
    failed(state, job_id, 1001.0, code="job.failed", message="gave up", retry=False)
    assert state.finished[job_id].status == "failed"


# --- START retry_of --------------------------------------------------------------------------


def finished_scan(state: BrokerState, status: str = "completed") -> Job:
    job_id = running(state, kind="scan", paths=["/lib/a"])
    state.handle_worker(W1, m.Done(job=job_id, attempt=1, n=1), 1001.0)
    job = state.finished[job_id]
    job.status = status
    return job


def retry_start(state: BrokerState, job_id: str, now: float = 1002.0, **kw: Any) -> list[Any]:
    return state.handle_client(C1, m.Start(rid=9, kind=kw.pop("kind", ""), retry_of=job_id, **kw),
                               now, [])


def test_retry_of_gathers_the_failed_items_in_the_store_and_links_the_new_job() -> None:
    state = make()
    original = finished_scan(state)
    effects = retry_start(state, original.id)
    query = sends(effects, Query)[0]
    assert query.name == "retry" and query.args[0] == original.id
    not_failed = set(query.args[1])
    assert {"ok", "skipped", "vanished"} <= not_failed
    assert not {"failed", "error", "conflict", "timeout"} & not_failed
    paths = ["/lib/a/1.mp3", "/lib/a/2.mp3", "/lib/a/1.mp3"]
    effects = state.finish_query(query.token, (None, paths, False), 1002.1)
    [reply] = acks(effects)
    assert isinstance(reply, m.Reply), reply
    job = reply.data["job"]
    assert job["retry_of"] == original.id and job["kind"] == "scan"
    assert job["paths"] == ["/lib/a/1.mp3", "/lib/a/2.mp3"]
    assert job["params"] == original.params and job["status"] == "queued"
    assert state.active[job["id"]].retry_of == original.id


def test_retry_of_a_job_without_failed_items_is_refused() -> None:
    state = make()
    original = finished_scan(state)
    query = sends(retry_start(state, original.id), Query)[0]
    [reply] = acks(state.finish_query(query.token, (None, [], False), 1002.1))
    assert isinstance(reply, m.Error) and reply.code == "job.nothing_to_retry"
    assert reply.details == {"field": "retry_of", "job": original.id}
    assert len(state.active) == 0


def test_retry_of_an_active_or_unknown_job_or_with_paths_is_refused() -> None:
    state = make()
    active = running(state)
    [reply] = acks(retry_start(state, active))
    assert isinstance(reply, m.Error) and reply.code == "job.not_finished"
    original = finished_scan(make())
    state.finished[original.id] = original
    [reply] = acks(retry_start(state, original.id, paths=["/lib/x"]))
    assert reply.code == "job.bad_params"
    [reply] = acks(retry_start(state, original.id, kind="sleep"))
    assert reply.code == "job.bad_params" and reply.details["field"] == "kind"
    effects = retry_start(state, "01JDC3Z05XBS6KRART14C2EDJ5")  # not in memory: the store
    query = sends(effects, Query)[0]
    assert query.name == "get"
    [reply] = acks(state.finish_query(query.token, None, 1002.1))
    assert reply.code == "job.not_found"


def test_retry_of_a_job_only_in_the_store_reads_it_first() -> None:
    state = make()
    original = finished_scan(make())
    query = sends(retry_start(state, original.id), Query)[0]
    assert query.name == "get"
    query = sends(state.finish_query(query.token, original, 1002.1), Query)[0]
    assert query.name == "retry"
    [reply] = acks(state.finish_query(query.token, (original, ["/lib/a/x.mp3"], False), 1002.2))
    assert reply.data["job"]["retry_of"] == original.id


def test_too_many_failed_items_are_refused_not_truncated() -> None:
    state = make()
    original = finished_scan(state)
    query = sends(retry_start(state, original.id), Query)[0]
    [reply] = acks(state.finish_query(query.token, (None, ["/lib/a/1"], True), 1002.1))
    assert reply.code == "protocol.too_large"


# --- the store -------------------------------------------------------------------------------


def test_store_reads_failed_item_paths_and_keeps_retry_of(tmp_path: Path) -> None:
    import queue
    done: queue.Queue[Any] = queue.Queue()
    store = Store(str(tmp_path / "s.sqlite3"))
    store.start(lambda writes, reads: done.put(reads), lambda: None)
    try:
        job = Job(id="A", kind="scan", paths=["/lib"], params={}, priority=2, dry_run=False,
                  created=1.0, max_attempts=3, status="completed", retry_of="Z")
        rows = tuple(("A", i, f"/lib/{i}.mp3", status, "", 0, {})
                     for i, status in enumerate(["ok", "failed", "skipped", "odd", "error"]))
        store.write((("job", job_row(job)), ("items", rows)), None)
        store.read("retry", ("A", ("ok", "skipped", "vanished"), 10), 1)
        store.read("retry", ("A", ("ok", "skipped", "vanished"), 2), 2)
        store.read("retry", ("B", (), 10), 3)
        results: dict[int, Any] = {}
        while len(results) < 3:
            results.update(done.get(timeout=10))
    finally:
        store.stop()
    stored, paths, more = results[1]
    assert stored.retry_of == "Z"
    assert paths == ["/lib/1.mp3", "/lib/3.mp3", "/lib/4.mp3"] and not more
    assert results[2][1] == ["/lib/1.mp3", "/lib/3.mp3"] and results[2][2] is True
    assert results[3] == (None, [], False)


def test_an_older_store_gets_the_retry_of_column(tmp_path: Path) -> None:
    path = str(tmp_path / "old.sqlite3")
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE jobs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, paths TEXT, "
                "params TEXT, priority INTEGER, dry_run INTEGER, status TEXT NOT NULL, "
                "attempts INTEGER, max_attempts INTEGER, created REAL, started REAL, "
                "updated REAL, finished REAL, error TEXT, cancel_requested INTEGER, seq INTEGER, "
                "result TEXT, total INTEGER, processed INTEGER, succeeded INTEGER, "
                "skipped INTEGER, failed INTEGER, current TEXT, rate REAL, "
                "planned INTEGER DEFAULT 0)")
    old.commit()
    old.close()
    conn = connect(path)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}
    conn.close()
    assert {"batches", "retry_of"} <= columns
