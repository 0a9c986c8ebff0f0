"""The request body's JSON reading (support/parsing.py): orjson reads it, the standard library's verdict is the contract."""

from __future__ import annotations

import json
import random

import pytest

from mockserver.domain.errors import ApiError
from mockserver.support.parsing import MAX_DEPTH, json_object, json_value


def _same(body: bytes) -> None:
    expected = json.loads(body.decode("utf-8"))
    got = json_value(body)
    assert json.dumps(got) == json.dumps(expected)  # values, types and key order (NaN compares unequal to itself)
    assert type(got) is type(expected)


@pytest.mark.parametrize("body", [
    b'{"model":"wanx-v1","input":{"prompt":"a cat"},"parameters":{"n":1}}',
    b'{"a":NaN,"b":Infinity,"c":-Infinity}',  # the standard library accepts them: so do we
    b'{"n":123456789012345678901234567890}',  # past 64 bits orjson would give a float
    b'{"n":-9223372036854775809,"m":18446744073709551616}',
    b'{"a":"\\ud800"}',  # a lone surrogate escape
    b'{"a":1,"b":2,"a":3}',  # a repeated key: the last value, in the first one's place
    b'{"a":1e400,"b":1e-400,"c":0.1e1,"d":-0.0}',
    b' \t\r\n{"a":[1,2,{"b":null}]} \n',
    b'{"\xc3\xa9":"\xe7\x8c\xab"}',
])
def test_bodies_read_as_the_standard_library_reads_them(body: bytes) -> None:
    _same(body)


def test_big_integers_stay_exact_integers() -> None:
    assert json_value(b'{"n":123456789012345678901234567890}')["n"] == 123456789012345678901234567890


def test_random_documents_read_alike() -> None:
    rng = random.Random(12)

    def value(depth: int) -> object:
        kind = rng.randrange(8 if depth < 4 else 5)
        if kind == 0:
            return rng.choice([None, True, False])
        if kind == 1:
            return rng.randint(-2**70, 2**70) if rng.random() < 0.2 else rng.randint(-1000, 1000)
        if kind == 2:
            return rng.uniform(-1e6, 1e6)
        if kind in (3, 4):
            return "".join(rng.choice("ab\"\\/\n\u00e9\u732b\U0001f600 ") for _ in range(rng.randrange(6)))
        if kind in (5, 6):
            return {f"k{rng.randrange(5)}": value(depth + 1) for _ in range(rng.randrange(4))}
        return [value(depth + 1) for _ in range(rng.randrange(4))]

    for _ in range(500):
        document = json.dumps(value(0), ensure_ascii=rng.random() < 0.5)
        _same(document.encode())


@pytest.mark.parametrize("body", [b"", b"{", b'{"a":1}x', b"\xef\xbb\xbf{}", b"\xff{}", b'{"a":"x\x01"}', b"{'a':1}"])
def test_what_is_not_json_is_a_value_error(body: bytes) -> None:
    with pytest.raises(ValueError):
        json_value(body)


def test_nesting_past_the_limit_is_refused_at_any_depth() -> None:
    assert json_value(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    for depth in (MAX_DEPTH + 1, 2000, 100_000):  # orjson stops at 1024, the standard library's recursion later
        with pytest.raises(ValueError, match="nested too deep"):
            json_value(b"[" * depth + b"]" * depth)


def test_a_body_that_is_not_an_object_is_the_gateways_400() -> None:
    for body in (b"[1]", b'"x"', b"nope"):
        with pytest.raises(ApiError) as raised:
            json_object(body)
        assert raised.value.code == "InvalidParameter"
