"""The submit path's cheap forms say exactly what the general ones said: ids, the answer's bytes and headers."""

from __future__ import annotations

import random
import uuid

import pytest
from starlette.datastructures import Headers
from starlette.responses import Response

from mockserver.domain.ids import IdFactory
from mockserver.http.answer import Answer, submit_headers, submitted_body
from mockserver.http.responses import JSON, dumps
from mockserver.support.headers import RawHeaders


def test_task_ids_are_the_uuid4s_of_the_seeded_bits():
    ids, bits = IdFactory(3), random.Random(3)
    for _ in range(2000):
        assert ids.task_id() == str(uuid.UUID(int=bits.getrandbits(128), version=4))


def test_unseeded_task_ids_are_uuid4s():
    ids = IdFactory()
    drawn = {ids.task_id() for _ in range(1000)}
    assert len(drawn) == 1000
    for task_id in drawn:
        assert str(uuid.UUID(task_id)) == task_id and uuid.UUID(task_id).version == 4
        assert uuid.UUID(task_id).variant == uuid.RFC_4122


def test_a_seeded_task_draws_from_its_own_stream():
    """What a seeded task's durations are drawn from (the tests of seeded runs pin the durations)."""
    ids, bits = IdFactory(9), random.Random(9)
    stream = ids.derive("some-task")
    assert stream.random() == random.Random(f"{bits.getrandbits(64)}:some-task").random()


def test_unseeded_streams_differ_between_factories():
    assert IdFactory().derive("a").random() != IdFactory().derive("a").random()


def test_the_submit_answer_is_what_the_json_encoder_writes():
    ids = IdFactory(5)
    request_id, task_id = ids.request_id(), ids.task_id()
    expected = {"request_id": request_id, "output": {"task_id": task_id, "task_status": "PENDING"}}
    assert submitted_body(request_id, task_id) == dumps(expected)


def test_answer_sends_what_a_starlette_response_sends():
    body, headers = b'{"a":1}', submit_headers("33da8e6b-1309-9a44-be83-352165959608")
    as_dict = {name.decode(): value.decode() for name, value in headers}
    ours, theirs = Answer(body, headers, JSON.encode()), Response(body, headers=as_dict, media_type=JSON)
    assert (ours.status_code, ours.body, ours.raw_headers) == (theirs.status_code, theirs.body, theirs.raw_headers)
    assert [name for name, _ in ours.raw_headers] == [
        b"x-dashscope-call-gateway", b"eagleeye-traceid", b"x-dashscope-timeout", b"content-length", b"content-type",
    ]


def test_raw_headers_read_as_starlette_headers_do():
    raw = [(b"host", b"h:1"), (b"x-dashscope-async", b"enable"), (b"x-mock-directive", b"a"), (b"x-mock-directive", b"b")]
    for name in ("host", "X-DashScope-Async", "x-mock-directive", "authorization"):
        assert RawHeaders(raw).get(name) == Headers(raw=raw).get(name)
    assert RawHeaders(raw).get("authorization", "") == ""


def test_json_nesting_is_bounded_however_the_brackets_are_counted():
    from mockserver.support.parsing import MAX_DEPTH, json_value

    assert json_value(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)
    with pytest.raises(ValueError, match="too deep"):
        json_value(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
    with pytest.raises(ValueError, match="too deep"):
        json_value(b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1))
    brackets_in_text = b'{"prompt":"' + b"[{" * 100 + b'","n":[[1]]}'
    assert json_value(brackets_in_text)["n"] == [[1]]


def test_raw_headers_first_reads_a_name_as_the_asgi_list_spells_it():
    raw = [(b"authorization", b"Bearer sk-1"), (b"authorization", b"Bearer sk-2"), (b"x-a", b"")]
    headers = RawHeaders(raw)
    assert headers.first(b"authorization") == "Bearer sk-1" == headers.get("Authorization")
    assert headers.first(b"x-a") == "" and headers.first(b"x-b") is None


@pytest.mark.parametrize("directives", [True, False])
def test_the_fault_engine_is_quiet_exactly_when_it_has_nothing_to_do(directives):
    """``Faults.quiet`` lets the edge skip building a request: it must be True only where ``for_request`` gives
    None without firing anything, and a rule or anything asked in band must make it False."""
    from mockserver.catalog import default_catalog
    from mockserver.faults.injector import Faults
    from mockserver.faults.rules import Request, Rule

    faults = Faults(default_catalog().errors, [], None, directives, "x-mock-directive")
    prompts = [None, "a cat", "a cat [mock:http=Throttling.RateQuota]", "[mock:", "a [mock:pending=1s] cat"]
    for prompt in prompts:
        for header in (None, "", "http=InternalError", "pending=1s"):
            asked = directives and (bool(header) or (prompt is not None and "[mock:" in prompt))
            assert faults.quiet(prompt, header) is (not asked), (prompt, header)
            if faults.quiet(prompt, header):
                assert faults.for_request(Request("submit", "a", "k", "wanx-v1", prompt), header) is None
    faults.rules.add(Rule.model_validate({"match": {"route": "query"}, "http": {"code": "InternalError"}}))
    assert not faults.quiet(None, None) and not faults.quiet("a cat", "")


def test_a_new_task_holds_each_fact_in_its_own_field():
    """``Emulator._new_task`` fills the task by position (for speed): every field must get its own fact."""
    from mockserver.domain.emulator import Emulator
    from mockserver.settings.config import Settings

    emulator = Emulator(Settings(clock="manual", speed=2.0))
    account = emulator.authenticate("Bearer sk-fields")
    body = b'{"model":"wanx-v1","input":{"prompt":"a cat"},"parameters":{"n":3,"size":"1280*720"}}'
    draft = emulator.prepare(account, "text2image", "image-synthesis", body, {"x-dashscope-async": "enable"})
    task = emulator.commit(draft, emulator.look_now(draft), "the-request")
    assert (task.account, task.api_key_id, task.caller_uid) == (account.id, account.api_key_id, account.uid)
    assert len({account.id, account.api_key_id, account.uid}) == 3
    assert (task.model, task.group, task.function, task.request_id) == ("wanx-v1", "text2image", "image-synthesis", "the-request")
    assert task.input == {"prompt": "a cat"} and task.parameters["n"] == 3 and task.parameters["size"] == "1280*720"
    assert task.image_count == 3 and task.submitted_at == emulator.clock.now() and task.call is False
    assert 0 < task.pending_seconds < task.run_seconds  # wanx-v1 waits seconds and runs longer, both halved by speed
    assert emulator.store.get_task(task.task_id) is task
