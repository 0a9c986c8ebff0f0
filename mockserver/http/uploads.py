"""Temporary uploads over HTTP: DashScope's ``GET /api/v1/uploads?action=getPolicy`` and the
upload bucket's OSS PostObject (``POST /dashscope-file-mgr``, no API key, OSS XML errors)."""

from __future__ import annotations

from email.message import Message
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..domain.emulator import Emulator
from ..domain.errors import ApiError
from ..uploads.service import BUCKET, Refused
from . import oss
from .dashscope import base_url, read_body
from .responses import JSON, json_response

_FORM_SLACK = 64 * 1024  # room for the form fields around the file

_MALFORMED = "The body of your POST request is not well-formed multipart/form-data."


def _emulator(request: Request) -> Emulator:
    return request.app.state.emulator


async def get_policy(request: Request) -> Response:
    emulator = _emulator(request)
    if request.query_params.get("action") != "getPolicy" or not request.query_params.get("model"):
        raise ApiError("InvalidParameter")
    host = emulator.settings.public_url or base_url(request)
    data = emulator.uploads.policy(request.state.account.id, host)
    # Captured (2024): data before request_id, plain application/json.
    return json_response({"data": data, "request_id": request.state.request_id}, media_type=JSON)


async def post_object(request: Request) -> Response:
    emulator = _emulator(request)
    content_type = request.headers.get("content-type", "")
    boundary = _param(content_type, "content-type", "boundary")
    if not content_type.lower().startswith("multipart/form-data") or not boundary:
        return oss.error_response(
            oss.INVALID_ARGUMENT, BUCKET, reason="Bucket POST must be of the enclosure-type multipart/form-data."
        )
    try:
        body = await read_body(request, emulator.uploads.hold_bytes + _FORM_SLACK)
    except ApiError as error:
        if error.code != "BadRequest.TooLarge":
            raise
        return oss.error_response(oss.ENTITY_TOO_LARGE, BUCKET)
    form = _parse_form(body, boundary)
    if form is None:
        return oss.error_response(oss.INVALID_ARGUMENT, BUCKET, reason=_MALFORMED)
    fields, data = form
    refused = emulator.uploads.accept(fields, data)
    if refused is not None:
        return _refusal(refused)
    rid = oss.request_id()
    status = fields.get("success_action_status", "")
    headers = {**oss.oss_headers(rid)}
    if status == "200":
        return Response(b"", 200, headers=headers)
    if status == "201":
        key = fields["key"]
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse>\n'
            f"  <Bucket>{BUCKET}</Bucket>\n  <Key>{escape(key)}</Key>\n</PostResponse>\n"
        ).encode()
        return Response(body, 201, headers=headers, media_type="application/xml")
    return Response(status_code=204, headers=headers)


# Why an upload was refused -> OSS's error, and the keyword (if any) that carries the refusal's detail.
_REFUSALS = {
    "signature": (oss.SIGNATURE, None),
    "anonymous": (oss.ANONYMOUS_POST, None),
    "expired": (oss.POLICY_EXPIRED, None),
    "condition": (oss.POLICY_CONDITION, "condition"),
    "too_large": (oss.ENTITY_TOO_LARGE, None),
    "too_small": (oss.ENTITY_TOO_SMALL, None),
    "exists": (oss.ALREADY_EXISTS, None),
    "invalid": (oss.POLICY_INVALID, "reason"),
}


def _refusal(refused: Refused) -> Response:
    known = _REFUSALS.get(refused.kind)
    if known is None:  # a missing form field
        return oss.error_response(oss.INVALID_ARGUMENT, BUCKET, reason=f"{_MALFORMED} Missing field: {refused.detail}.")
    error, detail = known
    return oss.error_response(error, BUCKET, **({detail: refused.detail} if detail else {}))


def _param(value: str, header: str, name: str) -> str | None:
    message = Message()
    message[header] = value
    found = message.get_param(name, header=header)
    return found if isinstance(found, str) else None


def _parse_form(body: bytes, boundary: str) -> tuple[dict[str, str], bytes | None] | None:
    """``(fields with lower-case names, file bytes)``; None when the body is not multipart.

    As OSS does, the ``file`` part ends the form: fields after it are ignored.
    """
    delimiter = b"--" + boundary.encode("latin-1")
    parts = body.split(delimiter)
    if len(parts) < 2:
        return None
    fields: dict[str, str] = {}
    for part in parts[1:]:
        if part.startswith(b"--"):
            break
        if not part.startswith(b"\r\n") or not part.endswith(b"\r\n"):
            return None
        head, separator, content = part[2:-2].partition(b"\r\n\r\n")
        if not separator:
            return None
        disposition = next(
            (line.split(b":", 1)[1].strip().decode("latin-1") for line in head.split(b"\r\n")
             if line.lower().startswith(b"content-disposition:")),
            None,
        )
        name = _param(disposition, "content-disposition", "name") if disposition else None
        if not name:
            return None
        if name == "file":
            return fields, content
        fields[name.lower()] = content.decode("utf-8", "replace")
    return fields, None


_refuse, _others = oss.method_not_allowed(BUCKET, ["POST"])
routes: list[Route] = [
    Route("/api/v1/uploads", get_policy, methods=["GET"]),
    Route("/api/v1/uploads/", get_policy, methods=["GET"]),
    *(Route(path, post_object, methods=["POST"]) for path in (f"/{BUCKET}", f"/{BUCKET}/")),
    *(Route(path, _refuse, methods=_others) for path in (f"/{BUCKET}", f"/{BUCKET}/")),
]
