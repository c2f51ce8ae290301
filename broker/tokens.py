"""Request tokens: one budget per key for every worker of the broker (SPEC.md section 6, TOKEN).

A kind that talks to a service limiting requests per client IP (MusicBrainz:
about one per second) declares the limit *shared*; every attempt of every
worker then asks the broker for a token for the key (the service's host)
with W:TOKEN, and the broker answers B:GRANT with the seconds to wait before
using it.  The broker never waits itself: it reserves a time slot and says
how far away it is.  Plain Python, ``now`` passed in, like the state.

The rule, per key: a rate of r requests per second allows n = max(1,
floor(r)) requests in any window of W = max(1, n / r) seconds, plus
MARGIN_S.  Slots are handed out in arrival order, each no earlier than the
one before and at least W after the n-th before it, so no window of W holds
more than n of them.  A request reaches the service a little after its slot
(the GRANT's trip, the worker's timer, the HTTP send); the margin absorbs
up to MARGIN_S of such lateness, so the service sees at most n requests in
any second.  A budget costs its last ``n`` slots (at most MAX_SLOTS) and is
dropped after IDLE_S without a request; at most MAX_KEYS keys are kept.

Known weaknesses: a broker restart forgets the slots (right after one, a
second burst of n may follow the last); a worker that reserves and then
does not send (a cancel) leaves its slot unused.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MARGIN_S", "MAX_RATE", "Budgets", "window"]

#: lateness between a slot and the request's arrival that the budget absorbs
MARGIN_S = 0.08
MAX_RATE = 1000.0
MIN_RATE = 0.001
MAX_KEY = 255
MAX_SLOTS = 1000
MAX_KEYS = 1024
IDLE_S = 3600.0


def window(rate: float) -> tuple[int, float]:
    """(n, W): at most n requests in any W seconds for a rate (before the margin)."""
    n = max(1, math.floor(rate))
    return n, max(1.0, n / rate)


@dataclass
class Budget:
    """The slots handed out for one key."""

    slots: deque[float] = field(default_factory=lambda: deque(maxlen=MAX_SLOTS))
    granted: int = 0

    def reserve(self, rate: float, now: float) -> float:
        """The next slot for a request at rate (absolute time)."""
        n, span = window(rate)
        slot = now
        if self.slots:
            slot = max(slot, self.slots[-1])
        if len(self.slots) >= n:
            slot = max(slot, self.slots[-n] + span + MARGIN_S)
        self.slots.append(slot)
        self.granted += 1
        return slot


class Budgets:
    """Every key's budget; ``answer`` turns a TOKEN into the fields of its GRANT."""

    def __init__(self) -> None:
        self.keys: OrderedDict[str, Budget] = OrderedDict()
        self.refused = 0

    def __repr__(self) -> str:
        return f"<Budgets keys={len(self.keys)} refused={self.refused}>"

    def reserve(self, key: str, rate: float, now: float) -> float:
        """Seconds from now to the slot of one request for key at rate."""
        budget = self.keys.pop(key, None)
        self._forget(now)
        if budget is None:
            budget = Budget()
        self.keys[key] = budget  # the most recently used last
        return max(0.0, budget.reserve(rate, now) - now)

    def _forget(self, now: float) -> None:
        """Drop idle budgets (least recently used first) and keep room for one more."""
        while self.keys:
            oldest = next(iter(self.keys.values()))
            idle = not oldest.slots or oldest.slots[-1] < now - IDLE_S
            if not idle and len(self.keys) < MAX_KEYS:
                return
            self.keys.popitem(last=False)

    def answer(self, key: str, rate: float, now: float) -> dict[str, Any]:
        """``{wait_s}``, or ``{error}`` for a key or rate out of range."""
        if not key or len(key) > MAX_KEY or not (MIN_RATE <= rate <= MAX_RATE):
            self.refused += 1
            return {"wait_s": 0.0, "error": {
                "code": "protocol.bad_field",
                "message": f"a token needs a key of 1..{MAX_KEY} characters and a rate of "
                           f"{MIN_RATE:g}..{MAX_RATE:g} per second"}}
        return {"wait_s": round(self.reserve(key, rate, now), 6)}
