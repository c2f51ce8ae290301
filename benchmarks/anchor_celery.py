"""Celery anchor: a no-op task over Redis (broker and result backend).

    ANCHOR_REDIS=redis://127.0.0.1:PORT celery -A benchmarks.anchor_celery worker -P solo ...
    ANCHOR_REDIS=... python -m benchmarks.anchor_celery --jobs N --window W ...

Runs in the anchor venv (benchmarks/anchors.py starts it); the URL comes from the
environment because Celery imports this module by name in its worker.
"""

from __future__ import annotations

import os

from celery import Celery

REDIS = os.environ.get("ANCHOR_REDIS", "redis://127.0.0.1:6379")
app = Celery("anchor", broker=f"{REDIS}/0", backend=f"{REDIS}/1")
app.conf.update(broker_connection_retry_on_startup=True, worker_hijack_root_logger=False,
                result_expires=600)


@app.task(name="noop")
def noop() -> None:
    """Do nothing."""


if __name__ == "__main__":
    from benchmarks.anchor_load import run

    run(noop.delay, lambda r: r.get(timeout=60))
