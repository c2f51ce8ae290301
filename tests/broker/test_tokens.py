"""broker/tokens.py: request slots of a shared budget, with ``now`` injected (no sleeps)."""

from __future__ import annotations

import math
import random

import pytest

from medialoom.broker.tokens import IDLE_S, MARGIN_S, MAX_KEYS, Budgets, window


def most_in_any(times: list[float], span: float) -> int:
    times = sorted(times)
    best = start = 0
    for end, t in enumerate(times):
        while times[start] <= t - span:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.mark.parametrize("rate", [1.0, 2.5, 20.0, 0.5, 37.0])
def test_no_second_holds_more_than_the_rate_even_with_late_arrivals(rate: float) -> None:
    budgets = Budgets()
    rng = random.Random(int(rate * 10))
    now, arrivals = 1000.0, []
    for _ in range(400):  # requesters ask at random moments, in bursts
        now += rng.choice((0.0, 0.0, 0.001, rng.uniform(0, 0.2)))
        slot = now + budgets.reserve("musicbrainz.org", rate, now)
        arrivals.append(slot + rng.uniform(0, MARGIN_S))  # sent a little after the slot
    assert most_in_any(arrivals, 1.0) <= max(1, math.floor(rate))
    if rate < 1:
        ordered = sorted(arrivals)
        gaps = [b - a for a, b in zip(ordered, ordered[1:], strict=False)]
        assert min(gaps) >= 1 / rate - MARGIN_S


def test_a_busy_budget_runs_close_to_its_rate() -> None:
    budgets = Budgets()
    now, slots = 0.0, []
    for _ in range(2000):  # always someone waiting: each asks as soon as the last slot came
        slots.append(now + budgets.reserve("h", 20.0, now))
        now = max(now, slots[-1 - min(len(slots) - 1, 7)])  # 8 requesters in flight
    rate = len(slots) / (slots[-1] - slots[0])
    assert 20 / (1 + MARGIN_S) * 0.98 <= rate <= 20


def test_slots_come_in_arrival_order_and_keys_are_separate() -> None:
    budgets = Budgets()
    waits = [budgets.reserve("a", 1.0, 10.0) for _ in range(3)]
    assert waits == pytest.approx([0.0, 1 + MARGIN_S, 2 * (1 + MARGIN_S)])
    assert budgets.reserve("b", 1.0, 10.0) == 0.0
    assert budgets.reserve("a", 1.0, 100.0) == 0.0  # long after: at once


def test_window_of_fractional_rates() -> None:
    assert window(1.0) == (1, 1.0)
    assert window(20.0) == (20, 1.0)
    assert window(2.5) == (2, 1.0)
    assert window(0.5) == (1, 2.0)


def test_bad_key_or_rate_is_refused_and_counted() -> None:
    budgets = Budgets()
    for key, rate in (("", 1.0), ("x" * 256, 1.0), ("h", 0.0), ("h", 1e9)):
        answer = budgets.answer(key, rate, 0.0)
        assert answer["error"]["code"] == "protocol.bad_field"
    assert budgets.refused == 4
    assert budgets.answer("h", 1.0, 0.0) == {"wait_s": 0.0}


def test_idle_keys_are_forgotten_and_the_number_of_keys_is_bounded() -> None:
    budgets = Budgets()
    budgets.reserve("old", 1.0, 0.0)
    budgets.reserve("new", 1.0, IDLE_S + 10)
    assert list(budgets.keys) == ["new"]
    for i in range(MAX_KEYS + 50):
        budgets.reserve(f"k{i}", 1.0, IDLE_S + 20)
    assert len(budgets.keys) == MAX_KEYS
