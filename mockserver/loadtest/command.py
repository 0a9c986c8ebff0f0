"""``dashscope-mock load retry|capacity``: run a Locust profile headless, then check and summarise it.

The command starts an emulator (or uses ``--host``), runs Locust in a process
of its own (gevent's monkey-patching stays out of this one), prints a progress
line while it runs, and at the end writes ``summary.json`` next to Locust's
HTML report and CSVs, with every figure checked against the emulator's journal.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from functools import cached_property
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import httpx

from ..catalog import default_catalog
from .clients import resolve
from .emulator_process import EmulatorError, check, started
from .jobs import Tally, read_jobs
from .observe import ControlPlane, Mark
from .stages import knee, ramp, stages
from .summary import Limits, summarize, table

PROFILES = ("retry", "capacity")
DEFAULT_USERS = {"retry": 20, "capacity": 200}
DEFAULT_SPEED = {"retry": 1.0, "capacity": 20.0}  # capacity wants traffic, not realistic waits
_SPAN = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def timespan(text: str) -> int:
    """Seconds of ``90``, ``90s``, ``2m``, ``1h30m`` (at least one)."""
    found = _SPAN.match(text)
    if text.isdigit():
        seconds = int(text)
    elif text and found is not None:
        hours, minutes, rest = (int(part or 0) for part in found.groups())
        seconds = 3600 * hours + 60 * minutes + rest
    else:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90s, 2m or 1h30m")
    if seconds < 1:
        raise argparse.ArgumentTypeError("the duration must be at least 1 s")
    return seconds


def seconds_or_rate(text: str) -> float:
    """A number above zero."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number above 0")
    return value


def positive(text: str) -> int:
    """A whole number, at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def add_parser(commands: Any) -> None:
    """The ``load`` subcommand and its options."""
    load = commands.add_parser(
        "load", help="run a Locust load test (retry: your client under the real limits; capacity: the emulator)",
        description="Run a Locust profile headless against an emulator it starts (or --host), then write "
        "DIR/summary.json, Locust's report.html and CSVs.",
    )
    load.add_argument("profile", choices=PROFILES)
    load.add_argument("--client", default="sdk", help="retry: sdk, naive, reference, or module:function (default sdk)")
    load.add_argument("--users", type=positive, help="simulated users (default: retry 20, capacity 200)")
    load.add_argument("--spawn-rate", type=seconds_or_rate, help="users started a second (default: all in about 2 s)")
    load.add_argument("--duration", type=timespan, default=60, help="how long the load runs: 90s, 2m (default 1m)")
    load.add_argument("--out", default="load-report", metavar="DIR", help="where the reports go (default load-report/)")
    load.add_argument("--host", help="a running emulator, e.g. http://127.0.0.1:8580 (default: start one)")
    load.add_argument("--model", default="wanx-v1", help="the model every job asks for (default wanx-v1)")
    load.add_argument("--images", type=positive, default=1, help="n, the images each job asks for (default 1)")
    load.add_argument("--api-key", default="sk-load", help="retry: the key all users share (default sk-load)")
    load.add_argument("--job-timeout", type=seconds_or_rate, default=600, help="timeout_seconds given to the client")
    load.add_argument("--stop-timeout", type=timespan, default=5,
                      help="seconds jobs in flight get to finish at the end; then they count as interrupted")
    load.add_argument("--web", action="store_true",
                      help="also serve Locust's web UI on 127.0.0.1 (port 8089, or --locust-args '--web-port N')")
    started_one = load.add_argument_group("the emulator it starts (without --host)")
    started_one.add_argument("--speed", type=float, help="task durations run FACTOR times faster "
                             "(default: retry 1, realistic; capacity 20)", metavar="FACTOR")
    started_one.add_argument("--clock", choices=["real", "scaled"], help="the emulator's clock (default real)")
    started_one.add_argument("--clock-rate", type=float, help="with --clock scaled, how much faster than real time")
    started_one.add_argument("--seed", type=int)
    started_one.add_argument("--config", metavar="FILE", help="the emulator's YAML settings (accounts, limits)")
    load.add_argument("--locust-args", default="", metavar="ARGS",
                      help="more options for Locust, in one string: --locust-args '--processes 2'")


@dataclass
class _Run:
    """One run's choices, as the Locust process and the summary need them."""

    args: argparse.Namespace
    out: Path
    run_id: str
    users: int

    @property
    def jobs_file(self) -> Path:
        return self.out / "jobs.jsonl"

    @cached_property
    def tally(self) -> Tally:
        return Tally(self.jobs_file)


def run(args: argparse.Namespace) -> int:
    if find_spec("locust") is None:
        print("dashscope-mock load needs Locust: pip install 'dashscope-mock[load]'", file=sys.stderr)
        return 2
    entry = default_catalog().model(args.model)
    if entry is None or entry.mode != "async":
        print(f"dashscope-mock load: --model {args.model!r} is not an asynchronous model of the catalog "
              "(`dashscope-mock models` lists them)", file=sys.stderr)
        return 2
    if args.profile == "retry":
        sys.path.insert(0, os.getcwd())  # as Locust does for the locustfile: a client module here is found
        try:
            resolve(args.client)  # a bad --client is an error now, not one in every simulated user
        except ValueError as error:
            print(f"dashscope-mock load: {error}", file=sys.stderr)
            return 2
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "jobs.jsonl").write_text("", encoding="utf-8")
    except OSError as error:
        print(f"dashscope-mock load: cannot write the reports to {out}: {error}", file=sys.stderr)
        return 2
    plan = _Run(args, out, uuid.uuid4().hex[:8], args.users or DEFAULT_USERS[args.profile])
    try:
        if args.host:
            check(args.host)
            return _run_against(args.host.rstrip("/"), plan)
        settings = {"speed": args.speed or DEFAULT_SPEED[args.profile], "clock": args.clock,
                    "clock_rate": args.clock_rate, "seed": args.seed}
        with started(out, settings, args.config) as url:
            return _run_against(url, plan)
    except EmulatorError as error:
        print(f"dashscope-mock load: {error}", file=sys.stderr)
        return 1
    except httpx.HTTPError as error:  # the emulator went away or broke during the run
        print(f"dashscope-mock load: lost the emulator's control plane: {error}", file=sys.stderr)
        return 1


