"""``dashscope-mock conformance list|run|report``: the harness on the command line.

Exit status of ``run``: 0 when no case is FAILED, 1 when one is, 2 when the
selection matched no case or the adapter could not be started (a run that
grades nothing never passes).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .cases import CATALOGUE, SECTIONS, select

if TYPE_CHECKING:
    from .runner import CaseRun


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``conformance`` on the ``dashscope-mock`` command line."""
    conformance = commands.add_parser(
        "conformance", help="grade a DashScope client, case by case",
        description="Run a client's adapter once per numbered case against the emulator and grade what it did "
                    "(docs/conformance.md).",
    )
    actions = conformance.add_subparsers(dest="action", metavar="ACTION")
    listing = actions.add_parser("list", help="the numbered case catalogue")
    listing.add_argument("--json", action="store_true", help="the catalogue as JSON")
    run = actions.add_parser(
        "run", help="grade an adapter: run ... -- COMMAND ARGS",
        description="Run COMMAND (everything after --) once per case with the adapter contract's environment.",
    )
    run.add_argument("--agent", required=True, help="the client's name in the reports")
    run.add_argument("--out", default="report", help="report folder (default ./report)")
    run.add_argument("--url", help="use this running emulator (http://host:port) instead of starting one")
    run.add_argument("--cases", help="case ids and globs, comma-separated: 2.*,3.4 (default: all)")
    run.add_argument("--strict", action="store_true", help="a NON-STRICT case fails the run too")
    run.add_argument("--jobs", type=int, default=4, help="cases run at once, each on its own account (default 4)")
    run.add_argument("adapter", nargs=argparse.REMAINDER, metavar="-- COMMAND", help="the adapter command")
    report = actions.add_parser("report", help="rebuild index.html of a report folder")
    report.add_argument("dir", help="the folder run --out wrote into")


def main(args: argparse.Namespace) -> int:
    if args.action == "list":
        return _list(args.json)
    if args.action == "report":
        return _report(Path(args.dir))
    if args.action == "run":
        return _run(args)
    print("dashscope-mock conformance: say list, run or report (--help explains them)", file=sys.stderr)
    return 2


def _list(as_json: bool) -> int:
    if as_json:
        print(json.dumps([case.describe() for case in CATALOGUE], indent=1))
        return 0
    section = None
    for case in CATALOGUE:
        if case.id.split(".")[0] != section:
            section = case.id.split(".")[0]
            print(f"\n{section}. {SECTIONS[section]}")
        print(f"  {case.id:<5} {case.level:<6} {case.title}")
    return 0


def _report(folder: Path) -> int:
    from .report import rebuild_index

    if not folder.is_dir():
        print(f"dashscope-mock conformance: no folder {folder}", file=sys.stderr)
        return 2
    print(rebuild_index(folder))
    return 0


def _run(args: argparse.Namespace) -> int:
    from .report import write
    from .runner import AdapterNotStarted, run
    from .target import Target

    command = args.adapter[1:] if args.adapter[:1] == ["--"] else args.adapter
    if not command:
        print("dashscope-mock conformance run: give the adapter command after --", file=sys.stderr)
        return 2
    cases = select(args.cases)
    if not cases:
        print(f"dashscope-mock conformance run: no case matches {args.cases!r}", file=sys.stderr)
        return 2
    target = Target(args.url) if args.url else Target.start()
    try:
        runs = run(cases, command, args.agent, target, jobs=args.jobs, strict=args.strict, done=_progress)
    except AdapterNotStarted as error:
        print(f"dashscope-mock conformance run: {error}", file=sys.stderr)
        return 2
    finally:
        target.close()
    document = write(Path(args.out), args.agent, runs)
    counts = ", ".join(f"{grade} {count}" for grade, count in document["summary"].items() if count)
    print(f"{args.agent}: {counts}; report in {Path(args.out) / 'index.html'}")
    return 1 if document["summary"]["FAILED"] else 0


def _progress(case_run: CaseRun) -> None:
    """One line per case as it ends (cases run in parallel, so not in catalogue order)."""
    print(f"{case_run.case.id:<5} {case_run.grade.value:<13} {case_run.case.title}: {case_run.observed[:160]}",
          flush=True)
