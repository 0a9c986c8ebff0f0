"""Schemathesis against the running emulator: every operation of the generated contract, then stateful runs.

The document is ``contracts/openapi.json``; the server is the real app on loopback with a manual clock.
Each answer must pass these checks: no server error (5xx), a documented status code, the documented
content type, a body that satisfies the documented schema, a refusal without a valid key
(``ignored_auth``; the server lists its one key, as ``accept_any_key: false`` does) and a refusal
without a required header (``missing_required_header``: ``X-DashScope-Async`` on submits).

Left out on purpose: ``negative_data_rejection`` and ``positive_data_acceptance``. The real asynchronous
routes check only the model (and the body's outer shape) synchronously and accept a task with bad
parameters, which then ends FAILED; the document's request schemas describe what a task *succeeds* with.
So a schema-violating body rightly gets 200, and a schema-valid one can rightly get a documented 4xx
(throttling, a wrong route for the model). Bending the emulator to those checks would make it unfaithful.
Also left out: ``unsupported_method``, which wants an ``Allow`` header on every 405; the upload bucket
answers other methods as OSS does, with its XML ``MethodNotAllowed`` and no ``Allow``.

The run is bounded and repeatable: a fixed seed, derandomized Hypothesis, a fixed emulator clock and seed,
a few examples per operation (about 300 requests in all). Schemathesis also reuses values it harvested
from earlier answers in the same process, so the exact requests can differ when other tests ran first.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    response_schema_conformance,
    status_code_conformance,
)

from mockserver.catalog.openapi import OUTPUT_PATH
from serving import LiveServer, start_server

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          ignored_auth, missing_required_header]
KEY = "sk-schemathesis"
AUTH = {"Authorization": f"Bearer {KEY}"}  # sent as explicit headers, so ignored_auth knows they are valid
# One account with limits no fuzz run reaches: on a manual clock every request falls in the same second,
# and a run of 429s would test nothing else.
ACCOUNT = {"id": "fuzz", "keys": [KEY], "limits": {"*": {"submit_per_second": 1_000_000}},
           "requests_per_second": 1_000_000}
DOCUMENT = json.loads(OUTPUT_PATH.read_text(encoding="utf-8"))
STATELESS = settings(max_examples=8, derandomize=True, deadline=None, database=None,
                     suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])


def _start() -> LiveServer:
    return start_server(accounts=[ACCOUNT], accept_any_key=False, directives=False, seed=7,
                        clock_start=1_767_225_600)  # 2026-01-01 00:00 UTC: the same run every time


def _schema(server: LiveServer):
    schema = schemathesis.openapi.from_dict(DOCUMENT)
    schema.config.update(base_url=server.url)
    schema.config.seed = 7
    return schema


@pytest.fixture(scope="module")
def api_schema():
    server = _start()
    yield _schema(server)
    server.stop()




def _breakable(operation: dict) -> bool:
    """Whether a request can violate the operation's schema (a bare string ``task_id`` cannot)."""
    constrained = [p for p in operation.get("parameters", []) if p["schema"] != {"type": "string"}]
    return "requestBody" in operation or bool(constrained)


RUNS = [
    pytest.param(path, method, mode, id=f"{method.upper()} {path} {mode.value}")
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items()
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or _breakable(operation)
]


@pytest.mark.parametrize(("path", "method", "mode"), RUNS)
def test_every_operation_keeps_the_contract(api_schema, path: str, method: str, mode: GenerationMode):
    """Valid and invalid requests alike get a documented answer, never a 5xx."""

    @given(api_schema[path][method].as_strategy(generation_mode=mode))
    @STATELESS
    def run(case) -> None:
        case.call_and_validate(headers=AUTH, checks=CHECKS)

    run()


def test_submit_query_cancel_keep_the_contract():
    """Stateful: the document's links feed a submit's ``output.task_id`` to query and cancel.

    After each call the clock moves on, so later queries see RUNNING, SUCCEEDED (each model's own
    output shape) and cancels meet tasks that are no longer PENDING.
    """

    live = _start()  # a fresh server: the run does not depend on the tasks other tests left queued
    api_schema = _schema(live)
    seen: set[str] = set()  # task states the linked queries met

    class Machine(api_schema.as_state_machine()):
        def get_call_kwargs(self, case) -> dict:
            return {"headers": AUTH}

        def after_call(self, response, case) -> None:
            super().after_call(response, case)
            if case.operation.label == "GET /api/v1/tasks/{task_id}" and response.status_code == 200:
                seen.add(response.json()["output"]["task_status"])
            live.advance(7)

        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
            case.validate_response(response, checks=CHECKS, headers=AUTH, transport_kwargs=kwargs, recorder=self.recorder)

    try:
        Machine.run(settings=settings(max_examples=15, stateful_step_count=6, derandomize=True, deadline=None,
                                      database=None, suppress_health_check=list(HealthCheck)))
    finally:
        live.stop()
    assert seen - {"UNKNOWN"}, seen  # the links carried real task ids from submit to query
