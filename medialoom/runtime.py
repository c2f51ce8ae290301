"""Cycle-collector tuning shared by the broker and worker processes (issue 9)."""

from __future__ import annotations

import gc

#: young objects alive (allocated less freed) that start a worker's young collection
#: (Python's default, which the broker keeps, is 700)
WORKER_YOUNG = 5_000


def quiet_collector(young: int | None = None) -> None:
    """Take start-up's objects out of the cycle collector's sight and collect the oldest
    generation a tenth as often; young: the young generation's threshold (None: keep
    Python's 700).  Call once a process has started up (modules, kinds and settings
    loaded), before its loop runs.  Measured with gc.callbacks:

    - Start-up's objects live as long as the process, yet each full collection walked
      them all again: in a worker 35,000 of them, 87-94 ms of collections per 10,000
      no-op jobs (9 us a job); in the broker a full collection inside one actor turn
      under item load took 25-50 ms, the slowest answers.
    - The jobs a worker has in flight keep more than 700 objects alive, so young
      collections ran every few jobs and found nothing: WORKER_YOUNG leaves none in a
      no-op run.  The broker keeps 700: in it the same change made 374 young collections
      (111 ms) over 20,500 no-op jobs into 5 (13 ms), but under item load each walked
      thousands of queued item rows (p90 9.7 ms against 0.64 ms; max 25.8 against
      18.8 ms), a pause every ack waiting behind it would share.
    """
    gc.freeze()
    gen0, gen1, _ = gc.get_threshold()
    gc.set_threshold(young or gen0, gen1, 100)
