"""Sonarr and Radarr webhooks: ``POST /api/v1/webhooks/sonarr`` and ``/radarr`` (issue 10, item 3).

Point the app's *Connect → Webhook* at ``http://HOST:8570/api/v1/webhooks/sonarr``
(method POST or PUT, "On Import"/"On Import Complete"), with the gateway token
or the webhook secret as its Password (any Username; the app sends HTTP Basic
with every request) — or append ``?token=...`` to the URL.  These two routes
authenticate themselves, with or without ``--auth``: the bearer-token
middleware lets them through to this check, and the write guard still
refuses a browser's cross-site POST (an ``Origin`` of another site) before
anything is read.  The apps send no ``Origin``.

A ``Download`` (one file) or Sonarr's ``ImportComplete`` (several) starts the
configured kind (``audio-default`` by default) on the file(s) at ``webhook``
priority, with ``original_language`` set from ``series``/``movie``
``originalLanguage`` when the kind takes it; ``Test`` answers 200 and starts
nothing, as does any event the hook is not set to start on (``Grab``,
``Health``, ...) and any event type unknown to us (logged).  Paths go through
the hook's ``path_map`` and must lie under the broker's library roots (403
``path.forbidden``).  A redelivery within the dedupe window answers 200 with
the first job's id (webhook_store.py).  Answers: 202 started, 200 test /
ignored / duplicate, 400 ``webhook.bad_payload`` / ``webhook.wrong_app`` /
``request.bad_json``, 401 ``auth.unauthorized``, 403 ``webhook.disabled`` /
``path.forbidden``, and the broker's own refusals (409 ``job.conflict``, ...).

``GET /api/v1/webhooks/jobs?id=...`` (an ordinary API read) says which app
and event started each job: the web UI marks webhook jobs with it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import posixpath
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import hdrs, web

from .api import start_job
from .errors import ApiError, BadRequest
from .inputs import json_body, query_list
from .jsonio import json_response
from .keys import CONFIG, COUNTERS, TOKEN, client_of
from .webhook_config import ORIGINAL_PARAM, AppHook, WebhooksConfig
from .webhook_payloads import Delivery, PayloadError, read_delivery
from .webhook_store import MAX_SOURCES, DeliveryLog, delivery_key

log = logging.getLogger("medialoom.gateway")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ROUTES = frozenset({"/api/v1/webhooks/sonarr", "/api/v1/webhooks/radarr"})
WEBHOOKS = web.AppKey("webhooks", WebhooksConfig)
DELIVERIES = web.AppKey("deliveries", DeliveryLog)


def is_webhook(path: str) -> bool:
    """True for the two webhook routes (they check their own credentials)."""
    return path.rstrip("/") in ROUTES


def exempt(middleware: Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]
           ) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """``middleware`` for every route but the webhooks (for the bearer-token check)."""

    @web.middleware
    async def unless_webhook(request: web.Request, handler: Handler) -> web.StreamResponse:
        if is_webhook(request.path):
            return await handler(request)
        return await middleware(request, handler)

    return unless_webhook


def offered_secrets(request: web.Request) -> list[str]:
    """What the request offers as a secret: a Basic password, a Bearer token, ``?token=``."""
    offered = []
    scheme, _, value = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("latin-1")
        except (binascii.Error, ValueError):
            decoded = ""
        offered.append(decoded.partition(":")[2])
    elif scheme.lower() == "bearer":
        offered.append(value.strip())
    offered.append(request.query.get("token", ""))
    return [s for s in offered if s]


def authenticate(request: web.Request) -> None:
    """401 ``auth.unauthorized`` unless the request carries the token or the webhook secret."""
    accepted = [s for s in (request.app[TOKEN], request.app[WEBHOOKS].secret) if s]
    offered = offered_secrets(request)
    if any(hmac.compare_digest(o.encode(), a.encode()) for o in offered for a in accepted):
        return
    request.app[COUNTERS]["unauthorized"] += 1
    if not accepted:
        message = ("no webhook credentials are configured: set webhooks.secret (or "
                   "MEDIALOOM_WEBHOOK_SECRET) or give the gateway a token")
    elif offered:
        message = "wrong webhook credentials: the password must be the gateway token or " \
                  "the webhook secret"
    else:
        message = ("a webhook needs credentials: put the gateway token or the webhook secret "
                   "in the connection's Password field (HTTP Basic), or ?token= in its URL")
    raise ApiError(401, "auth.unauthorized", message)


async def deliveries_context(app: web.Application) -> AsyncIterator[None]:
    """Open the dedupe log (DATA_DIR/webhooks.sqlite) for the app's lifetime."""
    deliveries = DeliveryLog(app[CONFIG].data_dir, app[WEBHOOKS].dedupe_window_s)
    await deliveries.open()
    app[DELIVERIES] = deliveries
    try:
        yield
    finally:
        await deliveries.close()


