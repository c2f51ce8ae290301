"""REST API under /api/v1 (issue 4, "REST API"); openapi.py documents every route.

Each handler validates its input (400 naming the field), makes one or two
broker requests through the shared AsyncClient and returns JSON.  Broker
refusals keep their wire code and HTTP status (errors.py).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from medialoom.clients.client import ClientError
from medialoom.protocol.constants import DEFAULT_PAGE_LIMIT, JOB_STATUSES, TERMINAL_STATUSES
from medialoom.protocol.errors import BrokerUnavailable

from .errors import ApiError, BadRequest
from .inputs import field, json_body, page, query_list, reject_unknown, string_list
from .jsonio import json_response
from .keys import CONFIG, COUNTERS, HUB, WEBSOCKETS, client_of
from .security import REFUSALS

START_FIELDS = ("kind", "paths", "path", "options", "params", "priority", "dry_run",
                "allow_conflict", "max_attempts")
ORDER_FIELDS = ("created", "updated", "finished", "priority", "status", "kind")


def order_param(text: str | None, default: str = "-created") -> str:
    """A LIST order from ``order_by``: a field (``created`` or ``created_at``), ``-`` for desc."""
    if not text:
        return default
    desc = text.startswith("-")
    name = text.lstrip("-").removesuffix("_at")
    if name not in ORDER_FIELDS:
        raise BadRequest("order_by", f"order_by must be one of {', '.join(ORDER_FIELDS)} "
                         "(optionally with _at, and - for descending)")
    return f"-{name}" if desc else name


async def start_job(request: web.Request, kind: str, paths: list[str], params: dict[str, Any],
                    **options: Any) -> dict[str, Any]:
    """START through the broker; a bad parameter's field is reported as ``options.NAME``."""
    try:
        return await client_of(request).start(kind, paths, params, **options)
    except ClientError as exc:
        details = exc.details if isinstance(exc.details, dict) else None
        name = details.get("field") if details else None
        if exc.code == "job.bad_params" and isinstance(name, str) and \
                name.startswith("params."):
            exc.details = {**details, "field": "options." + name.removeprefix("params.")}
        raise


async def create_job(request: web.Request) -> web.Response:
    """POST /api/v1/jobs: start a job; 202 with its id once the broker has persisted it."""
    body = await json_body(request)
    reject_unknown(body, START_FIELDS)
    kind = field(body, "kind", str, "")
    if not kind:
        raise BadRequest("kind", "field 'kind' is required (a job kind such as 'scan')")
    paths = string_list(body, "paths") + string_list(body, "path")
    params = {**field(body, "params", dict, {}), **field(body, "options", dict, {})}
    job = await start_job(request, kind, paths, params,
                          priority=field(body, "priority", str, "normal"),
                          dry_run=field(body, "dry_run", bool, False),
                          allow_conflict=field(body, "allow_conflict", bool, False),
                          max_attempts=field(body, "max_attempts", int, 0))
    return json_response({"id": job["id"], "job": job}, status=202,
                             headers={"Location": f"/api/v1/jobs/{job['id']}"})


async def list_jobs(request: web.Request) -> web.Response:
    """GET /api/v1/jobs: a page of jobs, filtered by status and kind."""
    status = query_list(request, "status", JOB_STATUSES)
    kind = query_list(request, "kind")
    limit, offset = page(request)
    order = order_param(request.query.get("order_by") or request.query.get("order"))
    data = await client_of(request).list(status, kind, limit, offset, order)
    return json_response({**data, "limit": limit, "offset": offset, "order_by": order})


async def get_job(request: web.Request) -> web.Response:
    """GET /api/v1/jobs/{id}: the job map with its progress."""
    return json_response(await client_of(request).status(request.match_info["id"]))


async def job_results(request: web.Request) -> web.Response:
    """GET /api/v1/jobs/{id}/results: a page of item results, optionally by item status."""
    limit, offset = page(request, DEFAULT_PAGE_LIMIT)
    data = await client_of(request).results(request.match_info["id"],
                                            query_list(request, "status"), limit, offset)
    return json_response({**data, "limit": limit, "offset": offset})


async def job_plan(request: web.Request) -> web.Response:
    """GET /api/v1/jobs/{id}/plan: a page of a file-changing job's planned operations."""
    limit, offset = page(request, DEFAULT_PAGE_LIMIT)
    data = await client_of(request).plan(request.match_info["id"],
                                         status=query_list(request, "status"),
                                         limit=limit, offset=offset)
    return json_response({"complete": False, **data, "limit": limit, "offset": offset})


async def cancel_job(request: web.Request) -> web.Response:
    """POST /api/v1/jobs/{id}/cancel: 200 if it ended at once, 202 while a worker stops it."""
    job = await client_of(request).cancel(request.match_info["id"])
    return json_response({"job": job}, status=200 if job["status"] in TERMINAL_STATUSES else 202)


async def finished_job(request: web.Request, action: str) -> dict[str, Any]:
    """The job named in the URL; 409 job.not_finished if it is still queued or running."""
    job = await client_of(request).status(request.match_info["id"])
    if job["status"] not in TERMINAL_STATUSES:
        raise ApiError(409, "job.not_finished", f"job {job['id']} is {job['status']}; "
                       f"cancel it or wait for it to end before {action}", {"job": job["id"]})
    return job


async def rollback_job(request: web.Request) -> web.Response:
    """POST /api/v1/jobs/{id}/rollback: start a rollback job for a finished job."""
    body = await json_body(request, optional=True)
    reject_unknown(body, ("priority", "dry_run"))
    target = await finished_job(request, "rolling it back")
    job = await start_job(request, "rollback", list(target["paths"]), {"job": target["id"]},
                          priority=field(body, "priority", str, "normal"),
                          dry_run=field(body, "dry_run", bool, False), allow_conflict=False)
    return json_response({"id": job["id"], "job": job, "rollback_of": target["id"]},
                             status=202, headers={"Location": f"/api/v1/jobs/{job['id']}"})


