"""The OpenAPI 3.1 document served at /api/v1/openapi.json; it describes every route.

tests/gateway/test_openapi.py checks that each route the app registers is in
here with each of its methods.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from medialoom.protocol.constants import DEFAULT_PRIORITY, JOB_STATUSES, MAX_PAGE, PRIORITIES

from .jsonio import json_response

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def obj(props: dict[str, Schema], required: tuple[str, ...] = (), **extra: Any) -> Schema:
    """An object schema."""
    out: Schema = {"type": "object", "properties": props, **extra}
    if required:
        out["required"] = list(required)
    return out


STR, INT, NUM = {"type": "string"}, {"type": "integer"}, {"type": "number"}
BOOL = {"type": "boolean"}
NSTR, NNUM = {"type": ["string", "null"]}, {"type": ["number", "null"]}
STATUS = {"type": "string", "enum": list(JOB_STATUSES)}
PRIORITY = {"type": "string", "enum": list(PRIORITIES), "default": DEFAULT_PRIORITY}

SCHEMAS: dict[str, Schema] = {
    "Error": obj({"error": obj({"code": STR, "message": STR, "details": {}}, ("code", "message")),
                  "detail": STR}, ("error",)),
    "Progress": obj({"total": INT, "processed": INT, "succeeded": INT, "skipped": INT,
                     "failed": INT, "remaining": INT, "percent": NUM, "rate": NUM,
                     "eta_seconds": NNUM, "current": STR}),
    "Job": obj({"id": STR, "kind": STR, "paths": {"type": "array", "items": STR},
                "params": {"type": "object"}, "priority": PRIORITY, "dry_run": BOOL,
                "status": STATUS, "attempts": INT, "max_attempts": INT, "created": NUM,
                "started": NNUM, "updated": NUM, "finished": NNUM,
                "error": {"type": ["object", "null"]}, "cancel_requested": BOOL,
                "seq": {**INT, "description": "sequence number of the job's last event"},
                "result": {"type": "object"}, "planned": BOOL, "progress": ref("Progress"),
                "retry_of": {**NSTR, "description": "the job whose failed items this job "
                             "retries (POST /api/v1/jobs/{id}/retry), else null"},
                "waiting": {**STR, "description": "why a queued job is not dispatched when "
                            "the broker knows (no connected worker can reach its paths), "
                            "else empty"}},
               ("id", "kind", "status", "seq", "progress")),
    "StartJob": obj({
        "kind": {**STR, "description": "job kind (GET /api/v1/kinds)"},
        "paths": {"type": "array", "items": STR}, "path": {**STR, "description": "one path"},
        "options": {"type": "object", "description": "the kind's parameters"},
        "params": {"type": "object", "description": "alias of options"},
        "priority": PRIORITY, "dry_run": BOOL, "allow_conflict": BOOL, "max_attempts": INT},
        ("kind",), additionalProperties=False),
    "Started": obj({"id": STR, "job": ref("Job")}, ("id", "job")),
    "JobPage": obj({"jobs": {"type": "array", "items": ref("Job")}, "total": INT, "limit": INT,
                    "offset": INT, "order_by": STR}),
    "Item": obj({"i": INT, "path": STR, "status": STR, "message": STR, "duration_ms": INT,
                 "details": {"type": "object"}}),
    "ResultPage": obj({"items": {"type": "array", "items": ref("Item")}, "total": INT,
                       "limit": INT, "offset": INT}),
    "PlanOp": obj({"i": INT, "op": STR, "src": STR, "dst": STR, "status": STR, "message": STR,
                   "expect": {"type": "object"}, "details": {"type": "object"}}),
    "PlanPage": obj({"ops": {"type": "array", "items": ref("PlanOp")}, "total": INT,
                     "complete": BOOL, "limit": INT, "offset": INT}),
    "Stats": obj({"counts": {"type": "object", "additionalProperties": INT}, "total": INT,
                  "items_processed": INT, "items_succeeded": INT, "items_failed": INT,
                  "success_rate": NNUM, "mean_duration_s": NNUM, "queued_now": INT,
                  "waiting": {**INT, "description": "queued jobs no connected worker can "
                              "reach"},
                  "workers": {"type": "array", "items": obj({
                      "host": STR, "pid": INT, "kinds": {"type": "array", "items": STR},
                      "slots": INT, "running": INT,
                      "jobs": {"type": "array", "items": STR,
                               "description": "ids of the jobs it runs"},
                      "path_map": {"type": "array", "description": "[library prefix, local "
                                   "prefix] pairs: how its host sees the library",
                                   "items": {"type": "array", "items": STR}}})}}),
    "Health": obj({"status": {"type": "string", "enum": ["ok", "degraded", "unavailable"]},
                   "broker": obj({"reachable": BOOL, "endpoint": STR, "version": STR,
                                  "protocol": INT, "latency_ms": NUM, "error": STR}),
                   "kinds": {"type": "array", "items": STR},
                   "roots": {"type": "array", "items": STR},
                   "workers": obj({"count": INT, "by_kind": {
                       "type": "object", "additionalProperties": obj(
                           {"workers": INT, "slots": INT, "running": INT})}}),
                   "queued": INT, "gateway": {"type": "object"}}),
    "Kinds": obj({"kinds": {"type": "array", "items": obj({
        "name": STR, "description": STR, "needs_paths": BOOL, "changes_files": BOOL,
        "params": {"type": "object"}})}, "roots": {"type": "array", "items": STR}}),
    "BatchRequest": obj({
        "path": STR, "paths": {"type": "array", "items": STR},
        "kind": {**STR, "default": "scan"}, "recursive": BOOL,
        "pattern": {**STR, "description": "glob on the path relative to the batch path "
                    "(case-insensitive; ** crosses folders, a glob without / matches the file "
                    "name at any depth); **/*.mkv also sets the kind's extensions to mkv"},
        "dry_run": BOOL, "priority": PRIORITY,
        "filters": obj({"min_size_mb": NUM, "max_age_days": NUM,
                        "exclude_patterns": {"type": "array", "items": STR}},
                       additionalProperties=False)}, ("path",)),
    "BatchStarted": obj({"status": STR, "job_id": STR, "estimated_files": {"type": "null"},
                         "message": STR}),
    "Batch": obj({"job_id": STR, "kind": STR, "status": STATUS, "path": NSTR,
                  "estimated_files": {"type": ["integer", "null"], "description": "files the "
                                      "walk found; null until the walk is done"},
                  "paths": {"type": "array", "items": STR}, "recursive": {}, "pattern": {},
                  "dry_run": BOOL, "priority": STR, "progress": obj({
                      "total_files": INT, "processed": INT, "success": INT, "skipped": INT,
                      "failed": INT, "remaining": INT, "percent": NUM, "eta_seconds": NNUM,
                      "rate": NUM, "current_file": STR}),
                  "created_at": NSTR, "started_at": NSTR, "updated_at": NSTR, "completed_at": NSTR,
                  "error": NSTR, "results": {"type": "array", "items": obj({
                      "file": STR, "status": STR, "message": STR, "duration_ms": INT})},
                  "results_total": INT}),
    "BatchCancelled": obj({"status": STR, "job_id": STR, "message": STR,
                           "processed_before_cancel": INT}),
    "BatchJobs": obj({"jobs": {"type": "array", "items": obj({
        "job_id": STR, "kind": STR, "status": STATUS, "path": NSTR,
        "progress": obj({"percent": NUM}), "created_at": NSTR, "started_at": NSTR,
        "completed_at": NSTR})}, "total": INT, "limit": INT, "offset": INT}),
    "BatchStats": obj({"total_jobs": INT, "running": INT, "queued": INT, "completed": INT,
                       "failed": INT, "cancelled": INT, "total_files_processed": INT,
                       "success_rate": NNUM, "average_duration_seconds": NNUM}),
    "WebhookPayload": obj({
        "eventType": {"type": "string", "description": "Download (also Sonarr's ImportComplete, "
                      "told apart by episodeFiles[]), Rename, Test, ... (others are ignored)"},
        "instanceName": STR, "downloadId": STR, "isUpgrade": BOOL,
        "series": obj({"path": STR, "title": STR, "originalLanguage": obj({"id": INT,
                                                                           "name": STR})}),
        "episodeFile": ref("WebhookFile"),
        "episodeFiles": {"type": "array", "items": ref("WebhookFile")},
        "movie": obj({"folderPath": STR, "title": STR, "originalLanguage": obj({
            "id": INT, "name": STR})}),
        "movieFile": ref("WebhookFile")}, ("eventType",), additionalProperties=True,
        description="What Sonarr v4 / Radarr v5 send (their Webhook payload classes); only the "
                    "fields medialoom reads are listed"),
    "WebhookFile": obj({"id": INT, "path": STR, "relativePath": STR, "mediaInfo": obj({
        "audioLanguages": {"type": "array", "items": STR}})}, ("id",),
        additionalProperties=True),
    "WebhookAnswer": obj({
        "status": {"type": "string", "enum": ["started", "duplicate", "ignored", "ok"]},
        "app": STR, "event": STR, "shape": STR, "message": STR, "id": STR, "job": ref("Job"),
        "jobs": {"type": "array", "items": STR}, "original_language": NSTR,
        "paths": {"type": "array", "items": STR}, "duplicates": INT},
        ("status", "app", "event", "message")),
    "WebhookSources": obj({"sources": {"type": "object", "additionalProperties": obj({
        "app": STR, "event": STR, "shape": STR, "title": STR, "instance": STR, "files": INT,
        "received": NUM})}}),
}

ERRORS = {
    400: "a request field is missing or wrong (request.bad_field, job.bad_params; "
         "error.details.field names it), or the body is not strict JSON (request.bad_json: "
         "NaN, Infinity, 1e400, duplicate keys, nesting deeper than 32)",
    401: "a bearer token is required (Authorization: Bearer <token>; ?token= only for GET "
         "and the WebSocket, never for a write); a webhook wants HTTP Basic, Bearer or "
         "?token= with the token or the webhook secret",
    403: "forbidden: a path outside the library roots (path.forbidden), a write or WebSocket "
         "from another origin (request.cross_origin), a Host header this gateway does not "
         "serve (request.bad_host), or a webhook turned off (webhook.disabled)",
    404: "no such job (or path)",
    409: "conflict: another active job covers the path, the job is (not) finished, or it has "
         "no failed items to retry (job.nothing_to_retry)",
    413: "too large: the body is over 1 MiB, or a retry's failed items are more than one job "
         "can hold (protocol.too_large)",
    415: "a write without 'Content-Type: application/json' (request.unsupported_media_type); "
         "required even when there is no body",
    500: "a bug in the gateway (internal); its log has the traceback",
    502: "the broker cannot be reached",
    503: "the queue is full",
}
WRITES = ("post", "put", "patch", "delete")


def error_response(status: int) -> Schema:
    """A documented error status with the Error body."""
    return {"description": ERRORS[status],
            "content": {"application/json": {"schema": ref("Error")}}}


def op(summary: str, ok: int, schema: str | None, errors: tuple[int, ...] = (),
       params: list[Schema] | None = None, body: str | None = None,
       ok_text: str = "OK", **extra: Any) -> Schema:
    """One operation; every operation can also answer 401, 403 (Host), 500 and 502."""
    responses: Schema = {str(ok): {"description": ok_text}}
    if schema:
        responses[str(ok)]["content"] = {"application/json": {"schema": ref(schema)}}
    for status in sorted({*errors, 401, 403, 500, 502}):
        responses[str(status)] = error_response(status)
    out: Schema = {"summary": summary, "responses": responses, **extra}
    if params:
        out["parameters"] = params
    if body:
        out["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": ref(body)}}}
    return out


def mark_writes(routes: Schema) -> Schema:
    """Every write can also answer 415, and says that it wants JSON even without a body."""
    for ops in routes.values():
        for method, operation in ops.items():
            if method not in WRITES:
                continue
            responses = operation["responses"]
            responses["415"] = error_response(415)
            operation["responses"] = dict(sorted(responses.items()))
            if "requestBody" not in operation:
                operation["description"] = " ".join(filter(None, (
                    operation.get("description"), "Send 'Content-Type: application/json' "
                    "(no body needed); from a browser only same-origin.")))
    return routes


def q(name: str, description: str, schema: Schema | None = None) -> Schema:
    """A query parameter."""
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or STR}


JOB_ID = {"name": "id", "in": "path", "required": True, "schema": STR}
PAGING = [q("limit", f"page size, 1..{MAX_PAGE}", INT), q("offset", "rows to skip", INT)]
ITEM_STATUS = q("status", "item statuses, comma-separated or repeated (e.g. failed)")


def webhook_op() -> Schema:
    """POST/PUT /api/v1/webhooks/{sonarr,radarr} (clients/gateway/webhooks.py)."""
    return op("Receive a Sonarr or Radarr webhook: a Download starts the configured kind "
              "(audio-default) at webhook priority; 200 for Test, ignored events and "
              "redeliveries (the first job's id)", 202, "WebhookAnswer",
              (400, 403, 404, 409, 503), [{"name": "app", "in": "path", "required": True,
                                          "schema": {"type": "string",
                                                     "enum": ["sonarr", "radarr"]}}],
              body="WebhookPayload", ok_text="started: the job is persisted and queued",
              security=[{"basic": []}, {"bearer": []}, {"query_token": []}],
              description="Credentials: the gateway token or webhooks.secret as the HTTP "
                          "Basic password (what the apps' Webhook connection sends), a Bearer "
                          "token, or ?token=; needed whatever --auth says. 400 "
                          "webhook.bad_payload / webhook.wrong_app name the field.")


def paths() -> Schema:
    """Every route with its methods."""
    job_status = q("status", "job statuses, comma-separated or repeated")
    return mark_writes({
        "/api/v1/jobs": {
            "post": op("Start a job", 202, "Started", (400, 403, 404, 409, 503),
                       body="StartJob", ok_text="accepted: the job is persisted and queued"),
            "get": op("List jobs", 200, "JobPage", (400,), [
                job_status, q("kind", "job kinds, comma-separated or repeated"), *PAGING,
                q("order_by", "created|updated|finished|priority|status|kind (also *_at); "
                  "- prefix for descending; default -created")])},
        "/api/v1/jobs/{id}": {
            "get": op("A job with its progress", 200, "Job", (404,), [JOB_ID]),
            "delete": op("Clear a finished job and its results", 200, None, (404, 409),
                         [JOB_ID])},
        "/api/v1/jobs/{id}/results": {
            "get": op("A page of item results", 200, "ResultPage", (400, 404),
                      [JOB_ID, ITEM_STATUS, *PAGING])},
        "/api/v1/jobs/{id}/plan": {
            "get": op("A page of planned operations (dry runs, file-changing kinds)", 200,
                      "PlanPage", (400, 404), [JOB_ID, q("status", "op statuses"), *PAGING])},
        "/api/v1/jobs/{id}/cancel": {
            "post": op("Cancel a job (200 ended at once, 202 the worker stops it at its next "
                       "checkpoint)", 200, None, (404, 409), [JOB_ID])},
        "/api/v1/jobs/{id}/rollback": {
            "post": op("Start a rollback job that undoes a finished job's applied operations",
                       202, "Started", (400, 404, 409, 503), [JOB_ID])},
        "/api/v1/jobs/{id}/retry": {
            "post": op("Start a new job (same kind and params, retry_of set) over only the "
                       "failed items of a finished job; 409 job.nothing_to_retry if none",
                       202, "Started", (400, 404, 409, 413, 503), [JOB_ID])},
        "/api/v1/stats": {"get": op("Statistics and workers", 200, "Stats")},
        "/api/v1/health": {"get": op("Broker reachability, kinds and workers by kind "
                                     "(503 when the broker does not answer)", 200, "Health",
                                     (503,))},
        "/api/v1/kinds": {"get": op("Job kinds and their parameters", 200, "Kinds")},
        "/api/v1/ws": {"get": op(
            "WebSocket of live job events; send {\"subscribe\": id or \"*\", \"since\": seq}",
            101, None, ok_text="switching protocols",
            description="Snapshot (STATUS, or LIST for \"*\") then numbered updates; see "
                        "medialoom/clients/gateway/ws.py for the messages.")},
        "/api/v1/openapi.json": {"get": op("This document", 200, None)},
        "/batch": {"post": op("Start a batch scan (seed 001 shape)", 202, "BatchStarted",
                              (400, 403, 404, 409, 503), body="BatchRequest")},
        "/batch/{id}": {
            "get": op("Batch job details, progress and first results", 200, "Batch", (404,),
                      [JOB_ID]),
            "delete": op("Cancel a batch job (202 while it is stopping)", 200,
                         "BatchCancelled", (404, 409), [JOB_ID])},
        "/jobs": {"get": op("List jobs (seed 001 shape)", 200, "BatchJobs", (400,), [
            job_status, *PAGING, q("order_by", "created_at or updated_at"),
            q("order", "desc (default) or asc")])},
        "/jobs/stats": {"get": op("Job statistics (seed 001 shape)", 200, "BatchStats")},
        "/api/v1/webhooks/{app}": {method: webhook_op() for method in ("post", "put")},
        "/api/v1/webhooks/jobs": {"get": op(
            "Which Sonarr/Radarr webhook started each of these jobs (others are left out)",
            200, "WebhookSources", (400,), [q("id", "job ids, comma-separated or repeated "
                                                   "(at most 500)")])},
        "/jobs/{id}": {
            "get": op("Same as GET /batch/{id}", 200, "Batch", (404,), [JOB_ID]),
            "delete": op("Same as DELETE /batch/{id}", 200, "BatchCancelled", (404, 409),
                         [JOB_ID])},
    })


def document() -> Schema:
    """The whole OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "medialoom gateway", "version": "1",
                 "description": "Jobs over media libraries, through the medialoom broker."},
        "components": {"schemas": SCHEMAS, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": "DATA_DIR/gateway-token or $MEDIALOOM_GATEWAY_TOKEN; "
                                      "?token= is accepted for GET and the WebSocket only"},
            "basic": {"type": "http", "scheme": "basic",
                      "description": "webhooks: any user name, the password is the token "
                                     "or webhooks.secret"},
            "query_token": {"type": "apiKey", "in": "query", "name": "token",
                            "description": "webhooks (and GET requests): the token or, for "
                                           "webhooks, webhooks.secret"}}},
        "security": [{"bearer": []}],
        "paths": paths(),
    }


async def openapi_json(request: web.Request) -> web.Response:
    """GET /api/v1/openapi.json."""
    return json_response(document())
