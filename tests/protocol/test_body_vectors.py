"""Messages of several bodies on the worker and client channels (SPEC.md 2) against protocol/vectors/bodies.json:
each body decodes as if it came alone, a broken body is dropped alone, and a message with
no body, more than 64 or a wrong tag is refused whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from medialoom.protocol import codec
from medialoom.protocol.errors import RemoteProtocolError

BODIES: list[dict[str, Any]] = json.loads(
    (Path(codec.__file__).resolve().parent / "vectors" / "bodies.json").read_text())


@pytest.mark.parametrize("vector", BODIES, ids=[v["name"] for v in BODIES])
def test_each_body_decodes_as_if_it_came_alone(vector: dict[str, Any]) -> None:
    frames = [bytes.fromhex(f) for f in vector["frames"]]
    channel = vector["channel"]
    if "error" in vector:
        with pytest.raises(RemoteProtocolError) as caught:
            codec.decode_each(frames, channel)
        assert caught.value.code == vector["error"]
        return
    got = codec.decode_each(frames, channel)
    assert len(got) == len(vector["messages"]) == len(frames) - 1
    for msg, want, body in zip(got, vector["messages"], frames[1:], strict=True):
        if "error" in want:
            assert isinstance(msg, RemoteProtocolError) and msg.code == want["error"]
            with pytest.raises(RemoteProtocolError):  # alone, the same body is refused too
                codec.decode([frames[0], body], channel)
            if channel == "client":  # the ERROR that answers it carries this rid
                assert codec.request_id([body]) == want["rid"]
            continue
        assert not isinstance(msg, Exception)
        assert codec.body_of(msg) == want
        assert codec.decode([frames[0], body], channel) == msg  # as if it came alone
        assert codec.encode(msg, channel) == [frames[0], body]


def test_the_vectors_cover_both_directions_and_every_refusal() -> None:
    assert {v["channel"] for v in BODIES} == {"worker", "broker", "client", "reply"}
    assert {v.get("error") for v in BODIES} >= {None, "protocol.bad_frame",
                                                "protocol.bad_version"}
    assert any(len(v["frames"]) == codec.MAX_BODIES + 1 and "messages" in v for v in BODIES)
    assert any(len(v["frames"]) == codec.MAX_BODIES + 2 and "error" in v for v in BODIES)
    assert any(any("error" in x for x in v.get("messages", ())) for v in BODIES)


def test_a_client_bundles_errors_answer_under_their_rids() -> None:
    vector = next(v for v in BODIES if v["name"] == "client-broken-body-between-two")
    assert [x.get("rid") for x in vector["messages"]] == [4, 0, 5, 6]
