"""The SQLite store: one writer thread, group commit, reads ordered after writes.

The actor never touches SQLite.  It submits writes and reads to a queue; the
writer thread takes everything waiting, applies the writes in one
transaction, commits, runs the reads, and hands all results back to the loop
in one call.  So an acknowledgement sent "after the commit" really is after
it, and a read sees every write submitted before it.  WAL mode; with
``sync=normal`` a commit survives a crash of the process (kill -9), with
``sync=full`` also a crash of the machine.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from medialoom.private import private_files

from .checkpoint import IDLE_S, Checkpointer, WalBound
from .jobs import COLUMNS, Job, job_from_row, stored_job
from .reads import StoreReads
from .rows import ITEM_FIELDS, PLAN_FIELDS, stored, table_sql
from .statements import INSERT_ITEM, INSERT_PLAN, apply_op, set_cancel_flags, upsert_jobs

log = logging.getLogger(__name__)

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, paths TEXT, params TEXT, priority INTEGER,
  dry_run INTEGER, status TEXT NOT NULL, attempts INTEGER, max_attempts INTEGER,
  created REAL, started REAL, updated REAL, finished REAL, error TEXT,
  cancel_requested INTEGER, seq INTEGER, result TEXT, total INTEGER, processed INTEGER,
  succeeded INTEGER, skipped INTEGER, failed INTEGER, current TEXT, rate REAL,
  planned INTEGER DEFAULT 0, batches INTEGER DEFAULT 0, retry_of TEXT
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created);
CREATE INDEX IF NOT EXISTS jobs_finished ON jobs (finished);
{table_sql("items", ITEM_FIELDS)}
CREATE INDEX IF NOT EXISTS items_status ON items (job_id, status, i);
{table_sql("plan", PLAN_FIELDS)}
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
INSERT OR IGNORE INTO meta VALUES ('schema', '1');
"""
MAX_BATCH = 2000
#: item and plan rows one transaction takes from the data queue: bounds how long a control
#: write (a START, a CANCEL, a finished job) waits behind item inserts
DATA_ROWS_PER_COMMIT = 1024
#: item or plan rows per statement: a preempted transaction ends after at most this many
ROW_CHUNK = 64
#: reads whose first argument is a job id: they see every write of that job queued before them
_READS_ABOUT_A_JOB = frozenset({"get", "retry", "plan_check", "tally", "results", "plan",
                                "plan_page"})
#: batches in a row whose every write failed before the writer gives up (the broker then exits 1)
MAX_FAILED_BATCHES = 20
#: columns added after schema 1, with their definitions (added to older stores on open)
_ADDED_COLUMNS = {"batches": "INTEGER DEFAULT 0", "retry_of": "TEXT"}

Done = Callable[[list[tuple[Any, bool]], list[tuple[int, Any]]], None]


