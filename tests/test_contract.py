"""The generated contract: current with the catalog, served by the emulator, and satisfied by it."""

from __future__ import annotations

import itertools
import json

import pytest
from jsonschema import Draft202012Validator

from catalog_cases import valid_body
from mockserver.catalog import default_catalog
from mockserver.catalog.openapi import OUTPUT_PATH, render
from serving import LiveServer

CATALOG = default_catalog()
DOCUMENT = json.loads(OUTPUT_PATH.read_text(encoding="utf-8"))
_keys = itertools.count()


def _validator(ref: str) -> Draft202012Validator:
    return Draft202012Validator({"components": DOCUMENT["components"], "$ref": ref})


def _response_schema(path: str, method: str, status: str = "200") -> Draft202012Validator:
    schema = DOCUMENT["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    return Draft202012Validator({"components": DOCUMENT["components"], **schema})


QUERY = _response_schema("/api/v1/tasks/{task_id}", "get")
ERROR = _validator("#/components/schemas/Error")


def test_checked_in_contract_is_current():
    assert OUTPUT_PATH.read_text(encoding="utf-8") == render(CATALOG), (
        "contracts/openapi.json is stale: run python -m mockserver.catalog.openapi"
    )


def test_every_schema_is_valid_json_schema():
    for schema in DOCUMENT["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    assert DOCUMENT["openapi"] == "3.1.0"


def test_the_emulator_serves_the_contract(live: LiveServer):
    response = live.client.get("/__mock/openapi.json")
    assert response.status_code == 200
    assert response.json() == DOCUMENT


@pytest.mark.parametrize("entry", CATALOG.models.values(), ids=lambda e: e.name)
def test_every_state_of_every_model_satisfies_the_contract(live: LiveServer, entry):
    key = f"sk-contract-{next(_keys)}"
    body = valid_body(entry)
    _validator(f"#/components/schemas/{entry.name}.Request").validate({"model": entry.name, **body})
    submitted = live.submit(key=key, model=entry.name, input=body["input"], parameters=body["parameters"])
    if entry.mode == "sync":  # no task: the answer is the finished output
        assert submitted.status_code == 200, submitted.text
        _validator(f"#/components/schemas/{entry.name}.Answer").validate(submitted.json())
        return
    _validator("#/components/schemas/Submitted").validate(submitted.json())
    task_id = submitted.json()["output"]["task_id"]
    QUERY.validate(live.query(task_id, key).json())  # PENDING
    live.advance(entry.timing.pending[1] + 0.001)
    QUERY.validate(live.query(task_id, key).json())  # RUNNING
    live.advance(3 * 3600)
    finished = live.query(task_id, key).json()
    QUERY.validate(finished)
    _validator(f"#/components/schemas/{entry.name}.Succeeded").validate(finished["output"])


def test_failed_canceled_unknown_list_and_errors_satisfy_the_contract(live: LiveServer):
    key = "sk-contract-misc"
    auth = {"Authorization": f"Bearer {key}"}
    failed = live.submit(key=key, model="wanx-v1", input={}).json()["output"]["task_id"]
    pending = live.submit(key=key, model="wanx-v1").json()["output"]["task_id"]
    canceled = live.client.post(f"/api/v1/tasks/{pending}/cancel", headers=auth)
    _validator("#/components/schemas/Canceled").validate(canceled.json())
    QUERY.validate(live.query(pending, key).json())
    assert live.query(pending, key).json()["output"]["task_status"] == "CANCELED"
    live.advance(3 * 3600)
    answer = live.query(failed, key).json()
    assert answer["output"]["task_status"] == "FAILED"
    QUERY.validate(answer)
    QUERY.validate(live.query("no-such-task", key).json())
    listing = live.client.get("/api/v1/tasks", headers=auth)
    _response_schema("/api/v1/tasks", "get").validate(listing.json())
    again = live.client.post(f"/api/v1/tasks/{pending}/cancel", headers=auth)
    assert again.status_code == 400
    ERROR.validate(again.json())
    ERROR.validate(live.client.get("/api/v1/tasks", headers={}).json())
