"""OSS's answers, rendered in one place: XML error bodies with the ``x-oss-ec`` header, request ids.

The emulator stands in for two OSS buckets (results and temporary uploads);
their clients see OSS, not DashScope: XML errors, ``Server: AliyunOSS``,
24-hex-digit request ids, none of DashScope's gateway headers.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import Response


REGION_HOST = "oss-cn-beijing.aliyuncs.com"
REGION_HOSTS = {"dashscope-result-sh": "oss-cn-shanghai.aliyuncs.com"}  # other buckets are Beijing's


@dataclass(frozen=True)
class OssError:
    status: int
    code: str
    message: str
    ec: str  # OSS's error-center code: header x-oss-ec and <EC>


# Sources: "Request has expired." and its EC are the spec's section 7 (captured);
# SignatureDoesNotMatch and its EC are OSS's documentation (0002-00000040);
# the rest follow OSS's documented codes and messages; their EC values are decisions.
EXPIRED = OssError(403, "AccessDenied", "Request has expired.", "0002-00000069")
SIGNATURE = OssError(
    403,
    "SignatureDoesNotMatch",
    "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    "0002-00000040",
)
ANONYMOUS = OssError(403, "AccessDenied", "You have no right to access this object because of bucket acl.", "0003-00000001")
ANONYMOUS_POST = OssError(403, "AccessDenied", "Anonymous access is forbidden for this operation.", "0003-00000001")
NO_SUCH_KEY = OssError(404, "NoSuchKey", "The specified key does not exist.", "0026-00000001")
INVALID_RANGE = OssError(416, "InvalidRange", "The requested range cannot be satisfied", "0003-00000000")
POLICY_EXPIRED = OssError(403, "AccessDenied", "Invalid according to Policy: Policy expired.", "0002-00000201")
POLICY_CONDITION = OssError(403, "AccessDenied", "Invalid according to Policy: Policy Condition failed: {condition}", "0002-00000202")
POLICY_INVALID = OssError(400, "InvalidPolicyDocument", "Invalid Policy: {reason}", "0002-00000203")
ENTITY_TOO_LARGE = OssError(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.", "0048-00000003")
ENTITY_TOO_SMALL = OssError(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size.", "0048-00000004")
INVALID_ARGUMENT = OssError(400, "InvalidArgument", "{reason}", "0016-00000001")
ALREADY_EXISTS = OssError(
    409, "FileAlreadyExists", "The object you specified already exists and can not be overwritten.", "0026-00000011"
)
# Too many requests in flight (the overload guard, mockserver.http.overload): OSS's documented 503 code and
# message for concurrent requests over the limit; its EC is a decision.
ACTIVE_REQUESTS = OssError(503, "ActiveRequestLimitExceeded", "Max active request limit is exceeded.", "0002-00000503")
METHOD_NOT_ALLOWED = OssError(405, "MethodNotAllowed", "The specified method is not allowed against this resource.", "0003-00000002")


def request_id() -> str:
    """``67A0301DFD9B3D32381FFE63``: OSS's 24 upper-case hex digits."""
    return secrets.token_hex(12).upper()


def oss_headers(rid: str) -> dict[str, str]:
    return {"server": "AliyunOSS", "x-oss-request-id": rid}


OTHER_METHODS = ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]


def method_not_allowed(bucket: str, allowed: list[str]):
    """An endpoint that answers any method the bucket does not serve with OSS's XML 405."""

    async def endpoint(request: Request) -> Response:
        return error_response(METHOD_NOT_ALLOWED, bucket)

    return endpoint, [method for method in OTHER_METHODS + ["GET", "HEAD"] if method not in allowed]


def error_parts(
    error: OssError, bucket: str, extra: list[tuple[str, str]] | None = None, **fields: str
) -> tuple[int, dict[str, str], bytes]:
    """``(status, headers, body)`` of the XML error; ``extra`` elements go between ``<HostId>`` and ``<EC>``, in OSS's order."""
    rid = request_id()
    message = error.message.format(**fields) if fields else error.message
    elements = [("Code", error.code), ("Message", message), ("RequestId", rid), ("HostId", f"{bucket}.{REGION_HOSTS.get(bucket, REGION_HOST)}")]
    elements += extra or []
    elements += [("EC", error.ec), ("RecommendDoc", f"https://api.aliyun.com/troubleshoot?q={error.ec}")]
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<Error>"]
    lines += [f"  <{name}>{escape(value)}</{name}>" for name, value in elements]
    lines.append("</Error>")
    body = ("\n".join(lines) + "\n").encode()
    return error.status, {**oss_headers(rid), "x-oss-ec": error.ec, "content-length": str(len(body))}, body


def error_response(
    error: OssError, bucket: str, extra: list[tuple[str, str]] | None = None, *, head: bool = False, **fields: str
) -> Response:
    """The XML error as a response (headers only for a ``HEAD``)."""
    status, headers, body = error_parts(error, bucket, extra, **fields)
    return Response(b"" if head else body, status, headers=headers, media_type="application/xml")
