"""Message types of protocol version 1 (SPEC.md sections 4-7).

One frozen dataclass per command, named with its wire word.  Field order is
wire order; new fields go at the end with defaults; unknown fields are
ignored on decode.  Each channel has its own command table, because the same
word (HEARTBEAT, CANCEL, DISCONNECT) means different things per direction.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .constants import DEFAULT_LIST_LIMIT, DEFAULT_PAGE_LIMIT, MAX_PAGE

Map = dict[str, Any]

# --- client channel: client -> broker ------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    """Ask the broker for its protocol version, kinds and limits."""

    WORD: ClassVar[str] = "HELLO"
    rid: int
    client: str = ""
    batch: bool = False


@dataclass(frozen=True, slots=True)
class Ping:
    """Liveness probe; the reply carries the broker's clock."""

    WORD: ClassVar[str] = "PING"
    rid: int


@dataclass(frozen=True, slots=True)
class Start:
    """Create a job; the reply is sent only after the job row is committed."""

    WORD: ClassVar[str] = "START"
    rid: int
    kind: str
    paths: list[str] = field(default_factory=list)
    params: Map = field(default_factory=dict)
    priority: str = "normal"
    dry_run: bool = False
    allow_conflict: bool = False
    max_attempts: int = 0
    #: a finished job's id: the new job runs its kind and params over its failed items only
    retry_of: str = ""


@dataclass(frozen=True, slots=True)
class Status:
    """Snapshot of one job, with the sequence number of its last event."""

    WORD: ClassVar[str] = "STATUS"
    rid: int
    job: str


@dataclass(frozen=True, slots=True)
class Wait:
    """Reply once the job is finished (at once if it already is)."""

    WORD: ClassVar[str] = "WAIT"
    rid: int
    job: str


@dataclass(frozen=True, slots=True)
class Cancel:
    """Cancel a queued job at once or ask the worker to stop a running one."""

    WORD: ClassVar[str] = "CANCEL"
    rid: int
    job: str


@dataclass(frozen=True, slots=True)
class Clear:
    """Delete a finished job and its results."""

    WORD: ClassVar[str] = "CLEAR"
    rid: int
    job: str


@dataclass(frozen=True, slots=True)
class List:
    """Page through jobs, filtered by status and kind."""

    WORD: ClassVar[str] = "LIST"
    rid: int
    status: list[str] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    limit: int = DEFAULT_LIST_LIMIT
    offset: int = 0
    order: str = "-created"


@dataclass(frozen=True, slots=True)
class Stats:
    """Counts by status, items processed, success rate, mean duration."""

    WORD: ClassVar[str] = "STATS"
    rid: int


@dataclass(frozen=True, slots=True)
class Results:
    """Page through a job's stored item results, optionally by item status."""

    WORD: ClassVar[str] = "RESULTS"
    rid: int
    job: str
    status: list[str] = field(default_factory=list)
    limit: int = DEFAULT_PAGE_LIMIT
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Plan:
    """Page through a file-changing job's planned operations."""

    WORD: ClassVar[str] = "PLAN"
    rid: int
    job: str
    status: list[str] = field(default_factory=list)
    limit: int = DEFAULT_PAGE_LIMIT
    offset: int = 0


# --- client channel: broker -> client ------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """Successful answer to the request with the same rid."""

    WORD: ClassVar[str] = "REPLY"
    rid: int
    data: Map = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Error:
    """Failed answer to the request with the same rid (rid 0 if it could not be read)."""

    WORD: ClassVar[str] = "ERROR"
    rid: int
    code: str
    message: str
    details: Any = None


# --- worker channel: worker -> broker ------------------------------------------


@dataclass(frozen=True, slots=True)
class Ready:
    """A worker process (re)registers: its kinds, slots and the jobs it still runs."""

    WORD: ClassVar[str] = "READY"
    kinds: list[str]
    slots: int
    host: str = ""
    pid: int = 0
    running: list[list[Any]] = field(default_factory=list)
    specs: list[Map] = field(default_factory=list)
    #: [library_prefix, local_prefix] pairs: how this worker's host sees the library (6.9)
    path_map: list[list[Any]] = field(default_factory=list)
    #: it takes broker messages of several bodies (SPEC.md 2)
    batch: bool = False


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Liveness in either direction on the worker channel."""

    WORD: ClassVar[str] = "HEARTBEAT"


@dataclass(frozen=True, slots=True)
class Accept:
    """The worker started the dispatched attempt."""

    WORD: ClassVar[str] = "ACCEPT"
    job: str
    attempt: int


@dataclass(frozen=True, slots=True)
class Items:
    """A batch of item results and the progress counters after them."""

    WORD: ClassVar[str] = "ITEMS"
    job: str
    attempt: int
    items: list[Map]
    progress: Map = field(default_factory=dict)
    n: int = 0


@dataclass(frozen=True, slots=True)
class Done:
    """The attempt completed; all its ITEMS were sent before."""

    WORD: ClassVar[str] = "DONE"
    job: str
    attempt: int
    progress: Map = field(default_factory=dict)
    result: Map = field(default_factory=dict)
    n: int = 0


@dataclass(frozen=True, slots=True)
class Failed:
    """The attempt failed; retry asks the broker to requeue with backoff."""

    WORD: ClassVar[str] = "FAILED"
    job: str
    attempt: int
    code: str
    message: str
    retry: bool = False
    progress: Map = field(default_factory=dict)
    n: int = 0
    #: with retry: wait at least this long before the next attempt (0: the backoff alone)
    retry_after_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Cancelled:
    """The attempt stopped at a checkpoint after a CANCEL; partial results stay."""

    WORD: ClassVar[str] = "CANCELLED"
    job: str
    attempt: int
    progress: Map = field(default_factory=dict)
    n: int = 0


@dataclass(frozen=True, slots=True)
class Disconnect:
    """The sender is leaving (worker) or does not know the peer (broker); a broker's code
    (``worker.bad_path_map``) refuses the worker's READY: it must not send it again (6.9)."""

    WORD: ClassVar[str] = "DISCONNECT"
    reason: str = ""
    code: str = ""


