"""Benchmark: instructions per answer under callgrind, the emulator against a bare Starlette route.

Wall-clock figures (``bench_peers.py``) swing with whatever else runs on the
machine; the instructions a server executes for one answer do not. Each
server runs under ``valgrind --tool=callgrind`` with counting off; after a
warm-up, counting is switched on for ``--duration`` seconds of ``wrk`` load
and the count is divided by the answers wrk got. Same servers, routes and
bodies as ``bench_peers.py``. ``x_instr`` is the bare route's count over
this one's: what one core would serve relative to it, leaving out the
kernel's share (the system calls: one write per answer for ours, two for
the bare route, is not counted here).

    python load/bench_instructions.py [--routes poll,image,submit] [--duration 8]

Needs valgrind and wrk (``apt-get install valgrind wrk``); Linux only.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_peers import BARE_ARGS, KEY, free_port, ours_args, prepare, wait_up


def instructions(name: str, command: list[str], cwd: Path, url: str, extra: list[str], seconds: float) -> tuple[float, int]:
    """``(instructions per answer, answers counted)`` of one server under callgrind."""
    port = free_port()
    command = [part.replace("$PORT", str(port)) for part in command]
    out = cwd / f"{name}.callgrind"
    server = subprocess.Popen(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}", *command],
                              cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_up(base + "/", server, seconds=300)  # valgrind starts slowly
        load = ["wrk", "-t1", "-c8", "--timeout", "60s", *extra, base + url]  # slow under valgrind: wait for each answer
        subprocess.run([*load[:3], "-d3s", *load[3:]], capture_output=True, check=True)  # warm-up, not counted
        subprocess.run(["callgrind_control", "-i", "on", str(server.pid)], capture_output=True, check=True)
        report = subprocess.run([*load[:3], f"-d{seconds:g}s", *load[3:]], capture_output=True, text=True, check=True).stdout
        subprocess.run(["callgrind_control", "-i", "off", str(server.pid)], capture_output=True, check=True)
        subprocess.run(["callgrind_control", "-d", str(server.pid)], capture_output=True, check=True)
        answers = int(re.search(r"(\d+) requests in", report).group(1))
    finally:
        server.terminate()
        server.wait(timeout=60)
    counted = max((int(line.split()[1]) for path in cwd.glob(f"{name}.callgrind*") for line in path.read_text().splitlines()
                   if line.startswith(("summary:", "totals:"))), default=0)
    if not answers:
        raise RuntimeError(f"{name}: no answer counted in {seconds:g} s (try a longer --duration)")
    return counted / answers, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument("--routes", default="poll,image,submit")
    args = parser.parse_args()
    for tool in ("valgrind", "callgrind_control", "wrk"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found (apt-get install valgrind wrk)")
    serve = shutil.which("dashscope-mock") or sys.exit("dashscope-mock not found: pip install . first")
    ours = [sys.executable, *ours_args(serve)]  # valgrind runs the interpreter, not the script
    servers = {"starlette-bytes": [sys.executable, *BARE_ARGS], "ours": ours, "ours-quiet": [*ours, "--log-level", "warning"]}
    print(f"# callgrind, wrk -t1 -c8 -d{args.duration:g}s after a 3 s warm-up; x_instr = starlette-bytes' "
          "instructions per answer / this one's")
    print(f"{'route':<8}{'server':<17}{'k_instr/req':>12}{'x_instr':>9}{'answers':>9}")
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        paths = prepare(scratch)
        for route in args.routes.split(","):
            extra = ["-H", f"Authorization: Bearer {KEY}"]
            if route == "submit":
                extra += ["-s", str(scratch / "submit.lua")]
            base = None
            for name, command in servers.items():
                per_answer, answers = instructions(f"{route}-{name}", command, scratch, paths[route], extra, args.duration)
                base = base or per_answer
                print(f"{route:<8}{name:<17}{per_answer / 1000:>12.1f}{base / per_answer:>9.2f}{answers:>9}", flush=True)


if __name__ == "__main__":
    main()
