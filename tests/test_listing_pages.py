"""The task list's pages on every store (memory, SQLite, Redis): order, totals, exclusions, and byte for
byte what building, sorting and slicing every row gave (the list once did exactly that; it is kept here
as the reference the faster pass is checked against).
"""

from __future__ import annotations

import json
import math
import random

import pytest

from mockserver.domain.errors import ApiError
from mockserver.domain.listing import Listing, _list_row
from mockserver.lifecycle.task import UNKNOWN, Outcome, Task
from mockserver.store import Store
from redis_server import redis_url  # noqa: F401  (the fixture)
from test_store_contract import make_store, store  # noqa: F401  (the fixtures: one per store)

DAY = 24 * 3600.0
NOW = 1_800_000_000.0


def made(n: int, submitted: float, *, model: str = "m1", key: str = "k1", account: str = "a") -> Task:
    return Task(
        task_id=f"t{n}", account=account, api_key_id=key, caller_uid="2", model=model, group="g", function="f",
        request_id=f"r{n}", input={}, parameters={}, image_count=2, submitted_at=submitted, pending_seconds=0.0,
        run_seconds=30.0, scheduled_at=submitted + 5, ended_at=submitted + 35,
    )


def listed(store: Store, query: dict[str, str], now: float = NOW, retention: float = DAY) -> dict:
    return Listing.of(query, now).page(store, "a", now, retention)


def reference(store: Store, query: dict[str, str], now: float = NOW, retention: float = DAY, account: str = "a") -> dict:
    """Every row built, filtered, stably sorted by gmt_create (newest first), then sliced (load/bench_listing.py
    times it too: it is how the list was answered before stores selected the page)."""
    listing = Listing.of(query, now)
    rows = []
    for task in store.account_tasks(account, listing.start, listing.end):
        status = task.status_at(now, retention)
        if task.call or status == UNKNOWN:
            continue
        row = _list_row(task, status, now)
        if all(value in (None, "") or str(row.get(key)) == value for key, value in listing.wanted.items()):
            rows.append(row)
    rows.sort(key=lambda row: row["gmt_create"], reverse=True)
    page = rows[(listing.page_no - 1) * listing.page_size : listing.page_no * listing.page_size]
    return {"total": len(rows), "data": page, "total_page": math.ceil(len(rows) / listing.page_size),
            "page_no": listing.page_no, "page_size": listing.page_size}


def test_equal_gmt_create_keeps_submission_order_among_the_newest_first(store):
    # t0..t2 in one millisecond (gmt_create truncates), t3 a second later, t4 in t3's millisecond but later.
    for n, submitted in enumerate([NOW - 10.0009, NOW - 10.0004, NOW - 10.0001, NOW - 9.0, NOW - 8.9995]):
        store.add_task(made(n, submitted))
    ids = [row["task_id"] for row in listed(store, {"page_size": "100"})["data"]]
    assert ids == ["t3", "t4", "t0", "t1", "t2"]
    assert [row["task_id"] for row in listed(store, {"page_size": "2", "page_no": "2"})["data"]] == ["t0", "t1"]
    assert [row["task_id"] for row in listed(store, {"page_size": "2", "page_no": "3"})["data"]] == ["t2"]


