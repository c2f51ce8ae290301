"""The batch API shape arr-style tools use (seed 001): /batch and /jobs.

``POST /batch`` starts a scan (or the kind named in the optional ``kind``
field) with the seed's fields mapped onto the walk params every walking kind
takes (workers/specs/walking.py): ``pattern`` as it is (``**/*.mkv`` globs
the path relative to the job path), ``filters.min_size_mb`` as ``min_size``,
``filters.max_age_days``, ``filters.exclude_patterns`` as ``exclude``.  A
pattern that names one extension (``**/*.mkv``) also sets ``extensions`` to
it, so the job walks what the pattern says whatever the kind's default
extensions (scan's are the audio ones).  The status codes are the v1 ones
(202, 400, 403, 409, 503, 502).  Times are ISO 8601 in UTC.

``estimated_files`` is null in the 202 (the walk has not started); in
``GET /batch/{id}`` it is the job's total once its walk is done, that is once
the first item is reported or the job ended (the walking kinds count or plan
every file before they report one), and null before.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from medialoom.clients.client import ClientError
from medialoom.protocol.constants import JOB_STATUSES, TERMINAL_STATUSES
from medialoom.workers.specs.walking import pattern_extension

from .api import order_param, start_job
from .errors import BadRequest
from .inputs import field, json_body, page, query_list, reject_unknown, string_list
from .jsonio import json_response
from .keys import client_of

BATCH_FIELDS = ("path", "paths", "kind", "recursive", "pattern", "dry_run", "priority",
                "filters")
FILTER_FIELDS = ("min_size_mb", "max_age_days", "exclude_patterns")
#: the seed field a refused job param came from (start_job names it options.NAME)
SEED_FIELD_OF = {"options.pattern": "pattern", "options.extensions": "pattern",
                 "options.recursive": "recursive", "options.min_size": "filters.min_size_mb",
                 "options.max_age_days": "filters.max_age_days",
                 "options.exclude": "filters.exclude_patterns"}
RESULTS_IN_DETAIL = 100
CANCEL_WAIT_S = 2.0


def iso(ts: float | None) -> str | None:
    """Unix seconds as ``2024-01-15T10:30:00Z`` (None stays None)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def batch_params(body: dict[str, Any]) -> dict[str, Any]:
    """Scan parameters from a seed-style batch request."""
    params: dict[str, Any] = {}
    if "recursive" in body:
        params["recursive"] = field(body, "recursive", bool, True)
    pattern = field(body, "pattern", str, "")
    if pattern:
        params["pattern"] = pattern
        ext = pattern_extension(pattern)
        if ext:  # "**/*.mkv": walk the mkv files, whatever the kind's default extensions
            params["extensions"] = [ext]
    filters = field(body, "filters", dict, {})
    reject_unknown(filters, FILTER_FIELDS, "filters.")
    min_mb = field(filters, "min_size_mb", (int, float), None, "filters.")
    if min_mb is not None:
        if min_mb < 0:
            raise BadRequest("filters.min_size_mb", "filters.min_size_mb must be >= 0")
        params["min_size"] = int(min_mb * 1024 * 1024)
    age = field(filters, "max_age_days", (int, float), None, "filters.")
    if age is not None:
        if age < 0:
            raise BadRequest("filters.max_age_days", "filters.max_age_days must be >= 0")
        params["max_age_days"] = age
    exclude = string_list(filters, "exclude_patterns", "filters.")
    if exclude:
        params["exclude"] = exclude
    return params


async def create_batch(request: web.Request) -> web.Response:
    """POST /batch: start a batch job; 202 ``{status, job_id, estimated_files, message}``."""
    body = await json_body(request)
    reject_unknown(body, BATCH_FIELDS)
    paths = string_list(body, "path") + string_list(body, "paths")
    if not paths:
        raise BadRequest("path", "field 'path' is required (a directory under a library root)")
    try:
        job = await start_job(request, field(body, "kind", str, "scan"), paths,
                              batch_params(body), priority=field(body, "priority", str, "normal"),
                              dry_run=field(body, "dry_run", bool, False))
    except ClientError as exc:  # name the seed's field, not the job param it became
        if isinstance(exc.details, dict) and exc.details.get("field") in SEED_FIELD_OF:
            exc.details = {**exc.details, "field": SEED_FIELD_OF[exc.details["field"]]}
        raise
    return json_response({"status": "started", "job_id": job["id"], "estimated_files": None,
                              "message": "Batch job started"}, status=202,
                             headers={"Location": f"/batch/{job['id']}"})


def estimated_files(job: dict[str, Any]) -> int | None:
    """The job's file count once its walk is done (an item reported or the job ended)."""
    if job["status"] in TERMINAL_STATUSES or job["progress"]["processed"] > 0:
        return int(job["progress"]["total"])
    return None