@dataclass(frozen=True, slots=True)
class PlanOps:
    """A batch of planned operations; complete (with total) closes the plan 0..total-1."""

    WORD: ClassVar[str] = "PLAN"
    job: str
    attempt: int
    ops: list[Map]
    complete: bool = False
    n: int = 0
    total: int = 0


@dataclass(frozen=True, slots=True)
class Fetch:
    """Ask for a page of a job's stored plan or item results (answered by PAGE)."""

    WORD: ClassVar[str] = "FETCH"
    rid: int
    job: str
    attempt: int
    what: str
    source: str
    offset: int = 0
    limit: int = MAX_PAGE
    status: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Token:
    """Ask for a request token of the broker-wide budget for key (answered by GRANT)."""

    WORD: ClassVar[str] = "TOKEN"
    rid: int
    key: str
    rate: float


# --- worker channel: broker -> worker ------------------------------------------


@dataclass(frozen=True, slots=True)
class Dispatch:
    """Run one attempt of a job."""

    WORD: ClassVar[str] = "DISPATCH"
    job: str
    attempt: int
    kind: str
    paths: list[str] = field(default_factory=list)
    params: Map = field(default_factory=dict)
    dry_run: bool = False
    roots: list[str] = field(default_factory=list)
    has_plan: bool = False


@dataclass(frozen=True, slots=True)
class Page:
    """Answer to FETCH: rows, the total, or an error map."""

    WORD: ClassVar[str] = "PAGE"
    rid: int
    rows: list[Map] = field(default_factory=list)
    total: int = 0
    error: Any = None


@dataclass(frozen=True, slots=True)
class CancelJob:
    """Stop the attempt at its next checkpoint."""

    WORD: ClassVar[str] = "CANCEL"
    job: str
    attempt: int


@dataclass(frozen=True, slots=True)
class Ack:
    """For each ``[job, attempt, n]``: the attempt's results up to number n are stored (or moot)."""

    WORD: ClassVar[str] = "ACK"
    acks: list[list[Any]]


@dataclass(frozen=True, slots=True)
class Grant:
    """Answer to TOKEN: the token may be used wait_s seconds from now (or an error map)."""

    WORD: ClassVar[str] = "GRANT"
    rid: int
    wait_s: float = 0.0
    error: Any = None


# --- event channel --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Progress:
    """Worker -> broker progress of a running attempt (lossy, coalesced)."""

    WORD: ClassVar[str] = "PROGRESS"
    job: str
    attempt: int
    progress: Map


@dataclass(frozen=True, slots=True)
class Event:
    """Broker -> subscribers: the job's state after event number seq."""

    WORD: ClassVar[str] = "EVENT"
    job: str
    seq: int
    status: str
    kind: str = ""
    attempts: int = 0
    progress: Map = field(default_factory=dict)
    error: Any = None
    ts: float = 0.0


ClientRequest = (Hello | Ping | Start | Status | Wait | Cancel | Clear | List | Stats | Results
                 | Plan)
ClientReply = Reply | Error
WorkerMessage = (Ready | Heartbeat | Accept | Items | Done | Failed | Cancelled | Disconnect
                 | PlanOps | Fetch | Token)
BrokerToWorker = Dispatch | CancelJob | Heartbeat | Disconnect | Page | Ack | Grant
EventMessage = Progress | Event
Message = ClientRequest | ClientReply | WorkerMessage | BrokerToWorker | EventMessage


def _table(*classes: type) -> dict[str, type]:
    return {c.WORD: c for c in classes}  # type: ignore[attr-defined]


#: channel name -> {wire word: class}
CHANNELS: dict[str, dict[str, type]] = {
    "client": _table(Hello, Ping, Start, Status, Wait, Cancel, Clear, List, Stats, Results, Plan),
    "reply": _table(Reply, Error),
    "worker": _table(Ready, Heartbeat, Accept, Items, Done, Failed, Cancelled, Disconnect,
                     PlanOps, Fetch, Token),
    "broker": _table(Dispatch, CancelJob, Heartbeat, Disconnect, Page, Ack, Grant),
    "event": _table(Progress, Event),
}

from .values import Check, check_for  # noqa: E402 (the field checks, derived below)

#: class -> tuple of (name, Check of its type hint, required), in field order; the codec
#: runs every Check on every decode (values.py), so a new field is checked as it is added
FIELDS: dict[type, tuple[tuple[str, Check, bool], ...]] = {
    _cls: tuple(
        (
            f.name,
            check_for(typing.get_type_hints(_cls)[f.name]),
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
        )
        for f in dataclasses.fields(_cls)
    )
    for _table_ in CHANNELS.values()
    for _cls in _table_.values()
}