def test_totals_count_the_filters_and_leave_out_calls_and_expired_tasks(store):
    tasks = [made(n, NOW - 3600 + n, model=("m1", "m2")[n % 2], key=("k1", "k2")[n % 3 == 0]) for n in range(12)]
    tasks[0].call = True  # a synchronous call: never listed
    tasks[1].canceled_at = NOW - 3600  # canceled
    tasks[2].failure = Outcome("InternalError", "x")  # FAILED
    tasks[3].scheduled_at = tasks[3].ended_at = NOW + 10  # still PENDING
    for task in tasks:
        store.add_task(task)
    expired = made(20, NOW - DAY + 10)  # in the window, but ended more than a day ago on a shorter retention
    store.add_task(expired)
    query = {"page_size": "4"}
    assert (listed(store, query)["total"], listed(store, query)["total_page"]) == (12, 3)
    assert listed(store, query, retention=DAY - 3600)["total"] == 11  # the expired one reads UNKNOWN: left out
    assert listed(store, {**query, "model_name": "m2"})["total"] == 6  # t1 t3 t5 t7 t9 t11
    assert listed(store, {**query, "api_key_id": "k2"})["total"] == 3  # t3 t6 t9 (t0 is a call)
    assert [row["task_id"] for row in listed(store, {"status": "CANCELED"})["data"]] == ["t1"]
    assert [row["task_id"] for row in listed(store, {"status": "FAILED"})["data"]] == ["t2"]
    assert [row["task_id"] for row in listed(store, {"status": "PENDING"})["data"]] == ["t3"]
    assert listed(store, {"status": "UNKNOWN"})["total"] == 0
    assert listed(store, {"task_id": "t0"})["total"] == 0 and listed(store, {"task_id": "t5"})["total"] == 1
    answer = listed(store, {"status": "SUCCEEDED", "model_name": "m1", "page_size": "2", "page_no": "2"})
    assert (answer["total"], answer["total_page"], [row["task_id"] for row in answer["data"]]) == (5, 3, ["t6", "t4"])  # t10 t8 | t6 t4 | t20
    assert listed(store, {"page_no": "9"})["data"] == []
    last = listed(store, {"page_no": str(2**63 - 1), "page_size": "100"})  # an offset past any integer SQLite holds
    assert (last["total"], last["data"], last["page_no"]) == (12, [], 2**63 - 1)


@pytest.mark.parametrize("value", ["²", "1" * 5000, str(2**63), "0", "-1", "1.0"])
def test_a_page_number_is_a_positive_64_bit_integer(value):
    with pytest.raises(ApiError) as raised:
        Listing.of({"page_no": value}, NOW)
    assert raised.value.code == "InvalidParameter"


def test_a_saved_change_is_what_the_list_filters_on(store):
    task = made(0, NOW - 100)
    task.scheduled_at = task.ended_at = NOW + 100
    store.add_task(task)
    assert listed(store, {"status": "PENDING"})["total"] == 1
    task = store.get_task("t0")
    task.canceled_at = NOW - 1
    store.save_task(task)
    assert listed(store, {"status": "PENDING"})["total"] == 0
    assert [row["status"] for row in listed(store, {"status": "CANCELED"})["data"]] == ["CANCELED"]


