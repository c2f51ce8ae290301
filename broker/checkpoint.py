"""WAL checkpoints off the writer thread.

SQLite's automatic checkpoint runs inside the COMMIT that crosses the WAL size limit:
it copies the WAL into the database file and syncs it, which under item load took the
writer 100 ms and more, and every control write queued meanwhile waited for it.  The
writer connection turns automatic checkpoints off; this thread runs a PASSIVE checkpoint
on its own connection every INTERVAL_S instead, which works beside the writer (it
never takes the write lock, so commits go on while it copies and syncs).

A checkpoint that runs while the writer appends cannot finish (frames keep coming), and
only a finished one lets the next transaction start the WAL over; so the writer also
checkpoints itself (``WalBound``): once it has had nothing to do for IDLE_S (most frames
are copied already, so it is short, and nothing waits for it), or, under load that never
lets it idle, once the WAL has grown past MAX_WAL_BYTES.  (Checkpointing whenever the
queue happened to be empty right after a commit put a checkpoint in front of the next
START or CANCEL twice a second under load: the slowest acks.)
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time

log = logging.getLogger(__name__)

#: seconds between two checkpoints
INTERVAL_S = 0.5
#: a WAL this large is checkpointed by the writer even when requests wait for it
MAX_WAL_BYTES = 256 << 20
#: a writer with nothing to do for this long checkpoints the frames committed since its last
IDLE_S = 0.25


class Checkpointer:
    """A thread that checkpoints the WAL of ``path`` until stopped."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="medialoom-checkpoint",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop after the checkpoint under way, if any."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=1000")
            while not self._stop.wait(INTERVAL_S):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.runs += 1
                except sqlite3.Error as exc:  # busy or I/O: the next round tries again
                    log.warning("WAL checkpoint failed: %s", exc)
        finally:
            conn.close()


class WalBound:
    """The writer's own checkpoints, which let the WAL start over (see the module doc)."""

    def __init__(self, path: str) -> None:
        self.wal = f"{path}-wal"
        self.next_look = 0.0
        self.runs = 0
        #: frames were committed since the writer's last checkpoint
        self.dirty = False

    def after_commit(self, conn: sqlite3.Connection) -> None:
        """After a commit: checkpoint if the WAL has grown over the bound (looked at every
        INTERVAL_S); otherwise the next quiet moment (when_idle) will."""
        self.dirty = True
        now = time.monotonic()
        if now < self.next_look:
            return
        self.next_look = now + INTERVAL_S
        try:
            size = os.path.getsize(self.wal)
        except OSError:
            return
        if size > MAX_WAL_BYTES:
            self._checkpoint(conn)

    def when_idle(self, conn: sqlite3.Connection) -> None:
        """Nothing came for IDLE_S: checkpoint what was committed since the last one."""
        if self.dirty:
            self.dirty = False
            self._checkpoint(conn)

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.runs += 1
        except sqlite3.Error as exc:
            log.warning("WAL checkpoint failed: %s", exc)
