"""``dashscope-mock``: run the emulator from the command line.

``dashscope-mock serve`` binds (``--port 0`` picks a free port), prints the
line that points the official SDK at it, and serves until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import os
import signal
import socket
import sys
import threading
from typing import TYPE_CHECKING, Iterator, Sequence

import uvicorn

from conformance import cli as conformance_cli

from . import __version__
from .http.admin_token import ENVIRONMENT as ADMIN_TOKEN_ENV  # serve takes the control plane's token from it
from .loadtest import command as load_command
from .server import banner, loglines
from .server.serving import config, listen, url_of, watch
from .server.workers import supervise
from .settings.config import DEFAULT_PORT, Settings
from .store import StoreError
from .settings.config_errors import SettingsError, load
from .support.suggest import did_you_mean

if TYPE_CHECKING:
    from .domain.emulator import Emulator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dashscope-mock",
        description="A faithful local emulator of DashScope's asynchronous image-task API.",
    )
    parser.add_argument("--version", action="version", version=f"dashscope-mock {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the emulator",
        description="Run the emulator. Point the official SDK at it with the DASHSCOPE_HTTP_BASE_URL line it prints.",
    )
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help=f"port to listen on (default {DEFAULT_PORT}; 0 picks a free one)")
    serve.add_argument(
        "--speed",
        type=float,
        help="run task durations FACTOR times faster (default 1: realistic, ~31 s for wanx-v1 n=4; "
        "'inf' ends every task at once)",
        metavar="FACTOR",
    )
    serve.add_argument("--seed", type=int, help="make task ids and durations repeat from this seed")
    serve.add_argument(
        "--clock",
        choices=["real", "scaled", "manual"],
        help="real: wall time (default); scaled: wall time times --clock-rate; "
        "manual: stands still until POST /__mock/clock/advance moves it",
    )
    serve.add_argument("--clock-rate", type=float, help="with --clock scaled, how much faster than real time")
    serve.add_argument("--public-url", help="base of result URLs when clients reach the emulator through a proxy")
    serve.add_argument("--config", metavar="FILE", help="YAML settings: accounts, keys, limits, retention (see README)")
    serve.add_argument("--state", metavar="FILE", help="start from a snapshot: a JSON document GET /__mock/state gave")
    serve.add_argument("--store", metavar="URL",
                       help="where state lives: memory (default), sqlite:///path (survives restarts), redis://host:port/db")
    serve.add_argument("--workers", type=int, metavar="N",
                       help="serve the port with N processes over one shared store (sqlite or redis)")
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    models = commands.add_parser(
        "models",
        help="list the models the emulator knows, or show one entry",
        description="Without NAME: every model with its route, limits and price (* marks our decisions). "
        "With NAME: a summary of that model's entry; --full or --json for the whole entry.",
    )
    models.add_argument("name", nargs="?", metavar="NAME")
    shown = models.add_mutually_exclusive_group()
    shown.add_argument("--full", action="store_true", help="the whole catalog entry, defaults included, as YAML")
    shown.add_argument("--json", action="store_true", help="the whole catalog entry as JSON")
    commands.add_parser(
        "errors", help="list the error catalog", description="Every error code the emulator answers with: "
        "its HTTP status and exact message (#name: a named variant of the message).",
    )
    conformance_cli.add_parser(commands)
    serve.add_argument("--log-format", choices=["text", "json"], help="one line per request: key=value text (default) or JSON")
    serve.add_argument("--log-lines-per-second", type=int, metavar="N",
                       help="request lines logged a second at most, the rest counted in one line (default 1000; 0: all)")
    serve.add_argument(
        "--fetch-inputs", choices=["any", "loopback", "none"],
        help="download input images from any host, from loopback hosts only (default; others pass unchecked), or none",
    )
    load_command.add_parser(commands)
    return parser


def models(name: str | None, full: bool = False, as_json: bool = False) -> int:
    from .catalog import default_catalog
    from .catalog.summary import full_json, summary
    from .catalog.table import entry_yaml, plain

    catalog = default_catalog()
    if name is None:
        print(plain(catalog), end="")
        return 0
    entry = catalog.model(name)
    if entry is None:
        hint = did_you_mean(name, catalog.models)
        print(f"dashscope-mock: no model {name!r}{hint} (`dashscope-mock models` lists them)", file=sys.stderr)
        return 2
    print(full_json(entry) if as_json else entry_yaml(entry) if full else summary(entry), end="")
    return 0


def errors() -> int:
    from .catalog import default_catalog
    from .catalog.summary import errors_table

    print(errors_table(default_catalog().errors), end="")
    return 0


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        "host": args.host,
        "port": args.port,
        "speed": args.speed,
        "seed": args.seed,
        "clock": args.clock,
        "clock_rate": args.clock_rate,
        "public_url": args.public_url,
        "log_format": args.log_format,
        "log_lines_per_second": args.log_lines_per_second,
        "fetch_inputs": args.fetch_inputs,
        "store": args.store,
        "workers": args.workers,
        "admin_token": os.environ.get(ADMIN_TOKEN_ENV) or None,  # a secret: not on the command line
    }
    return load(args.config, overrides)


# Young collections every 10,000 net allocations instead of CPython's 700: every submit keeps a task (a tracked
# object) for a day, so the default collected every ~175 submits and reached the full collections sooner.
# `python load/bench_submit.py --collector`: the collector's time per submit 2.2-2.9 -> 1.1 us, and shorter pauses.
GC_THRESHOLDS = (10_000, 10, 10)


class _Server(uvicorn.Server):
    """uvicorn, except that Ctrl-C or SIGTERM ends in exit status 0 after the graceful shutdown, and that what
    start-up built is kept out of the garbage collector's way.

    uvicorn re-raises the caught signal once it has shut down, so the process
    dies of SIGTERM (status -15) even though it stopped cleanly.
    """

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # The catalog, the app and the modules live as long as the process: frozen, every full collection skips
        # them (measured: submits' p99 under wrk 59-75 ms -> 23-29 ms, full collections' time down by a third).
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _restored(settings: Settings, path: str) -> "Emulator":
    """An emulator with the state of the snapshot file ``path``."""
    from .domain.emulator import Emulator
    from .domain.snapshot import restore

    emulator = Emulator(settings)
    with open(path, encoding="utf-8") as handle:
        restore(emulator, json.load(handle))
    return emulator


def serve(settings: Settings, log_level: str = "info", emulator: "Emulator | None" = None,
          config_path: str | None = None, state_path: str | None = None) -> None:
    from .domain.emulator import Emulator
    from .http.app import create_app

    # A bad setting fails here, before anything is bound or logged. With workers, each builds its own app
    # over the store; this one only checks the settings (and holds a --state restore, already in the store).
    app = create_app(settings, emulator=emulator) if settings.workers == 1 else None
    if app is None:
        (emulator or Emulator(settings)).close()
    sock = listen(settings.host, settings.port)  # before the URL is printed: early clients wait in the backlog
    url = url_of(sock)
    print(f"dashscope-mock {__version__} listening on {url}", flush=True)
    print(f"DASHSCOPE_HTTP_BASE_URL={url}/api/v1", flush=True)
    print("\n".join(banner.lines(settings, url, config_path, state_path)), flush=True)
    _log_to_stderr(settings, log_level)
    if app is None:
        supervise(settings, log_level, sock, _worker)
    else:
        watch(app, _Server(config(app, settings, log_level))).run(sockets=[sock])


def _worker(settings: Settings, log_level: str, sock: socket.socket) -> None:
    """One of ``--workers``: its own app over the shared store, on the parent's socket (:mod:`.server.workers`)."""
    from .http.app import create_app

    _log_to_stderr(settings, log_level)
    app = create_app(settings)
    watch(app, _Server(config(app, settings, log_level))).run(sockets=[sock])