def under_roots(path: str, roots: list[str]) -> bool:
    """True if path is a root or below one, by whole components."""
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def check_roots(delivery: Delivery, hook: AppHook, indices: list[int], paths: list[str],
                roots: list[str]) -> None:
    """403 ``path.forbidden`` unless every path of indices lies under the library roots."""
    for i in indices:
        local, sent = paths[i], delivery.files[i].path
        if local.startswith("/") and under_roots(posixpath.normpath(local), roots):
            continue
        mapping = hook.map_path(sent)[1]
        how = (f" (mapped from {sent!r} by path_map {mapping.remote} -> {mapping.local})"
               if mapping else " (no path_map entry matched)")
        raise ApiError(403, "path.forbidden", f"{delivery.app.capitalize()} sent a path "
                       f"outside the library roots: {local!r}{how}; add a "
                       f"webhooks.{delivery.app}.path_map entry or a library root",
                       {"path": local, "sent": sent, "file": i, "roots": roots})


def answer(status: int, delivery: Delivery, outcome: str, message: str,
           **extra: Any) -> web.Response:
    """The JSON answer every delivery gets."""
    return json_response({"status": outcome, "app": delivery.app, "event": delivery.event,
                          "shape": delivery.shape, "message": message, **extra}, status=status)


def job_params(hook: AppHook, delivery: Delivery, spec: dict[str, Any] | None) -> dict[str, Any]:
    """The hook's params, plus the original language when the kind takes it."""
    params = dict(hook.params)
    takes = spec is None or any(p.get("name") == ORIGINAL_PARAM for p in spec.get("params") or [])
    if delivery.original_language and takes:
        params[ORIGINAL_PARAM] = delivery.original_language
    return params


async def settle(deliveries: DeliveryLog, keys: list[str]) -> dict[str, str | None]:
    """The job each key started, waiting out identical deliveries being started right now.

    No await separates the final check from the caller's claim, so two identical
    deliveries never both start a job.
    """
    known = {k: deliveries.lookup(k, time.time()) for k in keys}
    while True:
        pending = next((deliveries.claims[k] for k in keys
                        if known[k] is None and k in deliveries.claims), None)
        if pending is None:
            return known
        try:
            await asyncio.shield(pending)
        except (Exception, asyncio.CancelledError):
            if not pending.done():
                raise  # this request was cancelled, not the other one
        now = time.time()  # the other one recorded its keys, or failed (then: ours to try)
        known = {k: known[k] or deliveries.lookup(k, now) for k in keys}


