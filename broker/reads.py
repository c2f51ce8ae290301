"""The store's reads: what Query effects ask of the SQLite file (run in the writer thread).

``Store`` runs ``_read_<name>(conn, *args)`` for a Query named ``name``, after
the writes it must see (broker/store.py says which).
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from medialoom.protocol.constants import JOB_STATUSES

from .jobs import COLUMNS, Job, job_from_row
from .rows import ITEM_FIELDS, PLAN_FIELDS, record

_ORDER_SQL = {"created": "created", "updated": "updated", "priority": "priority",
              "status": "status", "kind": "kind", "finished": "finished"}


class StoreReads:
    """The reads, mixed into Store."""

    @staticmethod
    def _read_get(conn: sqlite3.Connection, job_id: str) -> Job | None:
        row = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM jobs WHERE id = ?",
                           (job_id,)).fetchone()
        return job_from_row(row) if row else None

    @staticmethod
    def _read_retry(conn: sqlite3.Connection, job_id: str, not_failed: tuple[str, ...],
                    limit: int) -> tuple[Job | None, list[str], bool]:
        """A job, the paths of its items whose status is not in not_failed (in index order, at
        most limit), and whether there were more."""
        row = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM jobs WHERE id = ?",
                           (job_id,)).fetchone()
        if row is None:
            return None, [], False
        where = f" AND status NOT IN ({', '.join('?' * len(not_failed))})" if not_failed else ""
        paths = [p for (p,) in conn.execute(f"SELECT path FROM items WHERE job_id = ?{where} "
                                            "ORDER BY i LIMIT ?",
                                            (job_id, *not_failed, limit + 1))]
        return job_from_row(row), paths[:limit], len(paths) > limit

    @staticmethod
    def _read_plan_check(conn: sqlite3.Connection, job_id: str) -> tuple[int, int, int]:
        """(rows, lowest index, highest index) of a job's stored plan."""
        count, low, high = conn.execute("SELECT COUNT(*), MIN(i), MAX(i) FROM plan WHERE "
                                        "job_id = ?", (job_id,)).fetchone()
        return count, -1 if low is None else low, -1 if high is None else high

    @classmethod
    def _read_tally(cls, conn: sqlite3.Connection, job_id: str) -> tuple[int, int, int, int]:
        """(item rows, plan rows, lowest plan index, highest plan index) of a job."""
        items = conn.execute("SELECT COUNT(*) FROM items WHERE job_id = ?", (job_id,)
                             ).fetchone()[0]
        return (items, *cls._read_plan_check(conn, job_id))

    @staticmethod
    def _read_list(conn: sqlite3.Connection, statuses: tuple[str, ...], kinds: tuple[str, ...],
                   limit: int, offset: int, order: str) -> tuple[list[Job], int]:
        where, args = [], []
        if statuses:
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            args += list(statuses)
        if kinds:
            where.append(f"kind IN ({', '.join('?' * len(kinds))})")
            args += list(kinds)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        column = _ORDER_SQL[order.lstrip("-")]
        direction = "DESC" if order.startswith("-") else "ASC"
        rows = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM jobs {clause} ORDER BY {column} "
                            f"{direction}, id {direction} LIMIT ? OFFSET ?",
                            [*args, limit, offset]).fetchall()
        total = conn.execute(f"SELECT COUNT(*) FROM jobs {clause}", args).fetchone()[0]
        return [job_from_row(r) for r in rows], total

    @staticmethod
    def _read_stats(conn: sqlite3.Connection) -> dict[str, Any]:
        counts = {s: 0 for s in JOB_STATUSES}
        for status, n in conn.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status"):
            counts[status] = n
        items, ok, bad = conn.execute(
            "SELECT COALESCE(SUM(processed), 0), COALESCE(SUM(succeeded), 0), "
            "COALESCE(SUM(failed), 0) FROM jobs").fetchone()
        mean = conn.execute("SELECT AVG(finished - started) FROM jobs WHERE status = "
                            "'completed' AND started IS NOT NULL").fetchone()[0]
        finished = counts["completed"] + counts["failed"]
        return {"counts": counts, "total": sum(counts.values()), "items_processed": items,
                "items_succeeded": ok, "items_failed": bad,
                "success_rate": round(counts["completed"] / finished, 4) if finished else None,
                "mean_duration_s": round(mean, 3) if mean is not None else None,
                "at": time.time()}

    @staticmethod
    def _page(conn: sqlite3.Connection, table: str, columns: tuple[str, ...], job_id: str,
              statuses: tuple[str, ...], limit: int, offset: int,
              ) -> tuple[list[dict[str, Any]], int] | None:
        """A page of a job's rows in ``items`` or ``plan`` by index; None if no such job."""
        if conn.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone() is None:
            return None
        where, args = "job_id = ?", [job_id]
        if statuses:
            where += f" AND status IN ({', '.join('?' * len(statuses))})"
            args += list(statuses)
        rows = conn.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {where} "
                            "ORDER BY i LIMIT ? OFFSET ?", [*args, limit, offset]).fetchall()
        total = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}", args).fetchone()[0]
        return [record(columns, row) for row in rows], total

    @classmethod
    def _read_results(cls, conn: sqlite3.Connection, job_id: str, statuses: tuple[str, ...],
                      limit: int, offset: int) -> tuple[list[dict[str, Any]], int] | None:
        return cls._page(conn, "items", ITEM_FIELDS, job_id, statuses, limit, offset)

    @classmethod
    def _read_plan(cls, conn: sqlite3.Connection, job_id: str, statuses: tuple[str, ...],
                   limit: int, offset: int) -> tuple[list[dict[str, Any]], int] | None:
        return cls._page(conn, "plan", PLAN_FIELDS, job_id, statuses, limit, offset)

    @classmethod
    def _read_plan_page(cls, conn: sqlite3.Connection, job_id: str, statuses: tuple[str, ...],
                        limit: int, offset: int
                        ) -> tuple[list[dict[str, Any]], int, bool] | None:
        """A page of the plan, and whether the job's plan is complete (for PLAN)."""
        page = cls._read_plan(conn, job_id, statuses, limit, offset)
        if page is None:
            return None
        planned = conn.execute("SELECT planned FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return (*page, bool(planned and planned[0]))
