"""Section 4: fetching the result images (each once, expired URLs, a transfer cut short)."""

from __future__ import annotations

from ..grades import Finding, broken, ok
from ..observation import Observation, said
from .checks import succeeded
from .model import Case, Stage, rule

OSS = "Alibaba OSS (signed URLs expire: 403 AccessDenied, \"Request has expired.\")"
PRACTICE = "HTTP practice"
RUNNING = 3600  # the expiring task runs an hour of emulated time, skipped by a clock jump


def _once_each(o: Observation) -> Finding:
    found = succeeded(o, images=2)
    if found.verdict != "ok":
        return found
    downloads = o.requests("download")
    if len(downloads) != 2:
        return broken(f"{len(downloads)} downloads for 2 images")
    return ok("each image downloaded once")


def _expire(stage: Stage) -> None:
    """Once the task exists, jump past its end and its URLs' validity (the harness's emulator keeps
    result URLs 1 h and tasks 24 h): the next poll sees SUCCEEDED with URLs that answer 403."""
    if stage.wait_for("submit") is not None:
        stage.advance(RUNNING + 3600 + 60)


def _expired(o: Observation) -> Finding:
    result = o.result
    if result["status"] not in ("SUCCEEDED", "ERROR"):
        return broken(f"reported {said(result)}")
    downloads = o.requests("download")
    if not downloads or any(entry["status"] != 403 for entry in downloads):
        return broken(f"downloads answered {[entry['status'] for entry in downloads]}, the case needs 403s")
    if len(downloads) > 3:
        return broken(f"fetched an expired URL {len(downloads)} times")
    if result["files"]:
        return broken(f"claims files {result['files']} for an image it could not fetch")
    reported = result.get("failed") or result.get("error")
    if not reported:
        return broken("the image that could not be fetched is neither in failed nor in error")
    return ok(f"{len(downloads)} download(s) refused 403; reported {said(result)} with the image as failed")


def _refetched(o: Observation) -> Finding:
    cut = [entry for entry in o.requests("download") if entry.get("fault")]
    if not cut:
        return broken("no download was cut short (did the client download at all?)")
    found = succeeded(o)
    if found.verdict != "ok":
        return broken(f"after a download cut short: {found.observed}")
    return ok(f"{len(cut)} download(s) cut short, fetched again: {len(o.real_files())} whole PNG file(s)")


CASES = [
    Case("4.1", "Each result image downloaded once", "SHOULD", PRACTICE,
         "serves two result images", "downloads each image once into out_dir", _once_each,
         parameters={"n": 2}),
    Case("4.2", "A result URL that has expired (403)", "MUST", OSS,
         "lets the result URL expire before the client fetches it: OSS's 403 AccessDenied",
         "does not retry the 403 more than twice, claims no file, and reports the image as failed (or ERROR)",
         _expired, prompt=f"a cat [mock:running={RUNNING}s]", during=_expire, exclusive=True),
    Case("4.3", "A download cut short", "SHOULD", PRACTICE,
         "closes the connection of the first image download halfway through the body",
         "fetches the image again and keeps only a whole file", _refetched,
         faults=(rule("download", 1, network={"kind": "truncate"}),)),
]