async def start_for(request: web.Request, hook: AppHook, delivery: Delivery) -> web.Response:
    """Start the hook's kind on the delivery's files (or answer the first job's id)."""
    client, deliveries = client_of(request), request.app[DELIVERIES]
    paths = [hook.map_path(f.path)[0] for f in delivery.files]
    keys = [delivery_key(delivery.app, delivery.instance, delivery.event, delivery.download_id,
                         f.id) + "|" + p for f, p in zip(delivery.files, paths, strict=True)]
    known = await settle(deliveries, keys)
    fresh = [i for i, k in enumerate(keys) if known[k] is None]
    earlier = sorted({j for j in known.values() if j})
    if not fresh:  # answered without asking the broker
        log.info("webhook %s %s (download %r): a redelivery, job %s already started",
                 delivery.app, delivery.shape, delivery.download_id, earlier[0])
        return answer(200, delivery, "duplicate", "already received: the job it started is "
                      f"{earlier[0]}", id=earlier[0], jobs=earlier)
    claimed, fresh_paths = [keys[i] for i in fresh], [paths[i] for i in fresh]
    future = deliveries.claim(claimed)
    try:
        hello = await client.hello()
        check_roots(delivery, hook, fresh, paths, list(hello.get("roots") or []))
        params = job_params(hook, delivery, (hello.get("specs") or {}).get(hook.kind))
        job = await start_job(request, hook.kind, fresh_paths, params,
                              priority=hook.priority, dry_run=hook.dry_run)
        await deliveries.record(claimed, job["id"], {
            "app": delivery.app, "event": delivery.event, "shape": delivery.shape,
            "title": delivery.title, "instance": delivery.instance, "files": len(fresh)},
            time.time())
        future.set_result(job["id"])
    except BaseException as exc:
        if isinstance(exc, Exception):
            future.set_exception(exc)
            future.exception()  # retrieved here: a waiter tries on its own instead
        else:
            future.cancel()
        raise
    finally:
        deliveries.release(claimed, future)
    log.info("webhook %s %s %r (download %r): started %s job %s on %d file(s) at %s "
             "priority, original language %s", delivery.app, delivery.shape, delivery.title,
             delivery.download_id, hook.kind, job["id"], len(fresh), hook.priority,
             delivery.original_language or "unknown")
    return answer(202, delivery, "started", f"started {hook.kind} job {job['id']}",
                  id=job["id"], job=job, jobs=[job["id"], *earlier],
                  original_language=params.get(ORIGINAL_PARAM), paths=fresh_paths,
                  duplicates=len(keys) - len(fresh))


async def receive(request: web.Request) -> web.Response:
    """POST (or PUT) /api/v1/webhooks/{sonarr,radarr}: one delivery of the app."""
    app_name = request.match_info["app"]
    authenticate(request)
    hook = request.app[WEBHOOKS].app(app_name)
    if not hook.enabled:
        raise ApiError(403, "webhook.disabled", f"the {app_name} webhook is turned off "
                       f"(webhooks.{app_name}.enabled = false)")
    body = await json_body(request)
    try:
        delivery = read_delivery(body, app_name, hook.strict)
    except PayloadError as exc:
        raise ApiError(400, exc.code, exc.message, {"field": exc.field}) from None
    if delivery.shape == "Test":
        log.info("webhook %s: test from %r", app_name, delivery.instance)
        return answer(200, delivery, "ok", f"medialoom received {app_name}'s test; a Download "
                      f"will start {hook.kind} at {hook.priority} priority")
    if delivery.shape == "unknown":
        log.info("webhook %s: ignored the unknown event type %r", app_name, delivery.event)
        return answer(200, delivery, "ignored", f"event type {delivery.event!r} is not one "
                      f"medialoom knows; nothing started")
    if delivery.event not in hook.events:
        log.debug("webhook %s: %s is not in webhooks.%s.events", app_name, delivery.event,
                  app_name)
        return answer(200, delivery, "ignored", f"{delivery.event} starts nothing (webhooks."
                      f"{app_name}.events = {list(hook.events)})")
    return await start_for(request, hook, delivery)


async def job_sources(request: web.Request) -> web.Response:
    """GET /api/v1/webhooks/jobs?id=A,B: which app and event started each of these jobs.

    ``{"sources": {job id: {app, event, shape, title, instance, files, received}}}``;
    jobs no webhook started are left out.
    """
    ids = query_list(request, "id")
    if not ids:
        raise BadRequest("id", "query parameter 'id' is required: job ids, comma-separated "
                         "or repeated")
    if len(ids) > MAX_SOURCES:
        raise BadRequest("id", f"at most {MAX_SOURCES} job ids at a time")
    return json_response({"sources": await request.app[DELIVERIES].sources(ids)})


def add_routes(app: web.Application, config: WebhooksConfig) -> None:
    """The webhook routes, their settings and their dedupe log."""
    app[WEBHOOKS] = config
    app.cleanup_ctx.append(deliveries_context)
    for method in ("POST", "PUT"):
        app.router.add_route(method, "/api/v1/webhooks/{app:sonarr|radarr}", receive)
    app.router.add_get("/api/v1/webhooks/jobs", job_sources)

