"""The fuzzer's messages (tests/protocol/fuzz.py) against the codec alone, on all five channels.

tests/e2e/test_fuzz.py sends the same messages to a real broker; here every
mutation of every command of every channel is decoded in-process: it must
give a message or a RemoteProtocolError with a wire code, never another
exception, and a message it gives must follow the value rules.
"""

from __future__ import annotations

import collections
import itertools

from medialoom.protocol import codec
from medialoom.protocol.errors import CODES, RemoteProtocolError
from medialoom.protocol.messages import CHANNELS, FIELDS
from medialoom.protocol.values import value_problem
from tests.protocol.fuzz import POOL, Fuzzer

CHANNEL_NAMES = tuple(CHANNELS)


def test_a_round_covers_every_field_of_every_command_with_every_value() -> None:
    fuzzer = Fuzzer(1)
    plan = [case for channel in CHANNEL_NAMES for case in fuzzer._plan(channel)]
    covered = {(ch, cls.WORD) for ch, cls, _, _ in plan}
    assert covered == {(ch, w) for ch, table in CHANNELS.items() for w in table}
    sets = {(ch, cls.WORD, arg[0], arg[1]) for ch, cls, what, arg in plan if what == "set"}
    for ch, table in CHANNELS.items():
        for cls in table.values():
            for name, _, _ in FIELDS[cls]:
                assert all((ch, cls.WORD, name, i) in sets for i in range(len(POOL)))


def test_every_fuzzed_message_decodes_or_is_a_protocol_error() -> None:
    seed = 4242
    print(f"seed {seed}")
    fuzzer = Fuzzer(seed, finished="01JDC3ZPQV7WE2N6VYBN0CG6KF",
                    running=("01JDC42PJA3CP3TKJZC1RR54X4", 2))
    outcomes: collections.Counter[str] = collections.Counter()
    cases = fuzzer.cases(CHANNEL_NAMES)
    n = sum(len(fuzzer._plan(ch)) for ch in CHANNEL_NAMES)
    for case in itertools.islice(cases, n):
        channel = case[0]
        frames, what = fuzzer.build(case, rid=7)
        try:
            msg = codec.decode(frames, channel)
        except RemoteProtocolError as exc:
            assert exc.code in CODES, (what, exc.code)
            outcomes[exc.code] += 1
            continue
        outcomes["decoded"] += 1
        for name, value in codec.body_of(msg).items():
            if name != "cmd":
                assert value_problem(value, 2) is None, (what, name)
        # what decodes encodes again and decodes to the same message
        assert codec.decode(codec.encode(msg, channel), channel) == msg, what
    print(dict(outcomes))
    assert outcomes["decoded"] > 300 and outcomes["protocol.bad_field"] > 5000, outcomes
