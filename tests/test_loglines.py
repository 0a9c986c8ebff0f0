"""The request log's lines: straight into the batch when that is all logging would do, else through logging."""

from __future__ import annotations

import io
import logging

import pytest

from mockserver.server import loglines


@pytest.mark.parametrize("timed", [True, False])
def test_a_direct_line_is_what_logging_would_write(timed):
    formatter = loglines.Formatter(timed=timed)
    record = logging.LogRecord("mockserver.requests", logging.INFO, __file__, 1, "GET /api/v1/tasks/x status=200", None, None)
    assert formatter.line(record.created, record.getMessage()) == formatter.format(record)


@pytest.fixture
def logger():
    """``mockserver.requests`` below a ``mockserver`` logger set up as ``serve`` sets it up (into a buffer)."""
    parent, child = logging.getLogger("mockserver.lanetest"), logging.getLogger("mockserver.lanetest.requests")
    saved = parent.handlers[:], parent.level, parent.propagate
    stream = io.StringIO()
    loglines.install(parent, "INFO", loglines.Formatter())
    parent.handlers[0].stream = stream
    parent.propagate = False
    yield child, stream
    parent.handlers[0].close()
    parent.handlers[:], parent.level, parent.propagate = saved


def test_the_direct_lane_writes_the_line_once(logger):
    child, stream = logger
    child.parent.handlers = child.parent.handlers[:1]  # pytest's capturing handlers (added for the test's call)
    assert loglines._sole_handler(child) is not None
    loglines.info(child, "GET /x status=200")
    logging.getLogger("mockserver.lanetest").handlers[0].flush()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].endswith(" GET /x status=200") and lines[0][:4].isdigit()


def test_any_other_set_up_goes_through_logging(logger):
    child, stream = logger
    child.parent.handlers = child.parent.handlers[:1]
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    extra = Keep()
    child.addHandler(extra)  # a second destination: a test's caplog, say
    try:
        assert loglines._sole_handler(child) is None
        loglines.info(child, "GET /y status=200")
    finally:
        child.removeHandler(extra)
    logging.getLogger("mockserver.lanetest").handlers[0].flush()
    assert seen == ["GET /y status=200"] and stream.getvalue().endswith(" GET /y status=200\n")
