"""Result object names: where each image of a task lives, and which task a name belongs to.

The real service names objects in three ways that captures show (2024-03):

- ``image`` (wanx-v1, and our default): each image is its own object,
  ``<aa>/<bb>/<yyyymmdd>/<owner>/<its own uuid>-1.png``, in ``dashscope-result-bj``
  or ``dashscope-result-sh`` (one task's images may come from both);
- ``timed`` (wanx-background-generation-v2): ``<owner>/<yyyymmdd>/<HHMMSS>_<i>_<uuid>.png``;
- ``repaint`` (wanx-style-repaint-v1): JPEGs in ``viapi-video`` at
  ``<yyyy-mm-dd>/<uuid>/<yyyyMMddHHmmssSSSSSS>_style<k>_<10 of [a-z0-9]>.jpg``.

A download must find its task without a scan, so the uuids in a name are the
task id run through a fixed, keyed permutation of UUID4's 122 random bits (a
four-round Feistel network, tweaked by the image for ``image`` names): they
look random, differ per image, and invert to the task id. Where the image's
number is not in the name itself, ``<bb>`` carries it (offset from a hash of
the uuid), so it is one inverse and one store lookup. The caller still checks
the whole name equals the one the task gives that image.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ..support.timefmt import CHINA, date_path

Scheme = Literal["image", "timed", "repaint"]
BEIJING, SHANGHAI, REPAINT_BUCKET = "dashscope-result-bj", "dashscope-result-sh", "viapi-video"
BUCKETS = (BEIJING, SHANGHAI, REPAINT_BUCKET)
EXTENSIONS = {"PNG": "png", "JPEG": "jpg"}  # an image format's file extension
_HALF = 61
_MASK = (1 << _HALF) - 1
_ROUNDS = 4
_IMAGE = re.compile(r"^[0-9a-f]{2}/(?P<bb>[0-9a-f]{2})/[0-9]{8}/[0-9a-f]{8}/(?P<uuid>[0-9a-f-]{36})-1\.(png|jpg|mp4)$")
_TIMED = re.compile(r"^[0-9a-f]{8}/[0-9]{8}/[0-9]{6}_(?P<i>[0-9]{1,3})_(?P<uuid>[0-9a-f-]{36})\.png$")
_REPAINT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}/(?P<uuid>[0-9a-f-]{36})/[0-9]{20}_style-?[0-9]{1,2}_[a-z0-9]{10}\.jpg$")
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class ObjectName:
    bucket: str
    key: str

    @property
    def path(self) -> str:
        return f"/{self.bucket}/{self.key}"


@dataclass(frozen=True)
class Named:
    """What a name says: its task, and its image's index when the name carries it (else None: try each)."""

    task_id: str
    index: int | None


def object_name(
    scheme: Scheme, task_id: str, account: str, ended_at: float, index: int, style: object = None, extension: str = "png"
) -> ObjectName:
    """The object of image ``index`` (URLs of text layers continue the numbering) of a task that ended at ``ended_at``.

    ``style`` is the repaint's style index; ``extension`` the ``image`` scheme's (the others have their own).
    """
    owner = hashlib.md5(account.encode()).hexdigest()[:8]
    if scheme == "timed":
        clock = datetime.fromtimestamp(ended_at, CHINA).strftime("%H%M%S")
        return ObjectName(BEIJING, f"{owner}/{date_path(ended_at)}/{clock}_{index}_{_permute(task_id, 'timed')}.png")
    if scheme == "repaint":
        moment = datetime.fromtimestamp(ended_at, CHINA)
        folder = _permute(task_id, "repaint")
        tail = _base36(hashlib.md5(f"{folder}/{index}".encode()).digest(), 10)
        stamp = moment.strftime("%Y%m%d%H%M%S") + f"{moment.microsecond:06d}"
        return ObjectName(REPAINT_BUCKET, f"{moment:%Y-%m-%d}/{folder}/{stamp}_style{style}_{tail}.jpg")
    image = _permute(task_id, f"image/{index}")
    digest = hashlib.md5(image.encode()).digest()
    bucket = SHANGHAI if digest[2] & 1 else BEIJING
    folder = f"{digest[0]:02x}/{(digest[1] + index) % 256:02x}/{date_path(ended_at)}/{owner}"
    return ObjectName(bucket, f"{folder}/{image}-1.{extension}")


def parse(bucket: str, key: str) -> Named | None:
    """The task (and image) a result object's name belongs to, if it is shaped like one; no lookup."""
    if bucket in (BEIJING, SHANGHAI):
        match = _TIMED.match(key)
        if match is not None:
            return _named(match["uuid"], "timed", int(match["i"]))
        match = _IMAGE.match(key)
        if match is None:
            return None
        digest = hashlib.md5(match["uuid"].encode()).digest()
        index = (int(match["bb"], 16) - digest[1]) % 256
        return _named(match["uuid"], f"image/{index}", index)
    if bucket == REPAINT_BUCKET:
        match = _REPAINT.match(key)
        return _named(match["uuid"], "repaint", None) if match is not None else None
    return None


def task_of(path: str) -> str | None:
    """The task id a download path (``/<bucket>/<key>``) names, if any: cheap enough for every download."""
    bucket, _, key = path.lstrip("/").partition("/")
    named = parse(bucket, key)
    return named.task_id if named is not None else None


def is_task_id(text: str) -> bool:
    """Whether ``text`` is a task id names can carry: a lower-case UUID4, as the service gives."""
    return _uuid4(text) is not None


def _uuid4(text: str) -> uuid.UUID | None:
    try:
        value = uuid.UUID(text)
    except ValueError:
        return None
    return value if str(value) == text and value.version == 4 else None


def _named(text: str, tweak: str, index: int | None) -> Named | None:
    value = _uuid4(text)
    return Named(str(_unpermute(value, tweak)), index) if value is not None else None


def _permute(task_id: str, tweak: str) -> str:
    """The uuid a task's object uses: a UUID4 again, unique to (task, tweak), inverted by :func:`_unpermute`."""
    left, right = _split(uuid.UUID(task_id))
    for number in range(_ROUNDS):
        left, right = right, left ^ _round(number, tweak, right)
    return str(_join(left, right))


def _unpermute(value: uuid.UUID, tweak: str) -> uuid.UUID:
    left, right = _split(value)
    for number in reversed(range(_ROUNDS)):
        left, right = right ^ _round(number, tweak, left), left
    return _join(left, right)


def _round(number: int, tweak: str, half: int) -> int:
    digest = hashlib.blake2b(f"{number}:{tweak}:{half}".encode(), digest_size=8, key=b"dashscope-mock objects").digest()
    return int.from_bytes(digest, "big") & _MASK


def _split(value: uuid.UUID) -> tuple[int, int]:
    """UUID4's 122 random bits (the version nibble and variant bits left out), as two 61-bit halves."""
    number = value.int
    bits = (number >> 80) << 74 | ((number >> 64) & 0xFFF) << 62 | number & ((1 << 62) - 1)
    return bits >> _HALF, bits & _MASK


def _join(left: int, right: int) -> uuid.UUID:
    bits = left << _HALF | right
    number = (bits >> 74) << 80 | 4 << 76 | ((bits >> 62) & 0xFFF) << 64 | 0b10 << 62 | bits & ((1 << 62) - 1)
    return uuid.UUID(int=number)


def _base36(digest: bytes, length: int) -> str:
    number = int.from_bytes(digest, "big")
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 36)
        chars.append(_BASE36[digit])
    return "".join(chars)
