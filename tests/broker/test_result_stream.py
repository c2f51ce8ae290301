"""The result stream in the state machine: numbered results, ACK after commit, honest DONE.

SPEC.md section 6.4 ("The result stream", "`completed` is a promise") and 6.3.
"""

from __future__ import annotations

from typing import Any

from medialoom.broker.state import BrokerState, Persist, Query, ToWorker
from medialoom.protocol import messages as m
from tests.broker.test_state import W1, W2, dispatched, make, ready, start, to_workers


def worker_sends(effects: list[Any]) -> list[Any]:
    """Messages to workers, including those released after a commit."""
    out = [e.msg for e in effects if isinstance(e, ToWorker)]
    for p in effects:
        if isinstance(p, Persist):
            out += [e.msg for e in p.then if isinstance(e, ToWorker)]
    return out


def acked(effects: list[Any]) -> list[int]:
    return [entry[2] for msg in worker_sends(effects) if isinstance(msg, m.Ack)
            for entry in msg.acks]


def stored_ops(effects: list[Any], name: str) -> list[Any]:
    return [op for p in effects if isinstance(p, Persist) for op in p.ops if op[0] == name]


def running(state: BrokerState, now: float = 1000.0) -> str:
    job_id, _ = start(state, now)
    ready(state, W1, now)
    assert state.active[job_id].status == "running"
    return job_id


def items(job_id: str, n: int, indices: range, attempt: int = 1) -> m.Items:
    rows = [{"i": i, "path": f"/lib/{i}", "status": "ok"} for i in indices]
    return m.Items(job=job_id, attempt=attempt, items=rows,
                   progress={"processed": indices.stop, "succeeded": indices.stop}, n=n)


def answer(state: BrokerState, effects: list[Any], result: Any, now: float) -> list[Any]:
    """Feed the store's answer to the one Query in effects."""
    (query,) = [e for e in effects if isinstance(e, Query)]
    return state.finish_query(query.token, result, now)


def test_results_are_stored_in_order_and_acknowledged_after_their_commit() -> None:
    state = make()
    job_id = running(state)
    effects = state.handle_worker(W1, items(job_id, 1, range(0, 2)), 1000.1)
    assert [len(op[1]) for op in stored_ops(effects, "items")] == [2]
    assert not [e for e in effects if isinstance(e, ToWorker)], "ACK only after the commit"
    assert acked(effects) == [1]
    job_row = stored_ops(effects, "job")[-1][1]
    assert dict(zip(("id",), job_row, strict=False))["id"] == job_id
    assert state.active[job_id].batches == 1


def test_a_resend_is_acknowledged_again_and_stored_once() -> None:
    state = make()
    job_id = running(state)
    state.handle_worker(W1, items(job_id, 1, range(0, 2)), 1000.1)
    effects = state.handle_worker(W1, items(job_id, 1, range(0, 2)), 1000.2)
    assert stored_ops(effects, "items") == []
    assert acked(effects) == [1]


def test_a_message_after_a_gap_waits_for_the_missing_one() -> None:
    state = make()
    job_id = running(state)
    effects = state.handle_worker(W1, items(job_id, 2, range(2, 4)), 1000.1)
    assert effects == [] and state.active[job_id].batches == 0
    state.handle_worker(W1, items(job_id, 1, range(0, 2)), 1000.2)
    effects = state.handle_worker(W1, items(job_id, 2, range(2, 4)), 1000.3)
    assert acked(effects) == [2] and state.active[job_id].batches == 2


def test_nothing_from_an_unregistered_connection_reaches_state_or_store() -> None:
    state = make()
    job_id = running(state)
    for msg in (items(job_id, 1, range(0, 2)),
                m.Done(job=job_id, attempt=1, n=1, result={"x": 1}),
                m.PlanOps(job=job_id, attempt=1, ops=[{"i": 0}], complete=True, n=1, total=1),
                m.Fetch(rid=1, job=job_id, attempt=1, what="plan", source=job_id)):
        effects = state.handle_worker(b"stranger", msg, 1000.1)
        assert worker_sends(effects) == [m.Disconnect(reason="unknown worker; send READY")]
        assert not [e for e in effects if isinstance(e, (Persist, Query))]
    job = state.active[job_id]
    assert job.status == "running" and job.batches == 0 and job.result == {}


def test_another_registered_connection_cannot_report_for_the_attempt() -> None:
    state = make()
    job_id = running(state)
    state.handle_worker(W2, m.Ready(kinds=["sleep"], slots=1, host="h", pid=2), 1000.0)
    assert state.active[job_id].worker == W1
    effects = state.handle_worker(W2, m.Done(job=job_id, attempt=1, n=1), 1000.1)
    assert acked(effects) == [1]  # acknowledged as moot, and nothing else
    assert state.active[job_id].status == "running"
    page = state.handle_worker(W2, m.Fetch(rid=5, job=job_id, attempt=1, what="plan",
                                           source=job_id), 1000.2)
    assert worker_sends(page)[0].error["code"] == "job.not_found"


def test_done_is_completed_only_when_the_stored_rows_back_it() -> None:
    state = make(max_attempts=1)
    job_id = running(state)
    state.handle_worker(W1, items(job_id, 1, range(0, 256)), 1000.1)
    done = m.Done(job=job_id, attempt=1, n=2, progress={"processed": 512, "succeeded": 512})
    effects = state.handle_worker(W1, done, 1000.2)
    assert job_id in state.active, "no verdict before the store has been counted"
    effects = answer(state, effects, (256, 0, -1, -1), 1000.3)
    job = state.finished[job_id]
    assert job.status == "failed" and job.error["code"] == "job.incomplete"
    assert "512" in job.error["message"] and "256" in job.error["message"]
    assert acked(effects) == [2]