def connect(path: str, sync: str = "normal") -> sqlite3.Connection:
    """A connection in WAL mode with the schema in place."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if sync == 'full' else 'NORMAL'}")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.executescript(SCHEMA)
    have = {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}
    for name, definition in _ADDED_COLUMNS.items():
        if name not in have:
            conn.execute(f"ALTER TABLE jobs ADD COLUMN {name} {definition}")
    private_files(path, f"{path}-wal", f"{path}-shm")
    return conn


def load_active(path: str) -> list[Job]:
    """Queued and running jobs, read once at start-up before the loop runs."""
    conn = connect(path)
    try:
        rows = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM jobs WHERE status IN "
                            "('queued', 'running') ORDER BY created").fetchall()
    finally:
        conn.close()
    return [job_from_row(r) for r in rows]


class Store(StoreReads):
    """The writer thread and its queue."""

    def __init__(self, path: str, sync: str = "normal") -> None:
        self.path = path
        self.sync = sync
        self._queue: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._on_done: Done | None = None
        self._on_fatal: Callable[[], None] | None = None
        self.commits = 0
        self.ops = 0
        self.failures = 0

    def __repr__(self) -> str:
        return f"<Store {self.path} commits={self.commits} ops={self.ops}>"

    def start(self, on_done: Done, on_fatal: Callable[[], None] | None = None) -> None:
        """Start the writer; on_done(writes, reads) is called in the writer thread per batch.

        ``writes`` holds ``(then, ok)`` per write: ok is False when its transaction failed
        (nothing of it is stored).  on_fatal is called if the writer has to stop.
        """
        self._on_done = on_done
        self._on_fatal = on_fatal
        self._thread = threading.Thread(target=self._run, name="medialoom-store", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Commit what is queued and stop the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)

    def write(self, ops: tuple[tuple[Any, ...], ...], then: Any) -> None:
        """Queue writes; ``then`` is handed back after their commit."""
        self._queue.put(("w", ops, then))

    def read(self, name: str, args: tuple[Any, ...], token: int) -> None:
        """Queue a read that runs after every write queued before it."""
        self._queue.put(("r", name, args, token))

    def submit(self, entries: list[tuple[Any, ...]]) -> None:
        """Queue several writes (``("w", ops, then)``) and reads (``("r", name, args,
        token)``) at once, in order: the writer wakes once for all of them and finds them
        together (the actor hands over one loop turn's worth: one transaction, not one
        per write the writer happened to wake up for)."""
        self._queue.put(("m", entries))

    # --- the thread ----------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """True while the writer thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        try:
            self._serve()
        except BaseException:
            log.critical("the store writer stopped; the broker cannot persist anything and "
                         "exits", exc_info=True)
            if self._on_fatal is not None:
                self._on_fatal()

    def _serve(self) -> None:
        conn = connect(self.path, self.sync)
        conn.execute("PRAGMA wal_autocheckpoint=0")  # the Checkpointer does it, beside us
        checkpointer = Checkpointer(self.path)
        checkpointer.start()
        try:
            self._write_loop(conn, WalBound(self.path))
        finally:
            checkpointer.stop()
            conn.close()

    def _write_loop(self, conn: sqlite3.Connection, wal: WalBound) -> None:
        data: deque[tuple[Any, ...]] = deque()  # data-plane writes not committed, in order
        waiting: Counter[str] = Counter()  # job id -> its writes in ``data``
        stop = False
        failed_batches = 0
        data_turn = True  # the next transaction may take queued item rows
        while not (stop and not data):
            batch = self._drain(block=not data and not stop)
            if not batch and not data:  # nothing came for IDLE_S: a quiet moment
                wal.when_idle(conn)
                continue
            if None in batch:
                stop = True
                batch = [b for b in batch if b is not None]
            writes, reads, free = self._plan_commit(batch, data, waiting, data_turn)
            done_writes: list[tuple[Any, bool]] = []
            done_reads: list[tuple[int, Any]] = []
            took_part = False
            if writes:
                failed, left = self._commit_all(conn, writes, free)
                for w in reversed(left):  # preempted: first in the next transaction's data
                    data.appendleft(w)
                    waiting[w[3]] += 1
                whole = len(writes) - len(left)
                # a write applied in part comes back as a new tuple: its first rows are in
                took_part = bool(left) and left[0] is not writes[whole]
                writes = writes[:whole]
                done_writes = [(w[2], i not in failed) for i, w in enumerate(writes)]
                failed_batches = failed_batches + 1 if len(failed) == len(writes) else 0
                if failed_batches >= MAX_FAILED_BATCHES:
                    raise RuntimeError(f"{failed_batches} write batches in a row failed")
            # control writes may commit alone (short) right after one that took item rows;
            # one that did not makes the next one take them (data never starves)
            data_turn = not (any(len(w) == 5 for w in writes) or took_part)
            for _, name, args, token in reads:
                try:
                    done_reads.append((token, getattr(self, f"_read_{name}")(conn, *args)))
                except Exception as exc:  # a read must never kill the writer
                    log.exception("store read %s failed", name)
                    done_reads.append((token, exc))
            if (done_writes or done_reads) and self._on_done is not None:
                self._on_done(done_writes, done_reads)
            if writes:
                wal.after_commit(conn)

    def _drain(self, block: bool) -> list[tuple[Any, ...] | None]:
        """What is queued (waiting for the first entry if block), at most MAX_BATCH entries."""
        batch: list[tuple[Any, ...] | None] = []
        if block:
            try:
                self._take(batch, self._queue.get(timeout=IDLE_S))
            except queue.Empty:
                return batch
        while len(batch) < MAX_BATCH:
            try:
                self._take(batch, self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    @staticmethod
    def _take(batch: list[tuple[Any, ...] | None], entry: tuple[Any, ...] | None) -> None:
        if entry is not None and entry[0] == "m":
            batch.extend(entry[1])
        else:
            batch.append(entry)

    @staticmethod
    def _plan_commit(batch: list[tuple[Any, ...]], data: deque[tuple[Any, ...]],
                     waiting: Counter[str], data_turn: bool = True,
                     ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int]:
        """The writes of the next transaction, in commit order, the reads after it, and
        the index from which on the writes are data that nothing in the batch waits for
        (the transaction may end before them when a control write arrives: _commit).

        Control writes (job rows, cancel flags, deletes) go first, in arrival order;
        data writes (item and plan rows of one job) wait in ``data`` and fill the rest
        of the transaction up to DATA_ROWS_PER_COMMIT rows, unless control writes came
        and it is not ``data_turn``: then they commit alone, in a short transaction (the
        next one takes data, so item rows never starve).  Order per job is kept: a control
        write or a read about a job first takes that job's queued data writes.
        """
        writes: list[tuple[Any, ...]] = []
        reads: list[tuple[Any, ...]] = []

        def take(job_ids: Any) -> None:
            for job_id in job_ids:
                if waiting.get(job_id):
                    mine = [w for w in data if w[3] == job_id]
                    for w in mine:
                        data.remove(w)
                    writes.extend(mine)
                    del waiting[job_id]

        for entry in batch:
            if entry[0] == "r":
                if entry[1] in _READS_ABOUT_A_JOB:
                    take(entry[2][:1])
                reads.append(entry)
                continue
            ops = entry[1]
            if len(ops) == 1 and ops[0][0] == "job":  # the common write: one job row
                if waiting:
                    take((ops[0][1][0],))
                writes.append(entry)
                continue
            jobs = _jobs_of(ops)
            rows = sum(len(op[1]) for op in ops if op[0] in ("items", "plan"))
            if rows and len(jobs) == 1:
                job_id = next(iter(jobs))
                data.append((*entry, job_id, rows))
                waiting[job_id] += 1
            else:
                take(jobs)
                writes.append(entry)
        free = len(writes)
        budget = DATA_ROWS_PER_COMMIT if data_turn or not writes else 0
        while data and budget > 0:
            w = data.popleft()
            waiting[w[3]] -= 1
            if not waiting[w[3]]:
                del waiting[w[3]]
            writes.append(w)
            budget -= w[4]
        return writes, reads, free

    def _commit_all(self, conn: sqlite3.Connection, writes: list[tuple[Any, ...]],
                    free: int | None = None) -> tuple[set[int], list[tuple[Any, ...]]]:
        """Commit writes in one transaction; if that fails, each on its own.  The failed
        ones (indices), and the data writes from ``free`` on that were left out because a
        new entry arrived in the queue meanwhile (a control write must not wait for them)."""
        try:
            done, rest = self._commit(conn, writes, len(writes) if free is None else free)
            if rest is not None:  # writes[done] was applied in part: rest is what is left of it
                return set(), [rest, *writes[done + 1:]]
            return set(), writes[done:]
        except Exception:
            log.exception("a group commit of %d writes failed; retrying them one by one",
                          len(writes))
            self._rollback(conn)
        failed = set()
        for i, write in enumerate(writes):
            try:
                self._commit(conn, [write])
            except Exception:
                self.failures += 1
                log.exception("a write failed and was not stored")
                self._rollback(conn)
                failed.add(i)
        return failed, []

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            conn.execute("ROLLBACK")

    def _commit(self, conn: sqlite3.Connection, writes: list[tuple[Any, ...]],
                free: int | None = None) -> tuple[int, tuple[Any, ...] | None]:
        """Apply writes in one transaction and commit: how many were applied whole, and
        what is left of the next one if it was applied in part.  From index ``free`` on,
        once ROW_CHUNK rows of them are in, the rest is left when the queue has a new
        entry, or at once if writes before ``free`` wait for this commit (data keeps
        moving, one chunk per transaction at least; a control write waits for one chunk
        of item rows, not a whole batch of 256, nor the transaction's 1,024)."""
        jobs: dict[str, tuple[Any, ...]] = {}
        flags: list[str] = []  # job ids whose cancel flag this transaction sets
        conn.execute("BEGIN")
        applied, rest = len(writes), None
        waited = free is not None and free > 0
        rows_in = 0
        for n, write in enumerate(writes):
            preemptible = free is not None and n >= free
            if preemptible and n > free and self._cut(waited, rows_in):  # type: ignore[operator]
                applied = n
                break
            for k, op in enumerate(write[1]):
                self.ops += 1
                if op[0] == "job":
                    jobs[op[1][0]] = op[1]
                elif op[0] == "cancel_flag":  # after the job rows, all in one statement
                    flags.append(op[1])
                elif op[0] in ("items", "plan"):
                    at = self._insert_rows(conn, op, preemptible, waited, rows_in)
                    rows_in += at
                    if at < len(op[1]):  # the rest of this write (rows, then its other ops)
                        rest = ("w", ((op[0], op[1][at:]), *write[1][k + 1:]), *write[2:4],
                                write[4] - at)
                        break
                else:
                    if jobs:
                        upsert_jobs(conn, [stored_job(r) for r in jobs.values()])
                        jobs.clear()
                    apply_op(conn, op)
            if rest is not None:
                applied = n
                break
        if jobs:
            upsert_jobs(conn, [stored_job(r) for r in jobs.values()])
        if flags:  # a job row never takes a flag back (statements._UPSERT): order is free
            set_cancel_flags(conn, flags)
        conn.execute("COMMIT")
        self.commits += 1
        return applied, rest

    def _insert_rows(self, conn: sqlite3.Connection, op: tuple[Any, ...], preemptible: bool,
                     waited: bool = False, rows_in: int = 0) -> int:
        """Insert an items or plan op's rows ROW_CHUNK at a time; if preemptible, stop
        after a chunk where _cut says so (waited: control writes of the transaction wait
        for it; rows_in: its data rows already in).  How many rows went in."""
        rows = op[1]
        sql = INSERT_ITEM if op[0] == "items" else INSERT_PLAN
        at = 0
        while at < len(rows):
            if at and preemptible and self._cut(waited, rows_in + at):
                return at
            conn.execute(sql, (stored(rows[at:at + ROW_CHUNK]),))
            at += ROW_CHUNK
        return len(rows)

    def _cut(self, waited: bool, rows_in: int) -> bool:
        """End a transaction's data part here?  Once a chunk is in when control writes of
        this transaction wait for the commit, or when a new entry is queued."""
        return (waited and rows_in >= ROW_CHUNK) or not self._queue.empty()


def _jobs_of(ops: tuple[tuple[Any, ...], ...]) -> set[str]:
    """The job ids whose earlier writes a write must follow.

    A purge touches only long-finished jobs (none); a cancel flag needs no order (no
    job row takes it back), so a CANCEL does not wait behind the job's item rows.
    """
    jobs: set[str] = set()
    for op in ops:
        if op[0] == "job":
            jobs.add(op[1][0])
        elif op[0] in ("items", "plan"):
            jobs.update(r[0] for r in op[1])
        elif op[0] not in ("purge", "cancel_flag"):
            jobs.add(op[1])
    return jobs

