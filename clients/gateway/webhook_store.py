"""Which webhook deliveries started which job: redeliveries answer the first job's id.

A delivery is keyed per file — ``app | instanceName | eventType | downloadId |
file id`` — so a redelivery of the same event finds its job, and so does
Sonarr's ImportComplete (sent as eventType ``Download`` too) for the files an
earlier per-file Download already handled.  Keys live for the dedupe window
(an hour by default) in ``DATA_DIR/webhooks.sqlite`` (mode 0600), so a
gateway restart keeps them; the event loop keeps the live copy in a dict and
the file is written by one thread, never from the loop.

A key is *claimed* while its START is in flight: a second identical delivery
arriving meanwhile waits for the first one's outcome instead of starting a
second job.

The same file keeps which app and event started each job (``sources``, for
SOURCE_RETENTION_S), so the web UI can mark webhook jobs; the job maps at
the broker do not carry it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from medialoom.private import private_dir

FILE = "webhooks.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
  key TEXT PRIMARY KEY, job TEXT NOT NULL, created REAL NOT NULL, meta TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_created ON deliveries (created);
CREATE TABLE IF NOT EXISTS sources (job TEXT PRIMARY KEY, received REAL NOT NULL, meta TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS sources_received ON sources (received);
"""
#: how long the app and event of a webhook job are kept (the broker's retention is shorter)
SOURCE_RETENTION_S = 90 * 86_400.0
MAX_SOURCES = 500


def delivery_key(app: str, instance: str, event: str, download_id: str, file_id: int) -> str:
    """The dedupe key of one file of one delivery."""
    return "|".join((app, instance, event, download_id, str(file_id)))


@dataclass(frozen=True)
class Seen:
    """A key's first job and when it was recorded (unix seconds)."""

    job: str
    created: float


class DeliveryLog:
    """The dedupe map: in memory for the loop, persisted by one writer thread."""

    def __init__(self, data_dir: str, window_s: float) -> None:
        self.path = os.path.join(data_dir, FILE) if data_dir else ""
        self.window_s = window_s
        self.seen: dict[str, Seen] = {}
        self.claims: dict[str, asyncio.Future[str]] = {}
        #: the sources of the last MAX_SOURCES jobs started here (the rest is in the file)
        self.recent: dict[str, dict[str, Any]] = {}
        self._db: sqlite3.Connection | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhook-store")

    def __repr__(self) -> str:
        return f"<DeliveryLog seen={len(self.seen)} claims={len(self.claims)} {self.path!r}>"

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def _open(self, now: float) -> dict[str, Seen]:
        private_dir(os.path.dirname(self.path))
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        os.fchmod(fd, 0o600)
        os.close(fd)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")  # a commit survives a crash of the gateway
        db.execute("PRAGMA synchronous=NORMAL")  # without an fsync each (power loss: see README)
        db.executescript(SCHEMA)
        db.execute("DELETE FROM deliveries WHERE created < ?", (now - self.window_s,))
        db.execute("DELETE FROM sources WHERE received < ?", (now - SOURCE_RETENTION_S,))
        self._db = db
        return {key: Seen(job, created) for key, job, created in
                db.execute("SELECT key, job, created FROM deliveries")}

    async def open(self) -> None:
        """Load the keys still inside the window (creates the file if needed)."""
        if self.path:
            self.seen = await self._run(self._open, time.time())

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    async def close(self) -> None:
        """Close the file and the writer thread."""
        with contextlib.suppress(Exception):
            await self._run(self._close)
        self._pool.shutdown(wait=False)

    def lookup(self, key: str, now: float) -> str | None:
        """The job a key started within the window, else None (expired keys are dropped)."""
        seen = self.seen.get(key)
        if seen is None:
            return None
        if now - seen.created > self.window_s:
            del self.seen[key]
            return None
        return seen.job

    def claim(self, keys: list[str]) -> asyncio.Future[str]:
        """Mark keys as in flight; the future gets the job id (or the START's exception)."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        for key in keys:
            self.claims[key] = future
        return future

    def release(self, keys: list[str], future: asyncio.Future[str]) -> None:
        """Drop the claims of keys held by future."""
        for key in keys:
            if self.claims.get(key) is future:
                del self.claims[key]

    def _write(self, rows: list[tuple[str, str, float, str]], job: str, now: float,
               meta: str) -> None:
        assert self._db is not None
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO deliveries VALUES (?, ?, ?, ?)", rows)
            self._db.execute("INSERT OR REPLACE INTO sources VALUES (?, ?, ?)", (job, now, meta))
            self._db.execute("DELETE FROM deliveries WHERE created < ?", (now - self.window_s,))

    async def record(self, keys: list[str], job: str, meta: dict[str, Any], now: float) -> None:
        """Remember that keys started job, and meta as its source (memory now, the file
        before this returns)."""
        for key in keys:
            self.seen[key] = Seen(job, now)
        self.recent[job] = {**meta, "received": now}
        if len(self.recent) > MAX_SOURCES:
            self.recent.pop(next(iter(self.recent)))
        if len(self.seen) > 4096:  # keep the dict to the window
            self.seen = {k: s for k, s in self.seen.items() if now - s.created <= self.window_s}
        if self._db is not None:
            text = json.dumps(meta, separators=(",", ":"))
            await self._run(self._write, [(k, job, now, text) for k in keys], job, now, text)

    def _sources(self, jobs: list[str]) -> dict[str, dict[str, Any]]:
        if self._db is None:
            return {}
        marks = ",".join("?" * len(jobs))
        rows = self._db.execute(f"SELECT job, received, meta FROM sources WHERE job IN ({marks})",
                                jobs)
        return {job: {**json.loads(meta), "received": received} for job, received, meta in rows}

    async def sources(self, jobs: list[str]) -> dict[str, dict[str, Any]]:
        """``{job: {app, event, shape, title, instance, received}}`` for the webhook jobs among
        jobs (at most MAX_SOURCES asked)."""
        jobs = list(dict.fromkeys(jobs))[:MAX_SOURCES]
        found = {j: self.recent[j] for j in jobs if j in self.recent}
        missing = [j for j in jobs if j not in found]
        if missing and self._db is not None:
            found.update(await self._run(self._sources, missing))
        return found