def test_every_page_is_byte_for_byte_what_sorting_every_row_gave(store):
    rng = random.Random(7)
    offsets = [0.0, 0.0001, 0.0004, 0.0009, 0.001, 0.5, 1.0]  # many share a millisecond
    submitted = NOW - DAY - 600
    for n in range(300):
        submitted += rng.choice(offsets) * rng.choice([1, 1, 1, 400])
        task = made(n, submitted, model=rng.choice(["m1", "m2"]), key=rng.choice(["k1", "k2", "k3"]))
        task.scheduled_at = submitted + rng.choice([0.0, 50.0, 90_000.0])
        task.ended_at = task.scheduled_at + rng.choice([0.0, 30.0, 3000.0])
        task.call = rng.random() < 0.1
        task.canceled_at = submitted + 1 if rng.random() < 0.1 else None
        task.failure = Outcome("InternalError", "x") if rng.random() < 0.1 else None
        task.image_failures = {0: Outcome("DataInspectionFailed", "y")} if rng.random() < 0.1 else task.image_failures
        store.add_task(task)
    queries = [{}, {"page_size": "100"}, {"page_size": "7", "page_no": "3"}, {"page_size": "1", "page_no": "40"}]
    queries += [{"status": status, "page_size": "5", "page_no": "2"} for status in ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED")]
    queries += [{"model_name": "m2", "api_key_id": "k3", "page_size": "3"}, {"task_id": "t150"}, {"page_no": "1000"}]
    for now in (NOW, NOW + 4000.0, NOW - 20_000.0):
        for query in queries:
            assert json.dumps(listed(store, query, now)) == json.dumps(reference(store, query, now)), (now, query)


def test_a_sqlite_file_from_before_the_brief_columns_gets_them_filled(tmp_path):
    from mockserver.store import open_store

    path = tmp_path / "old.db"
    store = open_store(f"sqlite://{path}")
    for n in range(5):
        store.add_task(made(n, NOW - 100 + n))
    canceled = store.get_task("t1")
    canceled.canceled_at = NOW - 99
    store.save_task(canceled)
    store.close()
    import sqlite3

    with sqlite3.connect(path) as old:  # the table as files made before these columns hold it
        for column in ("api_key_id", "scheduled_at", "final"):
            old.execute(f"ALTER TABLE tasks DROP COLUMN {column}")
    store = open_store(f"sqlite://{path}")
    try:
        assert listed(store, {"status": "CANCELED"})["total"] == 1
        assert json.dumps(listed(store, {})) == json.dumps(reference(store, {}))
    finally:
        store.close()


def test_redis_tasks_kept_without_briefs_are_listed_from_their_records(redis_url):  # noqa: F811
    from mockserver.store import open_store

    store = open_store(redis_url)
    try:
        store.reset()
        for n in range(5):
            store.add_task(made(n, NOW - 100 + n, model=("m1", "m2")[n % 2]))
        store._redis.hdel(store._k("briefs:a"), "t1", "t2")  # as a store written before briefs were
        assert listed(store, {"model_name": "m2"})["total"] == 2
        assert json.dumps(listed(store, {})) == json.dumps(reference(store, {}))
        store.reset("a")
        assert not store._redis.exists(store._k("briefs:a"))  # forgotten with the account's tasks
    finally:
        store.close()


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory"
    if request.param == "sqlite":
        return f"sqlite://{request.getfixturevalue('tmp_path') / 'e2e.db'}"
    return f"{request.getfixturevalue('redis_url')}?prefix=listing-e2e-{random.randrange(10**9)}:"


@pytest.mark.e2e
def test_the_sdk_lists_pages_newest_first_with_ties_in_submission_order(make_server, store_url, monkeypatch):
    import dashscope
    from dashscope import ImageSynthesis

    limits = {"wanx-v1": {"submit_per_second": 100, "concurrency": 1}}
    server = make_server(store=store_url, accounts=[{"id": "lister", "keys": ["sk-listing"], "limits": limits}])
    monkeypatch.setattr(dashscope, "base_http_api_url", server.api)
    key = "sk-listing"

    def submit(n: int) -> str:
        response = ImageSynthesis.async_call(model="wanx-v1", prompt="a cat", n=n, api_key=key)
        assert response.status_code == 200, response
        return response.output.task_id

    older = [submit(1) for _ in range(4)]  # one instant on the standing clock: one gmt_create
    server.advance(1)
    newer = [submit(1) for _ in range(2)]
    pages = [ImageSynthesis.list(api_key=key, page_no=page, page_size=4) for page in (1, 2, 3)]
    assert [page.status_code for page in pages] == [200, 200, 200]
    assert [row["task_id"] for page in pages for row in page.output["data"]] == newer + older
    assert [(page.output["total"], page.output["total_page"]) for page in pages] == [(6, 2)] * 3
    assert pages[2].output["data"] == []
    server.advance(40)  # the first lane slot's task ran; the others queue behind the concurrency limit
    done = ImageSynthesis.list(api_key=key, status="SUCCEEDED", page_size=10).output
    assert done["total"] >= 1 and {row["status"] for row in done["data"]} == {"SUCCEEDED"}
    others = [ImageSynthesis.list(api_key=key, status=status).output["total"] for status in ("PENDING", "RUNNING")]
    assert done["total"] + sum(others) == 6 and others[0] >= 1  # one slot: the newest still wait
