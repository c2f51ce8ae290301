"""Values every part shares: job statuses, priorities, page and body limits, default endpoints.

One owner for what the broker, workers, clients and gateway would otherwise each
spell out.  SPEC.md section 5 (the job map: ``status``, ``priority``) and section
10 (limits and defaults) document them.  Standard library only: every process,
the broker included, imports this module.
"""

from __future__ import annotations

#: every job status, in lifecycle order (tables and counts list them this way)
JOB_STATUSES: tuple[str, ...] = ("queued", "running", "completed", "failed", "cancelled")
#: statuses of a job that is still going (a conflict check looks at these)
ACTIVE_STATUSES = frozenset({"queued", "running"})
#: statuses a job ends in; it never leaves them
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})

#: priorities, highest first (a webhook's job is served before a high one)
PRIORITIES: tuple[str, ...] = ("webhook", "high", "normal", "low")
#: priority name -> rank; a lower rank is served first
PRIORITY_RANK: dict[str, int] = {name: rank for rank, name in enumerate(PRIORITIES)}
DEFAULT_PRIORITY = "normal"

#: most rows one page may ask for (LIST, RESULTS, PLAN, FETCH; the gateway's limit too)
MAX_PAGE = 1000
#: page size of LIST when none is asked for; of RESULTS and PLAN
DEFAULT_LIST_LIMIT, DEFAULT_PAGE_LIMIT = 50, 100
#: largest msgpack body the broker takes on the client channel (HELLO's ``max_body_bytes``)
MAX_BODY_BYTES = 1 << 20

#: the host the default endpoints use: loopback, nothing reachable from the LAN
DEFAULT_HOST = "127.0.0.1"
#: the broker's four TCP ports by endpoint name (SPEC section 2)
PORTS: dict[str, int] = {"clients": 5570, "workers": 5571, "events_in": 5572,
                         "events_out": 5573}
#: the HTTP gateway's default port
GATEWAY_PORT = 8570


def endpoint(name: str, host: str = DEFAULT_HOST) -> str:
    """The default endpoint ``name`` (a key of PORTS) on host: ``tcp://HOST:PORT``."""
    return f"tcp://{host}:{PORTS[name]}"


DEFAULT_CLIENTS = endpoint("clients")
DEFAULT_WORKERS = endpoint("workers")
DEFAULT_EVENTS_IN = endpoint("events_in")
DEFAULT_EVENTS_OUT = endpoint("events_out")
DEFAULT_LISTEN = f"{DEFAULT_HOST}:{GATEWAY_PORT}"