def _log_to_stderr(settings: Settings, log_level: str) -> None:
    loglines.install(logging.getLogger("mockserver"), log_level.upper(), loglines.Formatter(timed=settings.log_format != "json"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "models":
        return models(args.name, args.full, args.json)
    if args.command == "errors":
        return errors()
    if args.command == "load":
        return load_command.run(args)
    if args.command == "conformance":
        return conformance_cli.main(args)
    if args.command != "serve":
        parser.print_help()
        return 2
    try:
        settings = _settings(args)
    except SettingsError as error:
        print(f"dashscope-mock: {error}", file=sys.stderr)
        return 2
    emulator = None
    try:
        if args.state:
            try:
                emulator = _restored(settings, args.state)
            except (OSError, ValueError) as error:  # a SnapshotError, or a file that is not JSON
                print(f"dashscope-mock: cannot start from {args.state}: {error}", file=sys.stderr)
                return 2
        serve(settings, args.log_level, emulator, args.config, args.state)
    except StoreError as error:
        print(f"dashscope-mock: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"dashscope-mock: cannot listen on {settings.host}:{settings.port}: {error}", file=sys.stderr)
        return 1
    except ValueError as error:  # a fault rule of the config file names a code the catalog does not have
        where = f" in {args.config}" if args.config else ""
        print(f"dashscope-mock: invalid settings{where}: `faults`: {error}", file=sys.stderr)
        return 2
    return 0
