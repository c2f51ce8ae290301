"""Workers on other hosts in the broker's state machine (SPEC.md 6.9), now injected: READY's
path_map is checked (refused with a DISCONNECT code), dispatch gives a job only to a worker that
reaches its paths, and a job no connected worker reaches waits with ``waiting`` saying why."""

from __future__ import annotations

from typing import Any

from medialoom.broker.jobs import job_map
from medialoom.protocol import messages as m
from tests.broker.test_state import C1, W1, W2, acks, dispatched, make, start, to_workers

W3 = b"worker-3"


def ready(state: Any, peer: bytes, now: float, path_map: list[list[str]], slots: int = 2,
          pid: int = 1, kinds: tuple[str, ...] = ("sleep", "scan", "rename", "rollback")
          ) -> list[Any]:
    return state.handle_worker(peer, m.Ready(kinds=list(kinds), slots=slots, host=f"h{pid}",
                                             pid=pid, path_map=path_map), now)


def status(state: Any, job_id: str, now: float) -> dict[str, Any]:
    reply = acks(state.handle_client(C1, m.Status(rid=99, job=job_id), now))[0]
    assert isinstance(reply, m.Reply)
    return reply.data["job"]


def test_a_job_goes_only_to_a_worker_that_reaches_its_paths() -> None:
    state = make()
    ready(state, W1, 1000.0, [["/lib/music", "/mnt/music"]], pid=1)
    ready(state, W2, 1000.0, [["/lib/video", "/nas/video"]], pid=2)
    for i, path in enumerate(["/lib/video/a.mkv", "/lib/music/b.mp3", "/lib/video/c"]):
        _, effects = start(state, 1000.1 + i, rid=i + 1, kind="scan", paths=[path])
        (sent,) = to_workers(effects)
        assert sent.peer == (W2 if "video" in path else W1), path


def test_a_job_no_worker_reaches_waits_and_status_says_why() -> None:
    state = make()
    ready(state, W1, 1000.0, [["/lib/music", "/mnt/music"]])
    job_id, effects = start(state, 1000.1, kind="scan", paths=["/lib/video/a.mkv"])
    assert not dispatched(effects)
    job = status(state, job_id, 1000.2)
    assert job["status"] == "queued"
    assert job["waiting"] == ("no connected worker can reach /lib/video/a.mkv "
                              "(the scan workers map /lib/music)")
    # a job it does reach is not held up behind it
    other, effects = start(state, 1000.3, rid=2, kind="scan", paths=["/lib/music/x"])
    assert [d.job for d in dispatched(effects)] == [other]
    # a worker that reaches it registers: it is dispatched, and waits no more
    effects = ready(state, W2, 1001.0, [["/lib", "/srv/lib"]], pid=2)
    assert [(d.job, e.peer) for e in to_workers(effects)
            if isinstance(d := e.msg, m.Dispatch)] == [(job_id, W2)]
    assert status(state, job_id, 1001.1)["waiting"] == ""


def test_a_worker_without_mappings_reaches_every_path() -> None:
    state = make()
    ready(state, W1, 1000.0, [["/lib/music", "/mnt/music"]])
    job_id, effects = start(state, 1000.1, kind="scan", paths=["/lib/video"])
    assert not dispatched(effects)
    effects = ready(state, W2, 1001.0, [], pid=2)
    assert [d.job for d in dispatched(effects)] == [job_id]


def test_a_job_only_busy_workers_reach_holds_up_nothing_behind_it() -> None:
    state = make()
    ready(state, W1, 1000.0, [["/lib/music", "/mnt/music"]], slots=1, pid=1)
    ready(state, W2, 1000.0, [["/lib/video", "/nas/video"]], slots=1, pid=2)
    first, _ = start(state, 1000.1, rid=1, kind="scan", paths=["/lib/music/1"])
    second, effects = start(state, 1000.2, rid=2, kind="scan", paths=["/lib/music/2"])
    assert not dispatched(effects)  # W1 is busy; W2 does not reach it
    third, effects = start(state, 1000.3, rid=3, kind="scan", paths=["/lib/video/3"])
    assert [(d.job, e.peer) for e in to_workers(effects)
            if isinstance(d := e.msg, m.Dispatch)] == [(third, W2)]
    assert status(state, second, 1000.4)["waiting"] == ""  # it waits for a slot, as usual
    effects = state.handle_worker(W1, m.Done(job=first, attempt=1, n=1), 1001.0)
    assert second in [d.job for d in dispatched(effects)]


def test_a_rollback_goes_where_the_target_jobs_paths_are_reached() -> None:
    state = make()
    ready(state, W1, 1000.0, [["/lib/music", "/mnt/music"]], pid=1, slots=4)
    target, _ = start(state, 1000.1, kind="rename", paths=["/lib/music/a"])
    state.handle_worker(W1, m.Done(job=target, attempt=1, n=1), 1000.2)
    assert status(state, target, 1000.3)["status"] == "completed"
    state.handle_worker(W1, m.Disconnect(), 1000.5)
    ready(state, W2, 1001.0, [["/lib/video", "/nas/video"]], pid=2, slots=4)
    undo, effects = start(state, 1001.1, rid=2, kind="rollback", params={"job": target})
    assert not dispatched(effects)
    assert "/lib/music/a" in status(state, undo, 1001.2)["waiting"]
    effects = ready(state, W3, 1002.0, [["/lib/music", "/mnt/music"]], pid=3)
    assert [(d.job, e.peer) for e in to_workers(effects)
            if isinstance(d := e.msg, m.Dispatch)] == [(undo, W3)]


def test_a_bad_path_map_is_refused_with_a_code_and_the_worker_is_not_registered() -> None:
    state = make()
    for bad in ([["/elsewhere", "/mnt"]], [["/lib/", "/mnt"]], [["/lib", 3]],
                [["/lib/a", "/x"], ["/lib/a", "/y"]]):
        effects = ready(state, W3, 1000.0, bad)
        (sent,) = to_workers(effects)
        assert isinstance(sent.msg, m.Disconnect) and sent.msg.code == "worker.bad_path_map"
        assert sent.msg.reason.startswith("READY refused: ")
        assert W3 not in state.workers
    assert state.counters["refused"] == 4


def test_stats_list_each_workers_mappings_and_the_waiting_jobs() -> None:
    state = make()
    ready(state, W1, 1000.0, [["/lib/music", "/mnt/music"]])
    start(state, 1000.1, kind="scan", paths=["/lib/video"])
    job_id, _ = start(state, 1000.2, rid=2, kind="scan", paths=["/lib/music/a"])
    effects = state.handle_client(C1, m.Stats(rid=5), 1000.3)
    query = next(e for e in effects if type(e).__name__ == "Query")
    done = state.finish_query(query.token, {"counts": {}}, 1000.4)
    (reply,) = acks(done)
    (worker,) = reply.data["workers"]
    assert worker["path_map"] == [["/lib/music", "/mnt/music"]]
    assert worker["jobs"] == [job_id] and worker["running"] == 1
    assert reply.data["waiting"] == 1


def test_a_job_map_has_waiting_only_while_queued() -> None:
    state = make()
    job_id, _ = start(state, 1000.0)
    job = state.job(job_id)
    job.waiting = "no connected worker can reach /x"
    assert job_map(job)["waiting"] == job.waiting
    job.status = "running"
    assert job_map(job)["waiting"] == ""
