"""BrokerState without sockets or sleeps: now is injected (SPEC.md sections 5-7)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from medialoom.broker.config import BrokerConfig
from medialoom.broker.effects import Persist, Publish, Query, ToClient, ToWorker
from medialoom.broker.jobs import Job
from medialoom.broker.state import BrokerState
from medialoom.protocol import messages as m
from medialoom.workers.specs import builtin_specs

C1, W1, W2 = b"client-1", b"worker-1", b"worker-2"


def make(now: float = 1000.0, recovered: list[Job] | None = None, **cfg: Any) -> BrokerState:
    config = BrokerConfig(data_dir="/nonexistent", roots=("/lib",), **cfg)
    return BrokerState(config, builtin_specs(), recovered or [], now, rng=random.Random(1))


def sends(effects: list[Any], kind: type) -> list[Any]:
    return [e for e in effects if isinstance(e, kind)]


def acks(effects: list[Any]) -> list[m.Reply | m.Error]:
    """Client replies, including those released after a commit."""
    out = [e.msg for e in sends(effects, ToClient)]
    for p in sends(effects, Persist):
        out += [e.msg for e in p.then if isinstance(e, ToClient)]
    return out


def start(state: BrokerState, now: float, rid: int = 1, kind: str = "sleep",
          paths: list[str] | None = None, **kw: Any) -> tuple[str, list[Any]]:
    effects = state.handle_client(C1, m.Start(rid=rid, kind=kind, paths=paths or [], **kw), now,
                                  resolved=paths or [])
    replies = acks(effects)
    assert len(replies) == 1
    if isinstance(replies[0], m.Error):
        return replies[0].code, effects
    return replies[0].data["job"]["id"], effects


def ready(state: BrokerState, peer: bytes, now: float, slots: int = 1,
          running: list[list[Any]] | None = None) -> list[Any]:
    return state.handle_worker(peer, m.Ready(kinds=["sleep", "scan"], slots=slots, host="h",
                                             pid=1, running=running or []), now)


def to_workers(effects: list[Any]) -> list[ToWorker]:
    """Sends to workers, including those released after a commit (DISPATCH, CANCEL)."""
    out = sends(effects, ToWorker)
    for p in sends(effects, Persist):
        out += [e for e in p.then if isinstance(e, ToWorker)]
    return out


def dispatched(effects: list[Any]) -> list[m.Dispatch]:
    return [e.msg for e in to_workers(effects) if isinstance(e.msg, m.Dispatch)]


def test_start_is_acknowledged_only_after_its_row_is_committed() -> None:
    state = make()
    effects = state.handle_client(C1, m.Start(rid=7, kind="sleep"), 1000.0, [])
    assert not sends(effects, ToClient)
    [persist] = [p for p in sends(effects, Persist) if p.then]  # the ack waits for its row
    assert persist.ops[0][0] == "job" and persist.ops[0][1][0] == persist.then[0].created
    assert isinstance(persist.then[0], ToClient) and persist.then[0].msg.rid == 7


def test_starts_of_one_turn_are_dispatched_at_settle_each_ack_after_its_dispatch() -> None:
    """The actor settles once per loop turn: a bundle of STARTs gets one dispatch pass;
    the dispatched ones are acked with their DISPATCH, the one left queued with its row."""
    state = make()
    ready(state, W1, 1000.0, slots=2)
    effects: list[Any] = []
    for rid in (1, 2, 3):
        effects += state.handle_client(C1, m.Start(rid=rid, kind="sleep"), 1000.0, [],
                                       settle=False)
    assert not [e for e in effects if isinstance(e, Persist) and e.then]
    assert state.queued == 3 and state.unacked
    settled = state.settle(1000.0)
    assert state.queued == 1 and not state.unacked and not state.dispatch_due
    carried = [[type(t.msg).__name__ + str(getattr(t.msg, "rid", "")) for t in p.then]
               for p in sends(settled, Persist) if p.then]
    assert carried == [["Dispatch", "Reply1"], ["Dispatch", "Reply2"], ["Reply3"]]
    assert state.settle(1000.0) == []


def test_dispatches_by_priority_then_fifo() -> None:
    state = make()
    low, _ = start(state, 1000.0, 1, priority="low")
    normal, _ = start(state, 1000.1, 2)
    hook, _ = start(state, 1000.2, 3, priority="webhook")
    normal2, _ = start(state, 1000.3, 4)
    order = []
    now = 1001.0
    effects = ready(state, W1, now, slots=1)
    for _ in range(4):
        d = dispatched(effects)
        assert len(d) == 1
        order.append(d[0].job)
        effects = state.handle_worker(W1, m.Done(job=d[0].job, attempt=1, n=1), now)
    assert order == [hook, normal, normal2, low]


def test_requeues_job_when_worker_heartbeat_expires() -> None:
    state = make(heartbeat_interval_s=1.0, heartbeat_liveness=3)
    job_id, _ = start(state, 1000.0)
    d = dispatched(ready(state, W1, 1000.0))
    assert d[0].attempt == 1
    state.tick(1002.0)
    assert state.active[job_id].status == "running"
    state.tick(1003.5)  # 3 intervals without a word from W1
    job = state.active[job_id]
    assert job.status == "queued" and job.error["code"] == "worker.lost"
    assert job.not_before > 1003.5  # backoff
    d2 = dispatched(ready(state, W2, 1003.6))
    assert d2 == []  # still backing off
    d2 = dispatched(state.tick(job.not_before + 0.01))
    assert d2[0].job == job_id and d2[0].attempt == 2


def test_result_of_an_abandoned_attempt_is_ignored() -> None:
    state = make()
    job_id, _ = start(state, 1000.0)
    ready(state, W1, 1000.0)
    state.purge_worker(W1, 1001.0, "gone")
    effects = ready(state, W2, 1001.0)
    effects += state.tick(1001.8)
    assert dispatched(effects)[0].attempt == 2
    assert state.handle_worker(W1, m.Done(job=job_id, attempt=1, n=1), 1001.9)[:-1] == []
    assert state.active[job_id].status == "running"
    state.handle_worker(W2, m.Done(job=job_id, attempt=2, n=1), 1002.0)
    assert state.finished[job_id].status == "completed"
    assert state.finished[job_id].attempts == 2


def test_fails_after_max_attempts_with_the_last_error() -> None:
    state = make(max_attempts=2)
    job_id, _ = start(state, 1000.0)
    now = 1000.0
    for peer in (W1, W2):
        ready(state, peer, now)
        state.tick(now + 0.001)
        now += 100
        state.purge_worker(peer, now, "crashed")
        state.tick(now + 100)
        now += 200
    job = state.finished[job_id]
    assert job.status == "failed" and job.attempts == 2
    assert "attempt 2 of 2" in job.error["message"]


def test_cancel_of_queued_job_is_immediate() -> None:
    state = make()
    job_id, _ = start(state, 1000.0)
    effects = state.handle_client(C1, m.Cancel(rid=2, job=job_id), 1000.5)
    assert state.finished[job_id].status == "cancelled"
    assert acks(effects)[0].data["job"]["status"] == "cancelled"
    assert dispatched(ready(state, W1, 1001.0)) == []


def test_cancel_of_running_job_waits_for_the_worker_and_survives_restart() -> None:
    state = make()
    job_id, _ = start(state, 1000.0)
    ready(state, W1, 1000.0)
    effects = state.handle_client(C1, m.Cancel(rid=2, job=job_id), 1000.5)
    assert [e.msg for e in to_workers(effects)] == [m.CancelJob(job=job_id, attempt=1)]
    job = state.active[job_id]
    assert job.status == "running" and job.cancel_requested
    # the broker restarts: the job comes back from the store, running, cancel pending
    restarted = make(now=2000.0, recovered=[_copy(job)])
    effects = ready(restarted, W1, 2000.1, running=[[job_id, 1]])
    assert m.CancelJob(job=job_id, attempt=1) in [e.msg for e in sends(effects, ToWorker)]
    restarted.handle_worker(W1, m.Cancelled(job=job_id, attempt=1, n=1,
                                            progress={"processed": 3, "total": 10}), 2000.2)
    assert restarted.finished[job_id].status == "cancelled"
    assert restarted.finished[job_id].processed == 3


def test_unreclaimed_running_job_is_requeued_after_the_lease() -> None:
    state = make()
    job_id, _ = start(state, 1000.0)
    ready(state, W1, 1000.0)
    job = _copy(state.active[job_id])
    restarted = make(now=2000.0, recovered=[job])
    restarted.tick(2000.0 + restarted.config.reclaim_lease_s - 0.1)
    assert restarted.active[job_id].status == "running"
    restarted.tick(2000.0 + restarted.config.reclaim_lease_s + 0.1)
    assert restarted.active[job_id].status == "queued"


def test_reconnecting_worker_keeps_its_job_without_double_dispatch() -> None:
    state = make()
    job_id, _ = start(state, 1000.0)
    ready(state, W1, 1000.0)
    restarted = make(now=2000.0, recovered=[_copy(state.active[job_id])])
    effects = ready(restarted, W2, 2000.0, slots=2, running=[[job_id, 1]])
    assert dispatched(effects) == []
    assert restarted.workers[W2].jobs == {job_id: 1}
    restarted.handle_worker(W2, m.Done(job=job_id, attempt=1, n=1), 2005.0)
    assert restarted.finished[job_id].status == "completed"
    assert restarted.finished[job_id].attempts == 1


def test_worker_reporting_an_unknown_job_is_told_to_cancel_it() -> None:
    state = make()
    effects = ready(state, W1, 1000.0, running=[["01NOSUCHJOB0000000000000000", 1]])
    assert isinstance(sends(effects, ToWorker)[0].msg, m.CancelJob)


def test_unknown_worker_is_asked_to_register_again() -> None:
    state = make()
    effects = state.handle_worker(W1, m.Heartbeat(), 1000.0)
    assert [e.msg for e in effects] == [m.Disconnect(reason="unknown worker; send READY")]


def test_overlapping_paths_conflict_unless_allowed() -> None:
    state = make()
    first, _ = start(state, 1000.0, 1, kind="scan", paths=["/lib/music"])
    assert start(state, 1000.1, 2, kind="scan", paths=["/lib/music/a"])[0] == "job.conflict"
    assert start(state, 1000.1, 3, kind="scan", paths=["/lib"])[0] == "job.conflict"
    assert start(state, 1000.1, 4, kind="scan", paths=["/lib/musicals"])[0] != "job.conflict"
    second, _ = start(state, 1000.1, 5, kind="scan", paths=["/lib/music"], allow_conflict=True)
    assert second != "job.conflict"
    state.handle_client(C1, m.Cancel(rid=6, job=first), 1000.2)
    assert start(state, 1000.3, 7, kind="scan", paths=["/lib/music/b"])[0] == "job.conflict"
    state.handle_client(C1, m.Cancel(rid=6, job=second), 1000.2)
    _, effects = start(state, 1000.3, 7, kind="scan", paths=["/lib/music/b"])
    assert acks(effects)[0].data["job"]["status"] == "queued"


def test_full_queue_is_refused_as_busy() -> None:
    state = make(queue_max=3)
    for rid in range(3):
        start(state, 1000.0, rid)
    assert start(state, 1000.0, 9)[0] == "queue.full"


def test_a_full_queue_counts_the_turns_starts_a_worker_has_room_for_as_running() -> None:
    """queue_max counts queued jobs: STARTs of one turn (not settled yet) that free slots
    will take are dispatched before a START is refused for a full queue."""
    state = make(queue_max=1)
    ready(state, W1, 1000.0, slots=2)
    effects: list[Any] = []
    for rid in (1, 2):
        effects += state.handle_client(C1, m.Start(rid=rid, kind="sleep"), 1000.0, [],
                                       settle=False)
    assert not sends(effects, ToClient)  # no ERROR: the first was dispatched to make room
    settled = state.settle(1000.0)
    carried = [[type(t.msg).__name__ for t in p.then] for p in sends(settled, Persist) if p.then]
    assert carried == [["Dispatch", "Reply"], ["Dispatch", "Reply"]]
    assert state.queued == 0
    refused = state.handle_client(C1, m.Start(rid=3, kind="sleep"), 1000.0, [])
    assert [e.msg.code for e in sends(refused, ToClient)] == []  # queued: the queue holds 1
    refused = state.handle_client(C1, m.Start(rid=4, kind="sleep"), 1000.0, [])
    assert [e.msg.code for e in sends(refused, ToClient)] == ["queue.full"]


@pytest.mark.parametrize(("msg", "code"), [
    (m.Start(rid=1, kind="nope"), "job.unknown_kind"),
    (m.Start(rid=1, kind="sleep", params={"seconds": "x"}), "job.bad_params"),
    (m.Start(rid=1, kind="sleep", params={"bogus": 1}), "job.bad_params"),
    (m.Start(rid=1, kind="sleep", priority="urgent"), "job.bad_params"),
    (m.Start(rid=1, kind="scan"), "job.bad_params"),
    (m.List(rid=1, status=["weird"]), "protocol.bad_field"),
    (m.List(rid=1, limit=0), "protocol.bad_field"),
    (m.Results(rid=1, job="x", limit=100000), "protocol.bad_field"),
])
def test_bad_requests_get_stable_codes_and_change_nothing(msg: Any, code: str) -> None:
    state = make()
    effects = state.handle_client(C1, msg, 1000.0, [])
    assert [e.msg.code for e in sends(effects, ToClient)] == [code]
    assert not state.active and not sends(effects, Persist)


def test_clear_refuses_an_active_job() -> None:
    state = make()
    job_id, _ = start(state, 1000.0)
    effects = state.handle_client(C1, m.Clear(rid=2, job=job_id), 1000.1)
    assert acks(effects)[0].code == "job.not_finished"


def test_progress_events_get_increasing_seq_and_stale_ones_are_dropped() -> None:
    state = make()
    job_id, _ = start(state, 1000.0)
    ready(state, W1, 1000.0)
    seq0 = state.active[job_id].seq
    e1 = state.handle_progress(m.Progress(job=job_id, attempt=1,
                                          progress={"processed": 5, "total": 10}), 1000.1)
    e2 = state.handle_progress(m.Progress(job=job_id, attempt=1,
                                          progress={"processed": 4, "total": 10}), 1000.2)
    e3 = state.handle_progress(m.Progress(job=job_id, attempt=9,
                                          progress={"processed": 9, "total": 10}), 1000.3)
    assert [p.msg.seq for p in e1] == [seq0 + 1]
    assert e2 == [] and e3 == []
    assert e1[0].msg.progress["percent"] == 50.0


def test_waiters_are_answered_after_the_terminal_commit() -> None:
    state = make()
    job_id, _ = start(state, 1000.0)
    assert state.handle_client(C1, m.Wait(rid=5, job=job_id), 1000.1) == []
    ready(state, W1, 1000.2)
    effects = state.handle_worker(W1, m.Done(job=job_id, attempt=1, n=1), 1000.3)
    terminal = [p for p in sends(effects, Persist) if p.durable]
    assert terminal and terminal[0].then[0].msg.rid == 5


def test_unknown_job_status_goes_to_the_store() -> None:
    state = make()
    effects = state.handle_client(C1, m.Status(rid=3, job="01X"), 1000.0)
    query = sends(effects, Query)[0]
    reply = state.finish_query(query.token, None, 1000.1)
    assert reply[0].msg.code == "job.not_found"


def test_every_state_change_is_published() -> None:
    state = make()
    job_id, effects = start(state, 1000.0)
    effects += ready(state, W1, 1000.0)
    effects += state.handle_worker(W1, m.Done(job=job_id, attempt=1, n=1), 1000.1)
    statuses = [p.msg.status for p in sends(effects, Publish)]
    assert statuses == ["queued", "running", "completed"]
    assert [p.msg.seq for p in sends(effects, Publish)] == [1, 2, 3]


def _copy(job: Job) -> Job:
    from medialoom.broker.jobs import job_from_row, job_row, stored_job
    return job_from_row(stored_job(job_row(job)))


def test_params_that_cannot_be_stored_are_refused() -> None:
    state = make()
    state.workers[W1] = _worker_serving("plugin-kind")
    effects = state.handle_client(C1, m.Start(rid=1, kind="plugin-kind",
                                              params={"a": b"\x00"}), 1000.0, [])
    assert acks(effects)[0].code == "job.bad_params"


def test_worker_reconnecting_on_a_new_connection_keeps_its_attempt() -> None:
    state = make()
    job_id, _ = start(state, 1000.0)
    ready(state, W1, 1000.0)
    effects = ready(state, W2, 1001.0, running=[[job_id, 1]])  # same host and pid as W1
    assert not [e for e in sends(effects, ToWorker) if isinstance(e.msg, m.CancelJob)]
    assert state.active[job_id].worker == W2
    state.handle_worker(W2, m.Done(job=job_id, attempt=1, n=1), 1001.5)
    assert state.finished[job_id].status == "completed"


def _worker_serving(kind: str):  # noqa: ANN202
    from medialoom.broker.state import Worker
    return Worker(peer=W1, kinds=frozenset({kind}), slots=1, host="h", pid=1, expiry=1e12)


def test_history_older_than_retention_is_purged_in_the_background() -> None:
    state = make(retention_days=1.0, retention_check_s=60.0)
    job_id, _ = start(state, 1000.0)
    state.handle_client(C1, m.Cancel(rid=2, job=job_id), 1000.0)
    assert job_id in state.finished
    effects = state.tick(1000.0 + 86400 + 10)
    purges = [op for p in sends(effects, Persist) for op in p.ops if op[0] == "purge"]
    assert purges and purges[0][1] == pytest.approx(1000.0 + 10)
    assert job_id not in state.finished


def test_event_numbers_keep_growing_across_a_broker_restart() -> None:
    state = make()
    job_id, _ = start(state, 1000.0)
    ready(state, W1, 1000.0)
    for n in range(1, 6):
        state.handle_progress(m.Progress(job=job_id, attempt=1, progress={"processed": n}),
                              1000.0 + n)
    published = state.active[job_id].seq
    stored = _copy(state.active[job_id])
    stored.seq -= 5  # the last rows written before the crash lag behind the events
    restarted = make(now=2000.0, recovered=[stored])
    assert restarted.active[job_id].seq > published


def test_rollback_of_an_active_job_is_refused() -> None:
    state = make()
    target, _ = start(state, 1000.0)
    code, _ = start(state, 1000.1, 2, kind="rollback", params={"job": target})
    assert code == "job.not_finished"


def test_retry_without_a_complete_plan_drops_the_partial_plan() -> None:
    state = make()
    job_id, _ = start(state, 1000.0)
    ready(state, W1, 1000.0)
    state.purge_worker(W1, 1000.5, "crashed")
    effects = ready(state, W2, 1000.6) + state.tick(1002.0)
    ops = [op[0] for p in sends(effects, Persist) for op in p.ops]
    assert "delete_plan" in ops
