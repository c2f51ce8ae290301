"""The blocking Client against a real broker: replies, errors, timeouts and late replies."""

from __future__ import annotations

import pytest

from medialoom.clients.client import Client, ClientError
from medialoom.protocol import messages as m
from medialoom.protocol.errors import BrokerUnavailable
from tests.support import System, free_ports


def test_replies_and_error_codes(broker_only: System) -> None:
    with Client(broker_only.clients, broker_only.events_out, timeout_s=10) as c:
        jobs = [c.start("sleep", params={"steps": i, "seconds": 60}) for i in range(50)]
        assert [c.status(j["id"])["params"]["steps"] for j in jobs] == list(range(50))
        with pytest.raises(ClientError) as err:
            c.status("no-such-job")
        assert err.value.code == "job.not_found"
        assert isinstance(c.ping(), float)


def test_a_late_reply_is_not_read_as_the_answer_to_the_next_request(broker_only: System) -> None:
    with Client(broker_only.clients, broker_only.events_out, timeout_s=10) as c:
        job = c.start("sleep", params={"seconds": 60})  # no workers: stays queued
        with pytest.raises(BrokerUnavailable):
            c.request(m.Wait(rid=c._rid(), job=job["id"]), 0.2)
        with pytest.raises(BrokerUnavailable):
            c.wait(job["id"], timeout_s=0.2, poll_s=0.1)
        assert c.cancel(job["id"])["id"] == job["id"]  # the WAITs are answered now...
        reply = c.request(m.Ping(rid=c._rid()))  # ...to a socket that is gone
        assert isinstance(reply, m.Reply) and "now" in reply.data
        assert c.status(job["id"])["status"] == "cancelled"
        assert c.wait(job["id"])["status"] == "cancelled"


def test_no_broker_is_broker_unavailable_then_the_client_still_works_when_one_is_up(
        broker_only: System) -> None:
    endpoint = f"tcp://127.0.0.1:{free_ports(1)[0]}"
    with Client(endpoint, endpoint, timeout_s=0.2) as c:
        for _ in range(3):
            with pytest.raises(BrokerUnavailable, match="medialoom up"):
                c.ping()
    with Client(broker_only.clients, broker_only.events_out, timeout_s=None) as c:  # type: ignore[arg-type]
        assert isinstance(c.ping(), float)  # no timeout: waits for the reply