def test_done_with_every_row_stored_completes() -> None:
    state = make()
    job_id = running(state)
    state.handle_worker(W1, items(job_id, 1, range(0, 3)), 1000.1)
    effects = state.handle_worker(W1, m.Done(job=job_id, attempt=1, n=2,
                                             progress={"processed": 3}), 1000.2)
    answer(state, effects, (3, 0, -1, -1), 1000.3)
    assert state.finished[job_id].status == "completed"


def test_a_plan_with_a_gap_is_never_complete_and_the_job_plans_again() -> None:
    state = make()
    job_id = running(state)
    ops = [{"i": i, "op": "move", "src": f"/lib/{i}", "dst": f"/lib/x/{i}"} for i in range(3)]
    effects = state.handle_worker(W1, m.PlanOps(job=job_id, attempt=1, ops=ops, complete=True,
                                                n=1, total=5), 1000.1)
    effects = answer(state, effects, (3, 0, 2), 1000.2)
    job = state.active[job_id]
    assert not job.planned
    assert job.status == "queued" and job.error["code"] == "plan.incomplete"
    assert m.CancelJob(job=job_id, attempt=1) in worker_sends(effects)
    retry = state.tick(job.not_before + 0.01)
    dispatch = dispatched(retry)[0]
    assert dispatch.attempt == 2 and not dispatch.has_plan
    assert stored_ops(retry, "delete_plan") and stored_ops(retry, "delete_items")


def test_a_whole_plan_is_marked_planned_and_done_checks_one_result_per_operation() -> None:
    state = make(max_attempts=1)
    job_id = running(state)
    ops = [{"i": i, "op": "move", "src": f"/lib/{i}", "dst": f"/lib/x/{i}"} for i in range(4)]
    effects = state.handle_worker(W1, m.PlanOps(job=job_id, attempt=1, ops=ops, complete=True,
                                                n=1, total=4), 1000.1)
    answer(state, effects, (4, 0, 3), 1000.2)
    assert state.active[job_id].planned
    state.handle_worker(W1, items(job_id, 2, range(0, 3)), 1000.3)
    effects = state.handle_worker(W1, m.Done(job=job_id, attempt=1, n=3,
                                             progress={"processed": 3}), 1000.4)
    answer(state, effects, (3, 4, 0, 3), 1000.5)
    job = state.finished[job_id]
    assert job.status == "failed" and "4 operations were planned but 3" in job.error["message"]


def test_an_undeliverable_dispatch_costs_no_attempt_and_goes_to_another_worker() -> None:
    state = make(max_attempts=1)
    for peer, pid, slots in ((W2, 2, 1), (W1, 1, 4)):  # the dead one has the most free slots
        state.handle_worker(peer, m.Ready(kinds=["sleep"], slots=slots, host="h", pid=pid),
                            1000.0)
    job_id, effects = start(state, 1000.1)
    dispatch = to_workers(effects)[0]
    assert dispatch.peer == W1
    effects = state.unreachable(W1, dispatch.msg, 1000.1)
    again = [e for e in to_workers(effects) if isinstance(e.msg, m.Dispatch)]
    assert [(e.peer, e.msg.attempt) for e in again] == [(W2, 1)]
    assert W1 not in state.workers
    assert state.active[job_id].attempts == 1


def test_a_lost_connection_keeps_its_attempts_for_a_lease_then_loses_them() -> None:
    state = make()
    job_id = running(state)
    state.unreachable(W1, m.Heartbeat(), 1000.5)
    job = state.active[job_id]
    assert W1 not in state.workers and job.status == "running" and job.worker is None
    state.tick(1000.5 + state.config.reclaim_lease_s + 0.1)
    assert job.status == "queued" and job.error["code"] == "worker.lost"


def test_the_same_worker_back_on_a_new_connection_keeps_its_attempt() -> None:
    state = make()
    job_id = running(state)
    state.unreachable(W1, m.Heartbeat(), 1000.5)
    ready(state, W2, 1001.0, running=[[job_id, 1]])  # same host and pid, new connection
    state.handle_worker(W2, m.Heartbeat(), 1004.0)
    state.tick(1000.5 + state.config.reclaim_lease_s + 0.1)
    job = state.active[job_id]
    assert job.status == "running" and job.worker == W2 and job.attempts == 1


def test_an_empty_plan_is_whole() -> None:
    state = make()
    job_id = running(state)
    effects = state.handle_worker(W1, m.PlanOps(job=job_id, attempt=1, ops=[], complete=True,
                                                n=1, total=0), 1000.1)
    answer(state, effects, (0, -1, -1), 1000.2)
    effects = state.handle_worker(W1, m.Done(job=job_id, attempt=1, n=2), 1000.3)
    answer(state, effects, (0, 0, -1, -1), 1000.4)
    assert state.finished[job_id].status == "completed"


def test_a_cancelled_attempt_nobody_asked_for_is_requeued_not_cancelled() -> None:
    state = make()
    job_id = running(state)
    effects = state.handle_worker(W1, m.Cancelled(job=job_id, attempt=1, n=1), 1000.1)
    job = state.active[job_id]
    assert job.status == "queued" and job.error["code"] == "worker.lost"
    assert acked(effects) == [1]
