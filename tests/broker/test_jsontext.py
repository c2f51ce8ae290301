"""broker/jsontext.dumps gives json.dumps(value, allow_nan=False)'s text and errors."""

from __future__ import annotations

import json
import math

import pytest

from medialoom.broker.jsontext import dumps

SAME = [
    {}, [], "", None, True, 0, -1, 2**63 - 1, -(2**63), 1.5, -0.0, 1e300, 5e-324,
    "ünïcødé \u2028 \x00 \"q\" \\ / 🎵", ["/srv/media/a b/ç.flac", "/x"],
    {"seconds": 0.0, "steps": 0, "fail": False, "nested": {"a": [1, [2, {"b": None}]]}},
    {1: "int key", 2.5: "float key", False: "bool key", None: "nil key"},
    ({"t": (1, 2)},), [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],
]


@pytest.mark.parametrize("value", SAME, ids=range(len(SAME)))
def test_the_same_text_as_json_dumps(value: object) -> None:
    assert dumps(value) == json.dumps(value, allow_nan=False)


@pytest.mark.parametrize(("value", "error"), [
    (math.nan, ValueError), ({"x": [math.inf]}, ValueError), (-math.inf, ValueError),
    (b"\x89PNG", TypeError), ({"a": {1, 2}}, TypeError), ({(1, 2): "tuple key"}, TypeError),
])
def test_the_same_errors_as_json_dumps(value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        json.dumps(value, allow_nan=False)
    with pytest.raises(error):
        dumps(value)
