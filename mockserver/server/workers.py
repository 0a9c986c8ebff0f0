"""``--workers N``: N processes serving one listening socket over one shared store.

The parent binds the socket, then starts each worker with ``spawn`` (a fresh
interpreter: nothing of the parent's event loop or store connection is
inherited) and hands it the socket; the kernel spreads connections among
the workers. Every worker builds its own emulator over the same store URL, so
limits, queues, the clock and the fault rules are the store's, exact across
workers. A worker that dies is started again; SIGINT or SIGTERM stops them all.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
import time
from multiprocessing.process import BaseProcess
from typing import Callable

from ..settings.config import Settings

log = logging.getLogger("mockserver")
_RESTART_PAUSE = 1.0  # seconds between restarts of a worker that keeps dying


def supervise(settings: Settings, log_level: str, sock: socket.socket, worker: Callable[[Settings, str, socket.socket], None]) -> None:
    """Run ``worker(settings, log_level, sock)`` in ``settings.workers`` processes until a signal stops them."""
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()

    def start(index: int) -> BaseProcess:
        process = context.Process(target=worker, args=(settings, log_level, sock), name=f"dashscope-mock-worker-{index}")
        process.start()
        return process

    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    processes = [start(index) for index in range(settings.workers)]
    try:
        while not stop.wait(0.2):
            for index, process in enumerate(processes):
                if not process.is_alive() and not stop.is_set():
                    log.warning("worker %d (pid %s) ended with status %s; starting it again", index, process.pid, process.exitcode)
                    time.sleep(_RESTART_PAUSE)
                    processes[index] = start(index)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: each worker shuts down gracefully
        for process in processes:
            process.join(timeout=15)
            if process.is_alive():
                process.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
