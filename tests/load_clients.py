"""Clients with known faults for the ``retry`` load profile's tests (``--client load_clients:NAME``)."""

from __future__ import annotations

import time

from conformance.clients.reference import generate


def twice(model: str, input: dict, parameters: dict, *, out_dir: str | None = None,
          timeout_seconds: float = 600) -> dict:
    """Sends every job twice (as a client that resubmits after a lost answer would) and reports the second task."""
    generate(model, input, parameters, timeout_seconds=timeout_seconds)
    return generate(model, input, parameters, out_dir=out_dir, timeout_seconds=timeout_seconds)


def liar(model: str, input: dict, parameters: dict, **_: object) -> dict:
    """Reports a success without sending anything."""
    time.sleep(0.05)  # gevent's sleep in the Locust process: the user loop yields
    return {"task_id": "never-submitted", "status": "SUCCEEDED", "urls": ["http://127.0.0.1:9/x.png"],
            "files": [], "failed": [], "error": None}
