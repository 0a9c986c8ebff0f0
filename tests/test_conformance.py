"""The conformance harness graded against clients whose behaviour we know.

Every harness run here starts its own emulator and runs real adapter processes;
the runs are started together (they mostly wait on the clients' own sleeps)
and each test reads the one it needs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path

import pytest

from conformance import contract
from conformance.catalogue import DOC_PATH, markdown, section_of
from conformance.cases import CATALOGUE, LEVELS, select
from conformance.grades import Grade, broken, grade_of, info, ok
from conformance.observation import Observation
from conformance.runner import run
from conformance.target import Target
from mockserver.cli import main
from sdk_envs import legacy_python

HERE = Path(__file__).resolve().parent
ADAPTERS = HERE.parent / "conformance" / "adapters"
REFERENCE = [sys.executable, "-m", "conformance.adapters.reference"]
SDK = str(ADAPTERS / "dashscope_sdk.py")
FLAWS = {  # flaw: (cases run, the cases it must fail)
    "no-backoff": ("1.2,1.3,3.1", {"1.3"}),  # 1.4 too, but how many submits fit its deadline depends on load
    "fast-poll": ("2.1,2.3,3.1", {"2.1"}),
    "poll-forever": ("2.8,2.5,3.1", {"2.8"}),
    "resubmit": ("1.10,7.3,3.1", {"1.10", "7.3"}),
    "drop-partial": ("3.5,1.1,3.1", {"3.5"}),
}
SDK_CASES = "1.2,2.3,2.5,3.5,6.2"
SDK_GRADES = {"1.2": "FAILED", "2.3": "FAILED", "2.5": "OK", "3.5": "OK", "6.2": "OK"}  # docs/conformance.md


def _grades(command: list[str], cases: str, jobs: int = 8) -> dict[str, str]:
    target = Target.start()
    try:
        return {case_run.case.id: case_run.grade.value for case_run in run(select(cases), command, "t", target, jobs=jobs)}
    finally:
        target.close()


def _doc_adapter() -> str:
    """The Python block of docs/conformance.md's "An adapter in twenty-odd lines"."""
    text = DOC_PATH.read_text(encoding="utf-8").split("### An adapter in twenty-odd lines", 1)[1]
    return text.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Future]:
    """Every harness run of this module, started at once."""
    report = tmp_path_factory.mktemp("report")
    pool = ThreadPoolExecutor(max_workers=12)
    futures = {
        "sdk-2.0": pool.submit(_grades, [sys.executable, SDK], SDK_CASES),
        "sdk-1.20": pool.submit(lambda: _grades([str(legacy_python()), SDK], SDK_CASES)),
    }
    for flaw, (cases, _) in FLAWS.items():
        futures[flaw] = pool.submit(_grades, [sys.executable, str(HERE / "conformance_flaws.py"), flaw], cases)
    example = tmp_path_factory.mktemp("adapter") / "my_adapter.py"
    example.write_text(_doc_adapter(), encoding="utf-8")
    futures["doc-adapter"] = pool.submit(_grades, [sys.executable, str(example)], "1.1,3.5,6.1")
    if shutil.which("node"):
        futures["node"] = pool.submit(_grades, ["node", str(ADAPTERS / "node_fetch.mjs")], "1.1,2.3,3.5,6.1,7.3")
    small = list(futures.values())

    def full_report() -> tuple[int, Path]:
        # The whole catalogue after the small runs: every emulator here shares this process, and with all
        # of them at once a client that retries at once could arrive late enough to look patient.
        wait(small)
        return main(["conformance", "run", "--agent", "reference", "--out", str(report), "--jobs", "12", "--",
                     *REFERENCE]), report

    futures["report"] = pool.submit(full_report)
    yield futures
    pool.shutdown(wait=True)


def test_the_catalogue_has_numbered_cases_with_levels_and_sources():
    assert len(CATALOGUE) >= 30
    ids = [case.id for case in CATALOGUE]
    assert len(ids) == len(set(ids))
    assert {case.id.split(".")[0] for case in CATALOGUE} == {"1", "2", "3", "4", "5", "6", "7"}
    assert all(case.level in LEVELS and case.source and case.expected and case.emulator for case in CATALOGUE)
    assert [case.id for case in select("2.1,3.*")][:3] == ["2.1", "3.1", "3.2"] and select("9.*") == []


