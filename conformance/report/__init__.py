"""The reports under ``--out``: ``AGENT.json``, ``AGENT.junit.xml``, and ``index.html`` comparing every agent.

``AGENT.details.json`` keeps what the index shows when a cell is opened: the
level, the source, the client's requests with their wall-clock times, the
adapter's results and output.
"""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ElementTree
from importlib.resources import files
from pathlib import Path
from typing import Any, Sequence

from ..cases import sort_key
from ..grades import ORDER, Grade
from ..runner import CaseRun, slug

DETAILS = ".details.json"
REQUEST_COLUMNS = ("wall", "method", "path", "route", "status", "task_status", "fault", "latency_ms")


def write(out: Path, agent: str, runs: Sequence[CaseRun]) -> dict[str, Any]:
    """Write the agent's three files and rebuild the index; returns the ``AGENT.json`` document."""
    out.mkdir(parents=True, exist_ok=True)
    document = report_json(agent, runs)
    stem = slug(agent)
    (out / f"{stem}.json").write_text(json.dumps(document, indent=1), encoding="utf-8")
    (out / f"{stem}{DETAILS}").write_text(details_json(agent, runs), encoding="utf-8")
    (out / f"{stem}.junit.xml").write_bytes(junit(agent, runs))
    rebuild_index(out)
    return document


def report_json(agent: str, runs: Sequence[CaseRun]) -> dict[str, Any]:
    """``AGENT.json``: the agent, one summary per case, and the count of each grade."""
    summary = {grade.value: sum(1 for case_run in runs if case_run.grade is grade) for grade in Grade}
    return {"agent": agent, "cases": [case_run.summary() for case_run in runs], "summary": summary}


def details_json(agent: str, runs: Sequence[CaseRun]) -> str:
    """``AGENT.details.json``: everything the index shows when a cell is opened."""
    return json.dumps({"agent": agent, "cases": [case_run.detail() for case_run in runs]}, indent=1)


def junit(agent: str, runs: Sequence[CaseRun]) -> bytes:
    """One testcase per case; FAILED is a failure, UNIMPLEMENTED skipped, the rest pass with their grade."""
    failures = sum(1 for run in runs if run.grade is Grade.FAILED)
    skipped = sum(1 for run in runs if run.grade is Grade.UNIMPLEMENTED)
    suite = ElementTree.Element("testsuite", name=f"dashscope conformance: {agent}", tests=str(len(runs)),
                                failures=str(failures), errors="0", skipped=str(skipped),
                                time=f"{sum(run.duration_s for run in runs):.2f}")
    for run in runs:
        case = ElementTree.SubElement(suite, "testcase", classname=f"conformance.{slug(agent)}",
                                      name=f"{run.case.id} {run.case.title}", time=f"{run.duration_s:.2f}")
        if run.grade is Grade.FAILED:
            failure = ElementTree.SubElement(case, "failure", message=run.observed[:500], type=run.case.level)
            failure.text = f"expected: {run.case.expected}\nobserved: {run.observed}"
        elif run.grade is Grade.UNIMPLEMENTED:
            ElementTree.SubElement(case, "skipped", message=run.observed)
        else:
            ElementTree.SubElement(case, "system-out").text = f"{run.grade.value}: {run.observed}"
    return ElementTree.tostring(suite, encoding="utf-8", xml_declaration=True)


def rebuild_index(out: Path) -> Path:
    """``index.html`` from every agent report in ``out``: one row per case, one column per agent."""
    agents = []
    for path in sorted(out.glob("*.json")):
        if path.name.endswith(DETAILS):
            continue
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        if not isinstance(document, dict) or "agent" not in document or "cases" not in document:
            continue
        details_path = path.with_name(path.name[: -len(".json")] + DETAILS)
        details = json.loads(details_path.read_text(encoding="utf-8")) if details_path.exists() else {"cases": []}
        agents.append((document, {case["id"]: case for case in details["cases"]}))
    index = out / "index.html"
    index.write_text(_page(agents), encoding="utf-8")
    return index


def _page(agents: list[tuple[dict[str, Any], dict[str, dict[str, Any]]]]) -> str:
    titles: dict[str, str] = {}
    for document, _ in agents:
        for case in document["cases"]:
            titles.setdefault(case["id"], case["title"])
    head = "".join(f"<th>{html.escape(document['agent'])}<div class='summary'>{_counts(document)}</div></th>"
                   for document, _ in agents)
    rows = []
    for case_id in sorted(titles, key=sort_key):
        cells = []
        for document, details in agents:
            case = next((item for item in document["cases"] if item["id"] == case_id), None)
            cells.append(_cell(case, details.get(case_id, {})))
        rows.append(f"<tr id='case-{html.escape(case_id)}'><td class='case'><b>{html.escape(case_id)}</b> "
                    f"{html.escape(titles[case_id])}</td>{''.join(cells)}</tr>")
    css = files("conformance.report").joinpath("index.css").read_text(encoding="utf-8")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>DashScope client conformance</title><style>{css}</style></head><body>"
            "<h1>DashScope client conformance</h1>"
            "<p>Each cell is one client's grade on one case; open it for the expected and observed behaviour, "
            "the client's requests (wall-clock times) and its output.</p>"
            f"<table class='grades'><thead><tr><th>case</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody>"
            "</table></body></html>\n")


def _counts(document: dict[str, Any]) -> str:
    summary = document.get("summary", {})
    return "".join(f"<span>{html.escape(grade)} {summary[grade]}</span>" for grade in ORDER if summary.get(grade))


def _cell(case: dict[str, Any] | None, detail: dict[str, Any]) -> str:
    if case is None:
        return "<td class='none'>not run</td>"
    escape = html.escape
    parts = [f"<p><span class='level'>{escape(detail.get('level', ''))}: {escape(detail.get('source', ''))}</span></p>",
             f"<p><b>emulator:</b> {escape(detail.get('emulator', ''))}</p>",
             f"<p><b>expected:</b> {escape(case['expected'])}</p>",
             f"<p><b>observed:</b> {escape(case['observed'])}</p>",
             f"<p>{case['duration_s']} s</p>"]
    requests = detail.get("requests") or []
    if requests:
        header = "".join(f"<th>{column}</th>" for column in REQUEST_COLUMNS)
        body = "".join("<tr>" + "".join(f"<td>{escape(str(entry.get(column, '')))}</td>" for column in REQUEST_COLUMNS)
                       + "</tr>" for entry in requests[:200])
        parts.append(f"<table class='requests'><tr>{header}</tr>{body}</table>")
        parts.append(_folded("journal", json.dumps(requests[:50], indent=1)))
    if detail.get("results") is not None:
        parts.append(_folded("results", json.dumps(detail["results"], indent=1)))
    for stream in ("stdout", "stderr"):
        if detail.get(stream):
            parts.append(_folded(stream, detail[stream]))
    grade = escape(case["grade"])
    return (f"<td class='{grade}'><details><summary>{grade}</summary>"
            f"<div class='detail'>{''.join(parts)}</div></details></td>")


def _folded(title: str, text: str) -> str:
    """A closed ``<details>`` with ``text`` preformatted."""
    return f"<details><summary>{title}</summary><pre>{html.escape(text)}</pre></details>"
