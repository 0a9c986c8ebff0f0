"""What ``dashscope-mock serve`` writes to stderr: log lines, written in batches.

At info level the server logs a line per DashScope request. A plain
``StreamHandler`` writes and flushes each line (a system call per request) and
formats its time with ``strftime`` each time; under load that cost more than
answering the request. This handler formats the time once per second and
writes the lines gathered during 50 ms (or 1,000 lines) together: at once for
a person watching, one write for many lines under load (a write per turn of
the event loop cost about 10 us a request under wrk, turns being short).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from typing import TextIO

FLUSH_SECONDS = 0.05  # how long a line may wait for others
FLUSH_LINES = 1000  # a batch this long is written at once


TIME_FORMAT = "%Y-%m-%d %H:%M:%S%z"  # times say their zone


class Formatter(logging.Formatter):
    """``[date time ]message``: the time (``timed``, made once per second) and the message, nothing else."""

    _second: int | None = None
    _stamp = ""

    def __init__(self, timed: bool = True) -> None:
        super().__init__("%(asctime)s %(message)s" if timed else "%(message)s", datefmt=TIME_FORMAT if timed else None)
        self.timed = timed

    def line(self, created: float, message: str) -> str:
        """What :meth:`format` makes of a record of ``message`` created at ``created`` (no exception attached)."""
        return f"{self._stamp_of(int(created))} {message}" if self.timed else message

    def _stamp_of(self, second: int) -> str:
        if second != self._second:
            self._second = second
            self._stamp = time.strftime(self.datefmt or self.default_time_format, self.converter(second))
        return self._stamp

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        stamp = self._stamp_of(int(record.created))
        return stamp if datefmt else self.default_msec_format % (stamp, record.msecs)


class BatchedHandler(logging.Handler):
    """Buffers formatted lines and writes them every ``FLUSH_SECONDS`` (at once outside an event loop)."""

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
        self.write(line)

    def write(self, line: str) -> None:
        """Add a formatted line (with its newline) to the batch, written within ``FLUSH_SECONDS``."""
        with self._buffer_lock:
            self._lines.append(line)
            if self._pending and len(self._lines) < FLUSH_LINES:
                return
            full, self._pending = self._pending, True
        if full:
            self.flush()
            return
        try:
            asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)
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


def info(logger: logging.Logger, message: str) -> None:
    """Log ``message`` at INFO on ``logger`` (the caller has checked the level): straight into the batch when
    logging would give it to one :class:`BatchedHandler` with a :class:`Formatter` and nothing else."""
    handler = _sole_handler(logger)
    if handler is None:
        logger.info(message)
        return
    assert isinstance(handler.formatter, Formatter)
    handler.write(handler.formatter.line(time.time(), message) + "\n")


def _sole_handler(logger: logging.Logger) -> BatchedHandler | None:
    """The one handler an INFO record of ``logger`` reaches, if that is a plain :class:`BatchedHandler`."""
    if logger.filters:
        return None
    found: BatchedHandler | None = None
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if (found is not None or type(handler) is not BatchedHandler or handler.filters
                    or handler.level > logging.INFO or not isinstance(handler.formatter, Formatter)):
                return None
            found = handler
        current = current.parent if current.propagate else None
    return found


def install(logger: logging.Logger, level: str, formatter: logging.Formatter) -> None:
    """Log ``logger``'s records at ``level`` and above to stderr through a :class:`BatchedHandler`."""
    handler = BatchedHandler()
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    logger.setLevel(level)
    # The records' thread and process names are never shown: skip looking them up for every line.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