def batch_progress(p: dict[str, Any]) -> dict[str, Any]:
    """The seed's progress map from the job's."""
    return {"total_files": p["total"], "processed": p["processed"], "success": p["succeeded"],
            "skipped": p["skipped"], "failed": p["failed"], "remaining": p["remaining"],
            "percent": p["percent"], "eta_seconds": p["eta_seconds"], "rate": p["rate"],
            "current_file": p["current"]}


def batch_summary(job: dict[str, Any]) -> dict[str, Any]:
    """A job as one row of ``GET /jobs``."""
    return {"job_id": job["id"], "kind": job["kind"], "status": job["status"],
            "path": job["paths"][0] if job["paths"] else None,
            "progress": {"percent": job["progress"]["percent"]},
            "created_at": iso(job["created"]), "started_at": iso(job["started"]),
            "completed_at": iso(job["finished"])}


async def get_batch(request: web.Request) -> web.Response:
    """GET /batch/{id}: job details, progress and the first item results."""
    client = client_of(request)
    job_id = request.match_info["id"]
    job, results = await asyncio.gather(client.status(job_id),
                                        client.results(job_id, limit=RESULTS_IN_DETAIL))
    params = job["params"]
    return json_response({
        "job_id": job["id"], "kind": job["kind"], "status": job["status"],
        "path": job["paths"][0] if job["paths"] else None, "paths": job["paths"],
        "recursive": params.get("recursive"), "pattern": params.get("pattern"),
        "dry_run": job["dry_run"], "priority": job["priority"],
        "estimated_files": estimated_files(job),
        "progress": batch_progress(job["progress"]),
        "created_at": iso(job["created"]), "started_at": iso(job["started"]),
        "updated_at": iso(job["updated"]), "completed_at": iso(job["finished"]),
        "error": (job["error"] or {}).get("message"),
        "results": [{"file": r["path"], "status": "success" if r["status"] == "ok" else r["status"],
                     "message": r["message"], "duration_ms": r["duration_ms"]}
                    for r in results["items"]],
        "results_total": results["total"]})


async def cancel_batch(request: web.Request) -> web.Response:
    """DELETE /batch/{id}: cancel; waits up to 2 s for the worker to stop at a checkpoint."""
    client = client_of(request)
    job = await client.cancel(request.match_info["id"])
    if job["status"] not in TERMINAL_STATUSES:
        try:
            job = await asyncio.wait_for(client.wait(job["id"], poll_s=CANCEL_WAIT_S),
                                         CANCEL_WAIT_S)
        except TimeoutError:
            job = await client.status(job["id"])
    done = job["status"] in TERMINAL_STATUSES
    return json_response({
        "status": job["status"] if done else "cancelling", "job_id": job["id"],
        "message": "Job cancelled successfully" if done else
                   "Cancel requested; the job stops at its next checkpoint",
        "processed_before_cancel": job["progress"]["processed"]}, status=200 if done else 202)


async def list_batch_jobs(request: web.Request) -> web.Response:
    """GET /jobs: ``{jobs, total, limit, offset}``, newest first by created_at (or updated_at)."""
    status = query_list(request, "status", JOB_STATUSES)
    limit, offset = page(request)
    order = order_param(request.query.get("order_by"), "-created")
    if not order.startswith("-") and request.query.get("order", "desc") == "desc":
        order = "-" + order
    data = await client_of(request).list(status, query_list(request, "kind"), limit, offset,
                                         order)
    return json_response({"jobs": [batch_summary(j) for j in data["jobs"]],
                              "total": data["total"], "limit": limit, "offset": offset})


async def batch_stats(request: web.Request) -> web.Response:
    """GET /jobs/stats: the seed's statistics shape."""
    st = await client_of(request).stats()
    counts = st["counts"]
    return json_response({
        "total_jobs": st["total"], **{s: counts.get(s, 0) for s in JOB_STATUSES},
        "total_files_processed": st["items_processed"], "success_rate": st["success_rate"],
        "average_duration_seconds": st["mean_duration_s"]})


def add_routes(app: web.Application) -> None:
    """Register /batch and /jobs (/jobs/stats before /jobs/{id})."""
    app.router.add_post("/batch", create_batch)
    app.router.add_get("/batch/{id}", get_batch)
    app.router.add_delete("/batch/{id}", cancel_batch)
    app.router.add_get("/jobs", list_batch_jobs)
    app.router.add_get("/jobs/stats", batch_stats)
    app.router.add_get("/jobs/{id}", get_batch)
    app.router.add_delete("/jobs/{id}", cancel_batch)
