"""The catalog answer cache: one SQLite file under the worker's data dir (blocking calls).

``AnswerCache(path)`` keeps each answer's JSON body, zlib-compressed, under
its key (the request URL with its parameters in sorted order) with the time
it expires; ``get`` returns None for a key it lacks or that has expired.
Every call is blocking: kinds reach it through ``ctx.run_blocking``.  The
worker processes of one host share the file (WAL journal, a busy timeout);
a process's threads share one connection behind a lock.  The file is made
private (0600) in a private folder; expired rows are deleted when the cache
is opened.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import zlib
from typing import Any

__all__ = ["CACHE_FILE", "AnswerCache"]

CACHE_FILE = "catalog-cache.sqlite3"
BUSY_TIMEOUT_S = 10.0
_SCHEMA = """CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY, body BLOB NOT NULL, stored REAL NOT NULL, expires REAL NOT NULL)"""


class AnswerCache:
    """Answers by key with an expiry (see the module docstring)."""

    def __init__(self, path: str, now: float) -> None:
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, check_same_thread=False,
                                   isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        self._db.execute("DELETE FROM answers WHERE expires <= ?", (now,))
        self.hits = self.misses = self.writes = 0

    def __repr__(self) -> str:
        return f"<AnswerCache {self.path} hits={self.hits} misses={self.misses}>"

    def get(self, key: str, now: float) -> Any:
        """The cached answer for key, or None (absent or expired)."""
        with self._lock:
            row = self._db.execute("SELECT body FROM answers WHERE key = ? AND expires > ?",
                                   (key, now)).fetchone()
            if row is None:
                self.misses += 1
                return None
            self.hits += 1
        try:
            return json.loads(zlib.decompress(row[0]))
        except (zlib.error, ValueError):
            return None  # a damaged row is a miss; the next put replaces it

    def put(self, key: str, body: Any, now: float, ttl_s: float) -> None:
        """Keep body under key for ttl_s seconds."""
        blob = zlib.compress(json.dumps(body, separators=(",", ":")).encode(), 6)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?)",
                             (key, blob, now, now + ttl_s))
            self.writes += 1

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()