def test_list_json_prints_the_catalogue(capsys):
    assert main(["conformance", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [case["id"] for case in listed] == [case.id for case in CATALOGUE]
    assert {"id", "title", "level", "source", "emulator", "expected"} <= set(listed[0])


def test_the_docs_catalogue_is_current():
    assert section_of(DOC_PATH.read_text(encoding="utf-8")) == markdown(), (
        "docs/conformance.md's case catalogue is stale: run python -m conformance.catalogue")


def test_the_docs_twenty_line_adapter_runs_as_written(runs):
    assert len(_doc_adapter().strip().splitlines()) <= 25
    assert runs["doc-adapter"].result() == {"1.1": "OK", "3.5": "OK", "6.1": "UNIMPLEMENTED"}


def test_grades_follow_the_level_and_strict():
    assert grade_of(broken("x"), "MUST") is Grade.FAILED
    assert grade_of(broken("x"), "SHOULD") is Grade.NON_STRICT
    assert grade_of(broken("x"), "SHOULD", strict=True) is Grade.FAILED
    assert grade_of(info("x"), "MAY") is Grade.INFORMATIONAL and grade_of(ok("x"), "MUST") is Grade.OK


def _entry(seq: int, route: str, status: int, at: float, latency_ms: float = 0.0) -> dict:
    return {"seq": seq, "route": route, "status": status, "time": at, "latency_ms": latency_ms, "task_id": None}


def test_checks_judge_the_client_pause_not_the_server_latency():
    backoff = select("1.3")[0].check
    result = {"task_id": "t", "status": "SUCCEEDED", "urls": [], "files": [], "failed": [], "error": None}
    slow_server = [_entry(1, "submit", 429, 0.0, latency_ms=900), _entry(2, "submit", 200, 1.0)]
    assert backoff(Observation({}, [result], slow_server)).verdict == "broken"  # 0.1 s after the answer
    patient = [_entry(1, "submit", 429, 0.0, latency_ms=10), _entry(2, "submit", 200, 1.0)]
    assert backoff(Observation({}, [result], patient)).verdict == "ok"
    budget = select("1.4")[0].check
    hammering = [_entry(n, "submit", 429, n * 0.01) for n in range(1, 12)]
    assert budget(Observation({}, [{**result, "status": "ERROR"}], hammering)).verdict == "broken"
    assert budget(Observation({}, [{**result, "status": "ERROR"}], hammering[:6])).verdict == "ok"


def test_the_contract_reads_an_array_or_one_object_and_says_what_is_wrong():
    one = {"task_id": "t", "status": "SUCCEEDED", "urls": [], "files": [], "failed": [], "error": None}
    assert contract.parse(f"log line\n{json.dumps([one, one])}\n", 2) == [one, one]
    assert contract.parse(json.dumps(one), 1) == [one]
    assert contract.parse('{"unsupported": true}', 1) is None
    for stdout, tasks, why in [("", 1, "printed nothing"), ("done", 1, "not JSON"), (json.dumps(one), 2, "array"),
                               (json.dumps([one]), 2, "1 results"), (json.dumps({**one, "status": "OK"}), 1, "status"),
                               (json.dumps({**one, "failed": [{"index": 1}]}), 1, "failed")]:
        with pytest.raises(contract.ContractError, match=why):
            contract.parse(stdout, tasks)


def test_a_selection_matching_nothing_or_an_adapter_that_cannot_start_exits_2(tmp_path, capsys):
    assert main(["conformance", "run", "--agent", "x", "--out", str(tmp_path), "--cases", "9.*", "--", "true"]) == 2
    assert main(["conformance", "run", "--agent", "x", "--out", str(tmp_path), "--cases", "3.1", "--",
                 str(tmp_path / "missing-adapter")]) == 2
    assert main(["conformance", "run", "--agent", "x", "--out", str(tmp_path)]) == 2
    assert not (tmp_path / "x.json").exists()


def test_crashes_bad_output_and_unsupported_actions_are_graded():
    target = Target.start()
    try:
        scripts = {"crash": "raise SystemExit(3)", "garbage": "print('done')", "unsupported": "print('{\"unsupported\": true}')"}
        found = {name: run(select("6.1"), [sys.executable, "-c", code], name, target)[0] for name, code in scripts.items()}
    finally:
        target.close()
    assert found["crash"].grade.value == "FAILED" and "status 3" in found["crash"].observed
    assert found["garbage"].grade.value == "FAILED" and "not JSON" in found["garbage"].observed
    assert found["unsupported"].grade.value == "UNIMPLEMENTED"


def test_the_reference_client_grades_ok_everywhere_and_the_reports_parse(runs):
    status, report = runs["report"].result()
    document = json.loads((report / "reference.json").read_text())
    assert status == 0, [case for case in document["cases"] if case["grade"] != "OK"]
    assert [case["grade"] for case in document["cases"]] == ["OK"] * len(CATALOGUE)
    assert document["agent"] == "reference" and document["summary"]["OK"] == len(CATALOGUE)
    assert set(document["cases"][0]) == {"id", "title", "grade", "expected", "observed", "duration_s"}
    suite = ElementTree.parse(report / "reference.junit.xml").getroot()
    assert suite.tag == "testsuite" and len(suite.findall("testcase")) == len(CATALOGUE)
    assert suite.get("failures") == "0"
    details = json.loads((report / "reference.details.json").read_text())
    assert details["cases"][0]["requests"][0]["route"] == "submit" and details["cases"][0]["requests"][0]["wall"]


@pytest.mark.skipif(not shutil.which("chromium"), reason="no headless chromium on this machine")
def test_the_html_index_opens_in_a_headless_browser(runs):
    _, report = runs["report"].result()
    assert main(["conformance", "report", str(report)]) == 0
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                          (report / "index.html").as_uri()], capture_output=True, text=True, timeout=60).stdout
    assert dom.count("<tr id=\"case-") == len(CATALOGUE)
    assert dom.count('<td class="OK"><details>') == len(CATALOGUE)


@pytest.mark.parametrize("flaw", FLAWS)
def test_a_broken_client_fails_exactly_the_cases_it_breaks(runs, flaw):
    grades = runs[flaw].result()
    _, breaks = FLAWS[flaw]
    assert {case for case, grade in grades.items() if grade == "FAILED"} == breaks
    assert {case: grade for case, grade in grades.items() if case not in breaks} == dict.fromkeys(
        set(grades) - breaks, "OK")


@pytest.mark.parametrize("line", ["sdk-2.0", "sdk-1.20"])
def test_the_official_sdk_grades_as_documented(runs, line):
    assert runs[line].result() == SDK_GRADES


def test_the_node_fetch_adapter_proves_the_contract_is_language_neutral(runs):
    if "node" not in runs:
        pytest.skip("node is not installed")
    assert runs["node"].result() == dict.fromkeys(["1.1", "2.3", "3.5", "6.1", "7.3"], "OK")
