"""The worker's result stream: numbered, kept until acknowledged, resent in order."""

from __future__ import annotations

import asyncio

from medialoom.protocol import codec
from medialoom.protocol import messages as m
from medialoom.workers.stream import WINDOW, Streams
from medialoom.workers.wire import wire_safe


def items(job: str, attempt: int = 1):  # noqa: ANN201
    return lambda n: m.Items(job=job, attempt=attempt, items=[{"i": n}], n=n)


def numbers(frames: list[list[bytes]]) -> list[int]:
    return [codec.decode(f, "worker").n for f in frames]


def test_messages_are_numbered_and_kept_until_an_ack_covers_them() -> None:
    s = Streams()
    s.open("J", 1)
    for _ in range(5):
        s.add("J", 1, items("J"))
    s.ack("J", 1, 3)
    assert numbers(s.everything()) == [4, 5]
    s.ack("J", 2, 5)  # an ACK for another attempt changes nothing
    assert numbers(s.everything()) == [4, 5]


def test_an_ended_attempt_is_listed_until_its_end_is_acknowledged() -> None:
    s = Streams()
    s.open("J", 1)
    s.add("J", 1, items("J"))
    s.add("J", 1, lambda n: m.Done(job="J", attempt=1, n=n), final=True)
    assert s.ending() == [["J", 1]]
    s.ack("J", 1, 2)
    assert s.ending() == [] and s.everything() == []


def test_cancel_of_an_ended_attempt_forgets_it_but_not_a_running_one() -> None:
    s = Streams()
    s.open("A", 1)
    s.add("A", 1, items("A"))
    s.drop("A", 1)
    assert numbers(s.everything()) == [1]  # still running: its results stay
    s.add("A", 1, lambda n: m.Cancelled(job="A", attempt=1, n=n), final=True)
    s.drop("A", 1)
    assert s.everything() == []


def test_overdue_messages_are_sent_again_and_the_window_holds_a_job_back() -> None:
    s = Streams()
    s.open("J", 1)
    for _ in range(WINDOW):
        s.add("J", 1, items("J"))
    assert s.overdue(60.0) == []
    assert len(s.overdue(-1.0)) == WINDOW

    async def scenario() -> bool:
        waiter = asyncio.create_task(s.wait_window("J", asyncio.Event()))
        await asyncio.sleep(0.05)
        held = not waiter.done()
        s.ack("J", 1, 10)
        await asyncio.wait_for(waiter, 5)
        return held

    assert asyncio.run(scenario())


def test_reported_values_are_made_safe_for_the_wire() -> None:
    value = {"tag": b"\x00\xff", "gain": float("nan"), "peak": float("inf"), 1: (1, 2),
             "big": 1 << 70, "ok": [1.5, "x", None, True]}
    assert wire_safe(value) == {"tag": "00ff", "gain": None, "peak": None, "1": [1, 2],
                                "big": str(1 << 70), "ok": [1.5, "x", None, True]}
    deep: list = []
    for _ in range(100):
        deep = [deep]
    assert codec.decode(codec.encode(m.Items(job="J", attempt=1, items=[{"i": 0, "d":
                                                                         wire_safe(deep)}]),
                                     "worker"), "worker")
