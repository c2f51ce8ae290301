"""What the broker's state machine returns (effects) and the workers it knows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from medialoom.protocol import messages as m
from medialoom.protocol.errors import RequestError

# --- effects -------------------------------------------------------------------
# Plain (not frozen) slotted dataclasses: made several times per job, and a frozen one's
# __init__ sets each field through object.__setattr__ (ToWorker 0.69 -> 0.24 us).  Nothing
# changes an effect once the state returned it.


@dataclass(slots=True)
class ToClient:
    """Send msg to the client with this ROUTER identity."""

    peer: bytes
    msg: m.Reply | m.Error
    #: the id of the job this reply acknowledges the creation of (START), else ""
    created: str = ""


@dataclass(slots=True)
class ToWorker:
    """Send msg to the worker with this ROUTER identity."""

    peer: bytes
    msg: m.Dispatch | m.CancelJob | m.Heartbeat | m.Disconnect | m.Page | m.Ack


@dataclass(slots=True)
class Publish:
    """Publish an event to subscribers (None: nobody takes its topic, it is not built)."""

    msg: m.Event | None


#: the Publish of an event nobody subscribed to: numbered (seq) but never built or sent
UNHEARD = Publish(None)


@dataclass(slots=True)
class Persist:
    """Write ops in the next group commit; then run ``then`` and mark ``durable`` jobs."""

    ops: tuple[tuple[Any, ...], ...]
    then: tuple[Any, ...] = ()
    durable: tuple[str, ...] = ()


@dataclass(slots=True)
class Query:
    """Run read ``name`` in the writer thread (after pending writes); result to finish_query."""

    name: str
    args: tuple[Any, ...]
    token: int


Effect = ToClient | ToWorker | Publish | Persist | Query


@dataclass(frozen=True, slots=True)
class Pending:
    """A request waiting for a store read (a Query's token maps to it).

    ``done(peer, rid, msg, result, now)`` finishes it with the read's result;
    ``failed(peer, rid, msg)`` answers a read that raised (None: an ``internal``
    ERROR to the client).
    """

    done: Callable[[bytes, int, Any, Any, float], list[Effect]]
    peer: bytes
    rid: int
    msg: Any
    failed: Callable[[bytes, int, Any], list[Effect]] | None = None


@dataclass(slots=True)
class Worker:
    """A connected worker process and the attempts it runs."""

    peer: bytes
    kinds: frozenset[str]
    slots: int
    host: str
    pid: int
    expiry: float
    jobs: dict[str, int] = field(default_factory=dict)
    #: the specs it announced, by kind name
    specs: dict[str, Any] = field(default_factory=dict)
    #: (library prefix, local prefix) pairs it announced (SPEC 6.9); none: it reaches every path
    path_map: tuple[tuple[str, str], ...] = ()
    #: it takes broker messages of several bodies (READY ``batch``, SPEC.md 2)
    batch: bool = False

    @property
    def free(self) -> int:
        """Credit: how many more jobs it will take."""
        return self.slots - len(self.jobs)

    def __repr__(self) -> str:
        return f"<Worker {self.host}:{self.pid} kinds={sorted(self.kinds)} jobs={len(self.jobs)}/{self.slots}>"


def gather_acks(then: tuple[Any, ...], acks: dict[bytes, list[list[Any]]]) -> list[Any]:
    """then without its ACKs, which are collected per worker into acks (one ACK per worker
    for a whole commit)."""
    rest = []
    for effect in then:
        if isinstance(effect, ToWorker) and isinstance(effect.msg, m.Ack):
            acks.setdefault(effect.peer, []).extend(effect.msg.acks)
        else:
            rest.append(effect)
    return rest


def fail(code: str, message: str, details: Any = None) -> RequestError:
    """A refusal with a wire code."""
    return RequestError(message, code=code, details=details)


@dataclass(slots=True)
class Held:
    """The sends of one commit's effects, held until all are known (BrokerActor._release):
    each worker's messages in order, and the client replies in order."""

    workers: dict[bytes, list[Any]] = field(default_factory=dict)
    clients: list[tuple[bytes, Any]] = field(default_factory=list)

    def add(self, effect: ToClient | ToWorker) -> None:
        if isinstance(effect, ToWorker):
            self.to_worker(effect.peer, effect.msg)
        else:
            self.clients.append((effect.peer, effect.msg))

    def to_worker(self, peer: bytes, msg: Any) -> None:
        self.workers.setdefault(peer, []).append(msg)
