"""The result buckets: ``GET``/``HEAD /<bucket>/<key>?Expires&OSSAccessKeyId&Signature``.

The buckets are ``dashscope-result-bj``, ``dashscope-result-sh`` and ``viapi-video``
(style-repaint JPEGs); :mod:`mockserver.results.names` says which object lives where.

Checks run in this order (our decision; OSS does not document it): a query
without the three signing fields is anonymous access to a private bucket
(``AccessDenied``); a signature that does not sign this key and expiry is
``SignatureDoesNotMatch``; a valid signature past its ``Expires`` on the
emulator's clock is ``Request has expired.``; then the object must exist
(``NoSuchKey``). Images are rendered on first download, off the event loop; past
``max_renders_in_flight`` downloads waiting for a render, another one that needs
a render gets OSS's 503 ``ActiveRequestLimitExceeded`` at once instead of a
place in a queue that would outlast the client's timeout (a render takes ~80 ms
of a core; more renders at once add no throughput and their threads take the GIL
from the event loop).

``Range`` follows OSS's default: one satisfiable range gives 206; anything
else gives the whole object with 200, unless the client sends
``x-oss-range-behavior: standard``, which makes an unsatisfiable range 416.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..domain.emulator import Emulator
from ..results.images import Rendered
from ..results.names import BUCKETS
from ..results.video import VideoUnavailable
from ..support.timefmt import http_date, oss_time
from . import oss


def _emulator(request: Request) -> Emulator:
    return request.app.state.emulator


async def get_object(request: Request) -> Response:
    emulator = _emulator(request)
    head = request.method == "HEAD"
    key = request.path_params["key"]
    bucket = _bucket(request)
    query = request.query_params
    expires, access_key_id, signature = query.get("Expires"), query.get("OSSAccessKeyId"), query.get("Signature")
    refused = emulator.signer.verify(bucket, key, expires, access_key_id, signature)
    if refused == "AccessDenied":
        return oss.error_response(oss.ANONYMOUS, bucket, head=head)
    if refused is not None:
        string_to_sign = f"{request.method}\n\n\n{expires}\n/{bucket}/{key}"
        extra = [
            ("OSSAccessKeyId", access_key_id or ""),
            ("SignatureProvided", signature or ""),
            ("StringToSign", string_to_sign),
            ("StringToSignBytes", " ".join(f"{byte:02X}" for byte in string_to_sign.encode()) + " "),
        ]
        return oss.error_response(oss.SIGNATURE, bucket, extra, head=head)
    now = emulator.clock.now()
    assert expires is not None
    if now > int(expires):
        extra = [("Expires", oss_time(int(expires))), ("ServerTime", oss_time(int(now)))]
        return oss.error_response(oss.EXPIRED, bucket, extra, head=head)
    found = emulator.images.find(bucket, key, now)
    if found is None:
        return oss.error_response(oss.NO_SUCH_KEY, bucket, [("Key", key)], head=head)
    images = emulator.images
    rendered = images.cached(found.spec)
    if rendered is None:
        limit = emulator.settings.max_renders_in_flight
        if limit and images.rendering >= limit:  # renders are the dearest answer: past the bound, refuse at once
            return oss.error_response(oss.ACTIVE_REQUESTS, bucket, head=head)
        images.rendering += 1
        try:
            rendered = await run_in_threadpool(images.render, found.spec)
        except VideoUnavailable as missing:  # the optional video extra is not installed: say what to install
            return Response(str(missing), 501, media_type="text/plain")
        finally:
            images.rendering -= 1
    return _object_response(request, bucket, rendered, found.last_modified, head)


def _bucket(request: Request) -> str:
    """The bucket a request names: the first segment of its path."""
    return request.url.path.lstrip("/").partition("/")[0]


def object_headers(rendered: Rendered, last_modified: float) -> dict[str, str]:
    """An object's headers, in OSS's order, up to those of the body sent (MD5, range, length)."""
    return {
        **oss.oss_headers(oss.request_id()),
        "accept-ranges": "bytes",
        "etag": rendered.etag,
        "last-modified": http_date(int(last_modified)),
        "x-oss-object-type": "Normal",
        "x-oss-storage-class": "Standard",
    }


def _object_response(request: Request, bucket: str, rendered: Rendered, last_modified: float, head: bool) -> Response:
    headers = object_headers(rendered, last_modified)
    if _not_modified(request, rendered.etag, int(last_modified)):
        return Response(status_code=304, headers=headers)
    total = len(rendered.body)
    body, status = rendered.body, 200
    wanted = request.headers.get("range")
    if wanted is not None:
        span = _byte_range(wanted, total)
        if span is not None:
            start, end = span
            body, status = body[start : end + 1], 206
            headers["content-range"] = f"bytes {start}-{end}/{total}"
        elif request.headers.get("x-oss-range-behavior", "").lower() == "standard":
            return oss.error_response(oss.INVALID_RANGE, bucket, head=head)
    if status == 200:
        headers["content-md5"] = rendered.content_md5
    headers["content-length"] = str(len(body))
    return Response(b"" if head else body, status, headers=headers, media_type=rendered.media_type)


def _not_modified(request: Request, etag: str, modified: int) -> bool:
    """If-None-Match wins over If-Modified-Since, as HTTP says."""
    match = request.headers.get("if-none-match")
    if match is not None:
        return any(tag.strip() in (etag, "*", f"W/{etag}") for tag in match.split(","))
    since = request.headers.get("if-modified-since")
    if since is None:
        return False
    try:
        return modified <= int(parsedate_to_datetime(since).timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return False


def _byte_range(header: str, total: int) -> tuple[int, int] | None:
    """``(first, last)`` of one satisfiable ``bytes=`` range; None for anything else."""
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not (first.isdigit() or last.isdigit()):
        return None
    if not first:  # the last N bytes
        count = int(last)
        if count == 0 or total == 0:
            return None
        return max(0, total - count), total - 1
    start = int(first)
    if last and not last.isdigit():
        return None
    end = min(int(last), total - 1) if last else total - 1
    if start >= total or end < start:
        return None
    return start, end


routes: list[Route] = []
for _name in BUCKETS:
    _refuse, _others = oss.method_not_allowed(_name, ["GET", "HEAD"])
    routes += [
        Route(f"/{_name}/{{key:path}}", get_object, methods=["GET", "HEAD"]),
        Route(f"/{_name}/{{key:path}}", _refuse, methods=_others),
    ]
