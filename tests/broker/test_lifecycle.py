"""The job lifecycle table (broker/lifecycle.py): every status change goes through it."""

from __future__ import annotations

import sqlite3

import pytest

from medialoom.broker.lifecycle import FINISH, TRANSITIONS, IllegalTransition, next_status
from medialoom.broker.rows import (
    ITEM_FIELDS,
    insert_sql,
    item_row,
    millis,
    plan_row,
    record,
    stored,
    table_sql,
)
from medialoom.protocol import messages as m
from medialoom.protocol.constants import JOB_STATUSES, TERMINAL_STATUSES
from tests.broker.test_state import C1, W1, make, ready, start, to_workers


def test_the_table_names_only_real_statuses_and_terminal_ones_end_it() -> None:
    for (status, _event), to in TRANSITIONS.items():
        assert status == "new" or status in JOB_STATUSES
        assert to in JOB_STATUSES
    # nothing leaves a terminal status
    assert not [k for k in TRANSITIONS if k[0] in TERMINAL_STATUSES]
    assert set(FINISH) == set(TERMINAL_STATUSES)


@pytest.mark.parametrize(("status", "event"), [
    ("completed", "dispatch"), ("cancelled", "requeue"), ("failed", "complete"),
    ("queued", "complete"), ("new", "dispatch"), ("running", "create")])
def test_an_event_the_table_does_not_allow_is_refused(status: str, event: str) -> None:
    with pytest.raises(IllegalTransition, match=event):
        next_status(status, event)


def test_finishing_a_finished_job_is_a_bug_and_leaves_it_as_it_was() -> None:
    state = make()
    job_id, _ = start(state, 1000.0, params={"seconds": 0})
    state.handle_client(C1, m.Cancel(rid=2, job=job_id), 1000.1)
    job = state.job(job_id)
    assert job is not None and job.status == "cancelled"
    with pytest.raises(IllegalTransition):
        state._finish(job, "completed", 1000.2)
    assert job.status == "cancelled" and job_id not in state.active


def test_a_job_moves_queued_running_completed_through_the_table() -> None:
    state = make()
    job_id, _ = start(state, 1000.0, params={"seconds": 0})
    seen = [state.job(job_id).status]
    ready(state, W1, 1000.1)
    seen.append(state.job(job_id).status)
    state.handle_worker(W1, m.Done(job=job_id, attempt=1, n=1, progress={}), 1000.2)
    seen.append(state.job(job_id).status)
    assert seen == ["queued", "running", "completed"]


def test_rows_keep_what_fits_and_come_back_as_the_wire_map() -> None:
    row = item_row("J", {"i": 3, "path": "/a", "status": "ok" * 100, "message": 5,
                         "duration_ms": 2.6, "details": {"k": [1]}})
    assert row is not None
    assert row[1] == 3 and len(row[3]) == 64 and row[4] == "" and row[5] == 3
    conn = sqlite3.connect(":memory:")
    conn.execute(table_sql("items", ITEM_FIELDS))
    conn.execute(insert_sql("items", ITEM_FIELDS), (stored((row,)),))  # as the writer stores it
    back = record(ITEM_FIELDS, conn.execute("SELECT * FROM items").fetchone()[1:])
    assert back == {"i": 3, "path": "/a", "status": ("ok" * 100)[:64], "message": "",
                    "duration_ms": 3, "details": {"k": [1]}}
    assert item_row("J", {"i": -1}) is None and item_row("J", {"i": True}) is None
    assert plan_row("J", {"i": 0, "op": "move"})[6] == "planned"
    assert [millis(v) for v in (float("nan"), -5, True, "7", 1e300)] == [0, 0, 0, 0, 2**62]


def test_a_job_row_has_every_column_in_order_and_reads_back() -> None:
    from medialoom.broker.jobs import COLUMNS, Job, job_from_row, job_row, stored_job
    job = Job(id="J", kind="scan", paths=["/a", "/b"], params={"x": [1, 2.5]}, priority=1,
              dry_run=True, created=1.5, max_attempts=3, status="running", attempts=2,
              started=2.0, updated=3.0, error={"code": "c", "message": "m"},
              cancel_requested=True, seq=7, result={"r": 1}, total=9, processed=4,
              succeeded=3, skipped=1, current="/a/x", rate=2.5, planned=True, batches=5,
              retry_of="K")
    row = stored_job(job_row(job))
    assert len(row) == len(COLUMNS)
    back = job_from_row(row)
    for name in COLUMNS:
        assert getattr(back, name) == getattr(job, name), name
    job.error = None
    assert row[COLUMNS.index("error")] != stored_job(job_row(job))[COLUMNS.index("error")] \
        == "null"


def test_a_webhook_job_of_one_kind_goes_before_queued_normal_jobs_of_another() -> None:
    state = make()
    normal = [start(state, 1000.0 + i / 10, rid=i, params={"seconds": 0})[0] for i in range(3)]
    urgent, _ = start(state, 1001.0, rid=9, kind="scan", paths=["/lib"], priority="webhook")
    effects = state.handle_worker(W1, m.Ready(kinds=["sleep", "scan"], slots=2, host="h", pid=1),
                                  1001.1)
    order = [e.msg.job for e in to_workers(effects) if isinstance(e.msg, m.Dispatch)]
    assert order == [urgent, normal[0]]
