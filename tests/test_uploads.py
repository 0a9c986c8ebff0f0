"""Temporary uploads: getPolicy, the OSS PostObject it allows, and ``oss://`` inputs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
import subprocess

import httpx
import pytest
from PIL import Image

from image_host import png
from mockserver.support.timefmt import oss_time
from sdk_envs import LEGACY, legacy_python

SECRET = "test-secret"
HOUR = 3600
POLICY_KEYS = [
    "policy", "signature", "upload_dir", "upload_host", "expire_in_seconds", "max_file_size_mb",
    "capacity_limit_mb", "oss_access_key_id", "x_oss_object_acl", "x_oss_forbid_overwrite",
]  # fmt: skip


@pytest.fixture
def server(make_server):
    return make_server(url_secret=SECRET)


def get_policy(server, key: str = "sk-test", model: str = "wanx-sketch-to-image-lite") -> httpx.Response:
    return server.client.get(
        "/api/v1/uploads", params={"action": "getPolicy", "model": model}, headers={"Authorization": f"Bearer {key}"}
    )


def upload(server, data: bytes, name: str = "sketch.png", api_key: str = "sk-test", grant: dict | None = None, **fields) -> tuple[httpx.Response, str]:
    """A PostObject as the SDK sends it (its field order); ``fields`` override or (None) drop fields."""
    policy = grant or get_policy(server, api_key).json()["data"]
    form = {
        "OSSAccessKeyId": policy["oss_access_key_id"],
        "Signature": policy["signature"],
        "policy": policy["policy"],
        "key": f"{policy['upload_dir']}/{name}",
        "x-oss-object-acl": policy["x_oss_object_acl"],
        "x-oss-forbid-overwrite": policy["x_oss_forbid_overwrite"],
        "success_action_status": "200",
        "x-oss-content-type": "image/png",
    }
    form.update(fields)
    form = {name: value for name, value in form.items() if value is not None}
    response = httpx.post(policy["upload_host"], data=form, files={"file": (name, data, "image/png")})
    return response, form.get("key", "")


def test_get_policy_answers_a_real_signed_oss_policy(server):
    response = get_policy(server)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"  # captured 2024
    body = response.json()
    assert list(body) == ["data", "request_id"]
    data = body["data"]
    assert list(data) == POLICY_KEYS
    assert data["expire_in_seconds"] == 300
    assert data["max_file_size_mb"] == 1024
    assert (data["x_oss_object_acl"], data["x_oss_forbid_overwrite"]) == ("private", "true")
    assert data["upload_host"] == f"{server.url}/dashscope-file-mgr"
    assert data["upload_dir"].startswith("dashscope-instant/")
    expected = base64.b64encode(hmac.new(SECRET.encode(), data["policy"].encode(), hashlib.sha1).digest()).decode()
    assert data["signature"] == expected
    document = json.loads(base64.b64decode(data["policy"]))
    now = server.client.get("/__mock/clock").json()["now"]
    assert document["expiration"] == oss_time(now + 300)
    assert ["content-length-range", 0, 1073741824] in document["conditions"]
    assert ["starts-with", "$key", data["upload_dir"]] in document["conditions"]
    assert {"bucket": "dashscope-file-mgr"} in document["conditions"]
    assert get_policy(server).json()["data"]["upload_dir"] != data["upload_dir"]  # a fresh folder each time


def test_get_policy_needs_a_key_and_its_parameters(server):
    assert server.client.get("/api/v1/uploads", params={"action": "getPolicy", "model": "m"}).status_code == 401
    wrong = server.client.get("/api/v1/uploads", params={"action": "other", "model": "m"}, headers={"Authorization": "Bearer k"})
    assert wrong.status_code == 400 and wrong.json()["code"] == "InvalidParameter"
    no_model = server.client.get("/api/v1/uploads", params={"action": "getPolicy"}, headers={"Authorization": "Bearer k"})
    assert no_model.status_code == 400


def test_an_upload_within_its_policy_answers_as_asked(server):
    response, _ = upload(server, png())
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["server"] == "AliyunOSS"
    assert upload(server, png(), success_action_status=None)[0].status_code == 204
    created, key = upload(server, png(), success_action_status="201")
    assert created.status_code == 201
    assert f"<Key>{key}</Key>" in created.text


def _oss_error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/xml"
    assert f"<Code>{code}</Code>" in response.text
    assert response.headers["x-oss-ec"]
    return response.text


def test_uploads_outside_their_policy_are_refused_as_oss_does(make_server):
    server = make_server(url_secret=SECRET, upload_max_file_mb=1)
    _oss_error(upload(server, png(), Signature="AAAA")[0], 403, "SignatureDoesNotMatch")
    _oss_error(upload(server, png(), OSSAccessKeyId="LTAI5tSomebodyElse")[0], 403, "SignatureDoesNotMatch")
    _oss_error(upload(server, png(), Signature=None)[0], 403, "AccessDenied")
    text = _oss_error(upload(server, png(), key="elsewhere/sketch.png")[0], 403, "AccessDenied")
    assert "Policy Condition failed" in text and "$key" in text
    _oss_error(upload(server, b"x" * (1024 * 1024 + 1))[0], 400, "EntityTooLarge")
    assert upload(server, b"x" * (1024 * 1024))[0].status_code == 200  # the bound itself is allowed
    policy = get_policy(server).json()["data"]
    assert upload(server, png(), grant=policy)[0].status_code == 200
    _oss_error(upload(server, png(), grant=policy)[0], 409, "FileAlreadyExists")
    stale = get_policy(server).json()["data"]
    server.advance(301)
    text = _oss_error(upload(server, png(), grant=stale)[0], 403, "AccessDenied")
    assert "Policy expired" in text
    forged = base64.b64encode(b'{"expiration":"2099-01-01T00:00:00.000Z","conditions":[]}').decode()
    _oss_error(upload(server, png(), grant=stale, policy=forged)[0], 403, "SignatureDoesNotMatch")
    host = f"{server.url}/dashscope-file-mgr"
    _oss_error(httpx.post(host, content=b"plain"), 400, "InvalidArgument")
    broken = httpx.post(host, content=b"--b\r\nnonsense", headers={"content-type": "multipart/form-data; boundary=b"})
    _oss_error(broken, 400, "InvalidArgument")
    assert server.client.get("/__mock/health").status_code == 200


def _sketch_task(server, url: str, headers: dict[str, str] | None = None, key: str = "sk-test") -> dict:
    response = server.client.post(
        "/api/v1/services/aigc/image2image/image-synthesis",
        json={"model": "wanx-sketch-to-image-lite", "input": {"prompt": "a house", "sketch_image_url": url}, "parameters": {"n": 1}},
        headers={"Authorization": f"Bearer {key}", "X-DashScope-Async": "enable", **(headers or {})},
    )
    assert response.status_code == 200, response.text
    task_id = response.json()["output"]["task_id"]
    server.advance(HOUR)
    return server.query(task_id, key=key).json()["output"]


RESOLVE = {"X-DashScope-OssResourceResolve": "enable"}
INVALID_URL = (
    "The request URL is invalid, please check the request URL is available and the request image format "
    "is one of the following types: JPEG, JPG, PNG, BMP, and WEBP."
)


def test_oss_inputs_resolve_only_with_the_header_for_their_account_while_they_live(server):
    response, key = upload(server, png())
    assert response.status_code == 200
    url = f"oss://{key}"
    assert _sketch_task(server, url, RESOLVE)["task_status"] == "SUCCEEDED"
    failed = _sketch_task(server, url)
    assert (failed["task_status"], failed["code"], failed["message"]) == ("FAILED", "InvalidURL", INVALID_URL)
    assert _sketch_task(server, url + "-missing", RESOLVE)["code"] == "InvalidURL"
    assert _sketch_task(server, url, RESOLVE, key="sk-someone-else")["code"] == "InvalidURL"
    _, fresh = upload(server, png())
    server.advance(47 * HOUR - 1)  # submitted a second before 47 h; the task moves the clock an hour
    assert _sketch_task(server, f"oss://{fresh}", RESOLVE)["task_status"] == "SUCCEEDED"
    server.advance(2)
    assert _sketch_task(server, f"oss://{fresh}", RESOLVE)["code"] == "InvalidURL"  # a second past 48 h


def test_the_sdk_file_flow_works_end_to_end(make_server, monkeypatch, tmp_path):
    import dashscope
    from dashscope import ImageSynthesis

    server = make_server(speed=float("inf"))
    monkeypatch.setattr(dashscope, "base_http_api_url", server.api)
    sketch = tmp_path / "sketch.png"
    sketch.write_bytes(png(512, 512))
    answer = ImageSynthesis.call(
        model="wanx-sketch-to-image-lite", prompt="a house", sketch_image_url=f"file://{sketch}",
        task="image2image", n=2, api_key="sk-sdk",
    )  # fmt: skip
    assert answer.status_code == 200, answer
    assert answer.output.task_status == "SUCCEEDED", answer
    assert len(answer.output.results) == 2
    for result in answer.output.results:
        image = Image.open(io.BytesIO(httpx.get(result.url).content))
        assert image.size == (768, 768)


SCRIPT_120 = """
import io, sys, urllib.request
import dashscope
from dashscope import ImageSynthesis
dashscope.base_http_api_url = sys.argv[1]
answer = ImageSynthesis.call(model="wanx-sketch-to-image-lite", prompt="a house", sketch_image_url="file://" + sys.argv[2],
                             task="image2image", n=1, api_key="sk-sdk120")
