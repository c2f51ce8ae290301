"""Dramatiq anchor: a no-op actor over Redis, results in Redis (the Results middleware).

    ANCHOR_REDIS=redis://127.0.0.1:PORT dramatiq benchmarks.anchor_dramatiq --processes 2
    ANCHOR_REDIS=... python -m benchmarks.anchor_dramatiq --jobs N --window W ...

Runs in the anchor venv (benchmarks/anchors.py starts it); the URL comes from the
environment because Dramatiq imports this module by name in its workers.
"""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend

REDIS = os.environ.get("ANCHOR_REDIS", "redis://127.0.0.1:6379")
broker = RedisBroker(url=f"{REDIS}/2")
broker.add_middleware(Results(backend=RedisBackend(url=f"{REDIS}/3")))
dramatiq.set_broker(broker)


@dramatiq.actor(store_results=True)
def noop() -> None:
    """Do nothing."""


if __name__ == "__main__":
    from benchmarks.anchor_load import run

    run(noop.send, lambda msg: msg.get_result(block=True, timeout=60_000))
