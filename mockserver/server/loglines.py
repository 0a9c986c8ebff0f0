"""What ``dashscope-mock serve`` writes to stderr: log lines, written in batches.

At info level the server logs a line per DashScope request. A plain
``StreamHandler`` writes and flushes each line (a system call per request) and
formats its time with ``strftime`` each time; under load that cost more than
answering the request. This handler formats the time once per second and
writes the lines gathered during one turn of the event loop together, right
after it: still at once for a person watching, one write for many lines under
load.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from typing import TextIO


class Formatter(logging.Formatter):
    """``logging.Formatter`` with the date and time of ``asctime`` made once per second."""

    _second: int | None = None
    _stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        second = int(record.created)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime(datefmt or self.default_time_format, self.converter(second))
        return self._stamp if datefmt else self.default_msec_format % (self._stamp, record.msecs)


class BatchedHandler(logging.Handler):
    """Buffers formatted lines and writes them once per event-loop turn (at once outside a loop)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self.stream = stream or sys.stderr
        self._lines: list[str] = []
        self._pending = False
        self._buffer_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
        except Exception:  # noqa: BLE001 - logging's contract: report, never raise
            self.handleError(record)
            return
        with self._buffer_lock:
            self._lines.append(line)
            if self._pending:
                return
            self._pending = True
        try:
            asyncio.get_running_loop().call_soon(self.flush)
        except RuntimeError:  # no loop in this thread: write now
            self.flush()

    def flush(self) -> None:
        with self._buffer_lock:
            lines, self._lines, self._pending = self._lines, [], False
        if lines:
            try:
                self.stream.write("".join(lines))
                self.stream.flush()
            except (OSError, ValueError):  # stderr closed: the lines are lost, the server carries on
                pass

    def close(self) -> None:
        self.flush()
        super().close()


def install(logger: logging.Logger, level: str, formatter: logging.Formatter) -> None:
    """Log ``logger``'s records at ``level`` and above to stderr through a :class:`BatchedHandler`."""
    handler = BatchedHandler()
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    logger.setLevel(level)
    # The records' thread and process names are never shown: skip looking them up for every line.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