async def retry_job(request: web.Request) -> web.Response:
    """POST /api/v1/jobs/{id}/retry: a new job over only the failed items of a finished job.

    The broker gathers the failed items (START retry_of); 409 ``job.nothing_to_retry`` when
    there are none, 409 ``job.not_finished`` while the job runs.
    """
    body = await json_body(request, optional=True)
    reject_unknown(body, ("priority", "max_attempts"))
    job = await client_of(request).retry(request.match_info["id"],
                                         priority=field(body, "priority", str, "normal"),
                                         max_attempts=field(body, "max_attempts", int, 0))
    return json_response({"id": job["id"], "job": job, "retry_of": job["retry_of"]},
                         status=202, headers={"Location": f"/api/v1/jobs/{job['id']}"})


async def delete_job(request: web.Request) -> web.Response:
    """DELETE /api/v1/jobs/{id}: clear a finished job and its results."""
    job = await finished_job(request, "clearing it")
    return json_response({"cleared": await client_of(request).clear(job["id"])})


async def stats(request: web.Request) -> web.Response:
    """GET /api/v1/stats: counts by status, items processed, success rate, workers."""
    return json_response(await client_of(request).stats())


def workers_by_kind(workers: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """``{kind: {workers, slots, running}}`` from STATS workers."""
    out: dict[str, dict[str, int]] = {}
    for w in workers:
        for kind in w.get("kinds", []):
            entry = out.setdefault(kind, {"workers": 0, "slots": 0, "running": 0})
            entry["workers"] += 1
            entry["slots"] += int(w.get("slots", 0))
            entry["running"] += int(w.get("running", 0))
    return dict(sorted(out.items()))


async def health(request: web.Request) -> web.Response:
    """GET /api/v1/health: broker reachability, kinds and workers by kind (503 if down)."""
    config, client = request.app[CONFIG], client_of(request)
    counters = request.app[COUNTERS]
    gateway = {"websockets": len(request.app[WEBSOCKETS]), **request.app[HUB].counters,
               "refused": {k: counters[k] for k in REFUSALS},
               **{k: v for k, v in counters.items() if k not in REFUSALS}}
    started = time.perf_counter()
    try:
        hello, st = await asyncio.gather(client.hello(), client.stats())
    except BrokerUnavailable as exc:
        return json_response({"status": "unavailable", "broker": {
            "reachable": False, "endpoint": config.endpoint, "error": exc.message},
            "gateway": gateway}, status=503)
    workers = st.get("workers", [])
    return json_response({
        "status": "ok" if workers else "degraded",
        "broker": {"reachable": True, "endpoint": config.endpoint, "version": hello["broker"],
                   "protocol": hello["protocol"],
                   "latency_ms": round((time.perf_counter() - started) * 1000, 2)},
        "kinds": hello["kinds"], "roots": hello.get("roots", []),
        "workers": {"count": len(workers), "by_kind": workers_by_kind(workers)},
        "queued": st.get("queued_now", 0), "gateway": gateway})


async def kinds(request: web.Request) -> web.Response:
    """GET /api/v1/kinds: the broker's kinds with their specs (SPEC.md 5.4), for the start form."""
    hello = await client_of(request).hello()
    specs = hello.get("specs") or {}
    out = [form_of(specs.get(name) or {"name": name}) for name in hello["kinds"]]
    return json_response({"kinds": out, "roots": hello.get("roots", [])})


_JSON_TYPES = {"bool": "boolean", "int": "integer", "float": "number", "str": "string",
               "list": "array", "map": "object"}


def form_of(spec: dict[str, Any]) -> dict[str, Any]:
    """A kind spec map (from HELLO) with the form's view of each param added (``params``)."""
    params = {}
    for p in spec.get("params") or []:
        entry: dict[str, Any] = {"types": [_JSON_TYPES.get(p.get("type"), "string")],
                                 "help": p.get("description", ""),
                                 "required": bool(p.get("required"))}
        for key in ("default", "choices", "min", "max"):
            if key in p:
                entry[key] = p[key]
        params[p.get("name", "")] = entry
    return {"name": spec.get("name", ""), "description": spec.get("description", ""),
            "needs_paths": spec.get("needs_paths", True) is not False,
            "changes_files": bool(spec.get("changes_files")), "params": params,
            "outcomes": spec.get("outcomes") or {}, "spec": spec}


def add_routes(app: web.Application) -> None:
    """Register the /api/v1 routes (the WebSocket and OpenAPI routes are added by app.py)."""
    app.router.add_post("/api/v1/jobs", create_job)
    app.router.add_get("/api/v1/jobs", list_jobs)
    app.router.add_get("/api/v1/jobs/{id}", get_job)
    app.router.add_delete("/api/v1/jobs/{id}", delete_job)
    app.router.add_get("/api/v1/jobs/{id}/results", job_results)
    app.router.add_get("/api/v1/jobs/{id}/plan", job_plan)
    app.router.add_post("/api/v1/jobs/{id}/cancel", cancel_job)
    app.router.add_post("/api/v1/jobs/{id}/rollback", rollback_job)
    app.router.add_post("/api/v1/jobs/{id}/retry", retry_job)
    app.router.add_get("/api/v1/stats", stats)
    app.router.add_get("/api/v1/health", health)
    app.router.add_get("/api/v1/kinds", kinds)