def _run_against(url: str, plan: _Run) -> int:
    args = plan.args
    emulator = ControlPlane(url)
    try:
        account = emulator.account(args.api_key, args.model)["account"] if args.profile == "retry" else None
        mark = emulator.mark()
        status = _locust(url, plan, emulator, mark, account)
        if status not in (0, 1):  # 1: some requests failed, which a load test expects
            print(f"dashscope-mock load: Locust exited with status {status}; see {plan.out / 'locust.log'}",
                  file=sys.stderr)
            return status
        summary = _summary(url, plan, emulator, mark, account)
    finally:
        emulator.close()
    (plan.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(table(summary), end="")
    print(f"reports: {plan.out / 'summary.json'}, {plan.out / 'report.html'}, {plan.out}/locust_*.csv")
    return 0


def _locust(url: str, plan: _Run, emulator: ControlPlane, mark: Mark, account: str | None) -> int:
    """Run Locust to the end, printing a progress line; its exit status."""
    args = plan.args
    module = Path(__file__).with_name(f"{args.profile}.py")  # the locustfile, wherever the package is installed
    command = [
        sys.executable, "-m", "locust", "-f", str(module), "--host", url,
        "--users", str(plan.users), "--spawn-rate", str(args.spawn_rate or max(1.0, plan.users / 2)),
        "--run-time", f"{args.duration}s", "--stop-timeout", f"{args.stop_timeout}s",
        "--csv", str(plan.out / "locust"), "--html", str(plan.out / "report.html"), "--only-summary",
        "--model", args.model, "--images", str(args.images), "--api-key", args.api_key, "--client", args.client,
        "--job-timeout", str(args.job_timeout), "--jobs-file", str(plan.jobs_file), "--run-id", plan.run_id,
        *(["--autostart", "--autoquit", "5", "--web-host", "127.0.0.1"] if args.web else ["--headless"]),
        *shlex.split(args.locust_args),
    ]
    with open(plan.out / "locust.log", "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        began = shown = time.monotonic()
        try:
            while process.poll() is None:
                time.sleep(1)  # the progress line's cadence; the run itself is Locust's
                if sys.stdout.isatty() or time.monotonic() - shown >= 10:  # a log gets a line every 10 s
                    shown = time.monotonic()
                    _progress(plan, emulator, mark, account, shown - began)
        except KeyboardInterrupt:
            process.terminate()
            process.wait()
            raise
    if sys.stdout.isatty():
        print()
    return process.returncode


def _progress(plan: _Run, emulator: ControlPlane, mark: Mark, account: str | None, elapsed: float) -> None:
    """One line: time, jobs, requests and 429s so far (the journal's counts); rewritten in place on a terminal."""
    tty = sys.stdout.isatty()
    jobs = plan.tally.update()
    try:
        requests = emulator.count(mark.time, account=account)
        throttled = emulator.count(mark.time, account=account, status=429)
    except httpx.HTTPError:  # the emulator is busy or gone; the next tick tries again
        return
    line = (f"{_clock(elapsed)} / {_clock(plan.args.duration)}  jobs {jobs.started} ({jobs.succeeded} ok, "
            f"{jobs.ended - jobs.succeeded} not, {jobs.started - jobs.ended} running)  requests {requests}  "
            f"429s {throttled}")
    print(f"\r{line}   " if tty else line, end="" if tty else "\n", flush=True)


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def _summary(url: str, plan: _Run, emulator: ControlPlane, mark: Mark, account: str | None) -> dict[str, Any]:
    args = plan.args
    seen = emulator.seen(mark, plan.run_id, account)
    accounts = sorted({entry["account"] for entry in seen.requests if entry["account"]}) if account is None else [account]
    key = args.api_key if args.profile == "retry" else f"{args.api_key}-{plan.run_id}-1"
    model = emulator.account(key, args.model)["models"][args.model]
    limits = Limits(model["submit_per_second"], model["concurrency"], args.images, max(1, len(accounts)))
    extra: dict[str, Any] = {
        "profile": args.profile, "client": args.client if args.profile == "retry" else "capacity mix",
        "model": args.model, "images_per_job": args.images, "users": plan.users, "duration_seconds": args.duration,
        "host": url, "run_id": plan.run_id, "accounts": len(accounts),
    }
    summary = summarize(read_jobs(plan.jobs_file), seen, limits, timeout_seconds=args.job_timeout, extra=extra)
    if args.profile == "capacity":
        steps = stages(plan.out / "locust_stats_history.csv", ramp(plan.users))
        summary["stages"], summary["knee_users"] = steps, knee(steps)
    return summary