assert answer.status_code == 200, answer
assert answer.output.task_status == "SUCCEEDED", answer
body = urllib.request.urlopen(answer.output.results[0].url).read()
print(dashscope.version.__version__, len(body), body[:8] == b"\\x89PNG\\r\\n\\x1a\\n")
"""


def test_the_1_20_sdk_file_flow_works_end_to_end(make_server, tmp_path):
    server = make_server(speed=float("inf"))
    sketch = tmp_path / "sketch.png"
    sketch.write_bytes(png(400, 400))
    env = {key: value for key, value in os.environ.items() if not key.startswith("DASHSCOPE")}
    done = subprocess.run(
        [str(legacy_python()), "-c", SCRIPT_120, server.api, str(sketch)], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    version, size, is_png = done.stdout.split()
    assert version == LEGACY and int(size) > 0 and is_png == "True"


def test_a_one_account_reset_drops_that_accounts_uploads_only(server):
    _, mine = upload(server, png(), api_key="sk-test")
    _, theirs = upload(server, png(), api_key="sk-other")
    reset = server.client.post("/__mock/reset", json={"key": "sk-test"})
    assert reset.status_code == 200
    assert _sketch_task(server, f"oss://{mine}", RESOLVE)["code"] == "InvalidURL"
    assert _sketch_task(server, f"oss://{theirs}", RESOLVE, key="sk-other")["task_status"] == "SUCCEEDED"


def test_the_emulator_holds_less_than_the_policy_allows_when_told(make_server):
    """The policy advertises 1024 MB (captured); ``upload_hold_max_mb`` bounds what one upload may put in memory."""
    server = make_server(url_secret=SECRET, upload_hold_max_mb=1)
    assert get_policy(server).json()["data"]["max_file_size_mb"] == 1024
    _oss_error(upload(server, b"x" * (1024 * 1024 + 1))[0], 400, "EntityTooLarge")
    assert upload(server, b"x" * (1024 * 1024))[0].status_code == 200
