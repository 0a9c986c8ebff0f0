"""The SQLite store end to end: ``kill -9`` in a burst of submits loses nothing acknowledged, and workers
share exact limits. Real processes (``python -m mockserver serve``) on loopback, real HTTP."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

SUBMIT = "/api/v1/services/aigc/text2image/image-synthesis"
ASYNC = {"X-DashScope-Async": "enable"}


class Served:
    """``dashscope-mock serve`` in a child process, as a user starts it."""

    def __init__(self, *args: str, port: int = 0) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "mockserver", "serve", "--port", str(port), *args],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.process.stdout.readline()  # "listening on ..."
        line = self.process.stdout.readline().strip()
        assert line.startswith("DASHSCOPE_HTTP_BASE_URL="), self.process.stderr.read()
        self.url = line.split("=", 1)[1].removesuffix("/api/v1")

    def client(self, key: str = "sk-a") -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(method, f"{self.url}/__mock{path}", json=body, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            assert self.process.wait(timeout=20) == 0
        assert "Traceback" not in self.process.stderr.read()


@pytest.fixture
def serve() -> Iterator[Any]:
    started: list[Served] = []

    def start(*args: str, port: int = 0) -> Served:
        started.append(Served(*args, port=port))
        return started[-1]

    yield start
    for served in started:
        if served.process.poll() is None:
            served.process.kill()
            served.process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _submit(client: httpx.Client, prompt: str = "a cat", n: int = 1) -> httpx.Response:
    return client.post(SUBMIT, headers=ASYNC, json={"model": "wanx-v1", "input": {"prompt": prompt}, "parameters": {"n": n}})


def _answer(client: httpx.Client, task_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/tasks/{task_id}")
    assert response.status_code == 200
    return response.json()["output"]


def _account_part(state: dict[str, Any], account: str) -> dict[str, Any]:
    """What the snapshot holds of one account: its tasks, queues, rate windows and usage."""
    return {
        "tasks": [task for task in state["tasks"] if task["account"] == account],
        "lanes": [lane for lane in state["lanes"] if lane["account"] == account],
        "windows": {key: window for key, window in state["windows"].items() if key.startswith(f"{account}|")},
        "accounts": state["accounts"].get(account),
    }


def test_kill_9_in_a_burst_of_submits_loses_no_acknowledged_task(serve, tmp_path: Path):
    config = tmp_path / "mock.yaml"
    config.write_text(json.dumps({"accounts": [
        {"id": "steady", "keys": ["sk-steady"], "limits": {"*": {"submit_per_second": 2, "concurrency": 1}}},
        {"id": "burst", "keys": ["sk-burst"], "limits": {"*": {"submit_per_second": 100000, "concurrency": 2}},
         "requests_per_second": 100000},
    ]}))
    store = f"sqlite://{tmp_path / 'dsmock.db'}"
    args = ("--store", store, "--clock", "manual", "--config", str(config), "--seed", "7")
    port = _free_port()  # the restarted emulator on the same address: result URLs name it
    first = serve(*args, port=port)
    steady = first.client("sk-steady")
    done = _submit(steady, n=2).json()["output"]["task_id"]
    first.control("POST", "/clock/advance", {"seconds": 120})
    queued = [_submit(steady).json()["output"]["task_id"] for _ in range(2)]  # one running, one waiting behind it
    assert _submit(steady).status_code == 429  # the rate window is full
    before = {task_id: _answer(steady, task_id) for task_id in [done, *queued]}
    first.control("POST", "/faults", {"http": {"code": "InternalError"}, "count": 3, "match": {"account": "steady", "route": "query"}})
    image = httpx.get(before[done]["results"][0]["url"])
    assert image.status_code == 200
    state_before = first.control("GET", "/state")

    acknowledged: list[str] = []
    seen: dict[str, dict[str, Any]] = {}  # what a poll right after the submit answered
    killed = threading.Event()

    def burst() -> None:
        with first.client("sk-burst") as client:
            while not killed.is_set():
                try:
                    response = _submit(client, "a burst")
                except httpx.HTTPError:
                    return  # the server died under us: this submit was never acknowledged
                if response.status_code == 200:
                    task_id = response.json()["output"]["task_id"]
                    acknowledged.append(task_id)
                    try:
                        seen[task_id] = _answer(client, task_id)
                    except httpx.HTTPError:
                        return

    threads = [threading.Thread(target=burst) for _ in range(4)]
    for thread in threads:
        thread.start()
    for _ in range(3000):  # mid-burst (at most 30 s): submits are being written as it dies
        if len(acknowledged) >= 40 or not any(thread.is_alive() for thread in threads):
            break
        threading.Event().wait(0.01)
    first.kill()
    killed.set()
    for thread in threads:
        thread.join()

    second = serve(*args, port=port)
    # Tasks, queue places, rate windows and usage as they were; then the answers, byte for byte.
    assert _account_part(second.control("GET", "/state"), "steady") == _account_part(state_before, "steady")
    assert second.control("GET", "/clock")["now"] == state_before["clock"]["now"]  # the manual clock stayed put
    again = second.client("sk-steady")
    assert [again.get(f"/api/v1/tasks/{done}").status_code for _ in range(4)] == [500, 500, 500, 200]  # the rule's count
    assert {task_id: _answer(again, task_id) for task_id in before} == before  # status, times, URLs: as before
    assert httpx.get(before[done]["results"][0]["url"]).content == image.content
    assert _submit(again).status_code == 429  # the rate window survived: still full at this instant
    with second.client("sk-burst") as client:
        after = {task_id: _answer(client, task_id) for task_id in acknowledged}
    assert len(acknowledged) >= 40 and len(set(acknowledged)) == len(acknowledged)
    assert all(answer["task_status"] != "UNKNOWN" for answer in after.values())  # every acknowledged task is there
    assert {task_id: after[task_id] for task_id in seen} == seen  # and answers as it did before the kill
    second.stop()


def test_two_workers_admit_exactly_the_limits_under_a_burst(serve, tmp_path: Path):
    config = tmp_path / "mock.yaml"
    config.write_text(json.dumps({"accounts": [
        {"id": "a", "keys": ["sk-a"], "limits": {"*": {"submit_per_second": 3, "concurrency": 1}}, "requests_per_second": 20},
    ]}))
    served = serve("--store", f"sqlite://{tmp_path / 'dsmock.db'}", "--workers", "2", "--clock", "manual",
                   "--config", str(config), "--log-level", "warning", "--seed", "7")  # one seed: ids still unique
    pids = {httpx.get(f"{served.url}/__mock/health", headers={"Connection": "close"}).json()["pid"] for _ in range(40)}
    assert len(pids) == 2  # two processes answer on the one port

    def fire(requests: list[tuple[str, str]]) -> list[httpx.Response]:
        answers: list[httpx.Response] = [None] * len(requests)  # type: ignore[list-item]
        gate = threading.Barrier(len(requests))

        def one(index: int) -> None:
            method, path = requests[index]
            with served.client() as client:  # a connection each: the kernel spreads them over the workers
                body = {"model": "wanx-v1", "input": {"prompt": "a cat"}} if method == "POST" else None
                gate.wait()
                answers[index] = client.request(method, path, json=body, headers=ASYNC if body else {})

        threads = [threading.Thread(target=one, args=(index,)) for index in range(len(requests))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return answers

    submits = fire([("POST", SUBMIT)] * 30)
    codes = [response.status_code for response in submits]
    assert codes.count(200) == 3 and codes.count(429) == 27  # the clock stands still: one window, three submits
    task_ids = [response.json()["output"]["task_id"] for response in submits if response.status_code == 200]
    assert len(set(task_ids)) == 3
    polls = fire([("GET", f"/api/v1/tasks/{task_ids[0]}")] * 50)
    assert [response.status_code for response in polls].count(200) == 20  # the 20/s request limit, across workers
    tasks = {task["task_id"]: task for task in served.control("GET", "/state")["tasks"]}
    plans = sorted((tasks[task_id]["scheduled_at"], tasks[task_id]["ended_at"]) for task_id in task_ids)
    assert all(end <= start for (_, end), (start, _) in zip(plans, plans[1:]))  # concurrency 1: one after another
    served.stop()


def test_a_memory_store_refuses_workers(tmp_path, capsys):
    from mockserver.cli import main

    assert main(["serve", "--workers", "2"]) == 2
    assert "more than one worker needs a store they share" in capsys.readouterr().err
    assert main(["serve", "--store", "mysql://db"]) == 2
    assert "use one of memory, sqlite:///path, redis://host:port/db" in capsys.readouterr().err


def test_a_snapshot_starts_a_sqlite_store_and_the_store_then_keeps_it(serve, tmp_path: Path):
    store = f"sqlite://{tmp_path / 'dsmock.db'}"
    source = serve("--clock", "manual")
    with source.client() as client:
        task_id = _submit(client).json()["output"]["task_id"]
    snapshot = tmp_path / "state.json"
    snapshot.write_text(json.dumps(source.control("GET", "/state")))
    source.stop()
    started = serve("--store", store, "--state", str(snapshot))
    with started.client() as client:
        assert _answer(client, task_id)["task_status"] == "PENDING"
    started.stop()
    again = serve("--store", store)  # no --state: the store alone
    with again.client() as client:
        assert _answer(client, task_id)["task_status"] == "PENDING"
        assert client.get("/api/v1/tasks/" + task_id, headers={"Authorization": "Bearer sk-other"}).json()["output"]["task_status"] == "UNKNOWN"
    again.stop()


def test_the_store_url_is_checked_like_any_setting():
    from mockserver.settings.config import Settings

    assert Settings(store="sqlite:///var/tmp/dsmock.db").store == "sqlite:///var/tmp/dsmock.db"
    with pytest.raises(ValueError, match="use one of"):
        Settings(store="sqlite://")


def test_a_sqlite_store_takes_only_its_fsync_policy():
    from mockserver.settings.config import Settings

    assert Settings(store="sqlite:///var/tmp/x.db?synchronous=full").store.endswith("full")
    for bad in ("sqlite:///var/tmp/x.db?synchronous=sometimes", "sqlite:///var/tmp/x.db?journal=off"):
        with pytest.raises(ValueError, match=re.escape("the only option of a sqlite store is synchronous=off|normal|full")):
            Settings(store=bad)


def test_a_store_that_cannot_be_opened_is_said_plainly(tmp_path, capsys):
    from mockserver.cli import main

    missing = tmp_path / "no-such-folder" / "dsmock.db"
    assert main(["serve", "--port", "0", "--store", f"sqlite://{missing}"]) == 2
    assert capsys.readouterr().err == f"dashscope-mock: cannot open the store sqlite://{missing}: unable to open database file\n"
    closed = _free_port()  # nothing listens there
    assert main(["serve", "--port", "0", "--store", f"redis://127.0.0.1:{closed}/0"]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"dashscope-mock: cannot open the store redis://127.0.0.1:{closed}/0: ") and "Traceback" not in error


def test_a_file_one_emulator_serves_is_not_opened_by_another(serve, tmp_path, capsys):
    """One worker locks its file once (no per-transaction locking): a second emulator is told so at start-up."""
    from mockserver.cli import main

    store = f"sqlite://{tmp_path / 'dsmock.db'}"
    first = serve("--store", store)
    with first.client() as client:
        assert _submit(client).status_code == 200
    assert main(["serve", "--port", "0", "--store", store]) == 2
    assert capsys.readouterr().err == (f"dashscope-mock: cannot open the store {store}: database is locked (another "
                                       "emulator serves this file: one process a file, or --workers to share it)\n")
    first.stop()
