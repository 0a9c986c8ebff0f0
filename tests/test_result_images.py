"""Result URLs serve real PNGs, as OSS would: signed, expiring, with validators, HEAD and Range."""

from __future__ import annotations

import hashlib
import io
import re
from email.utils import formatdate
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from PIL import Image

from mockserver.results.names import BEIJING, SHANGHAI, ObjectName
from mockserver.support.timefmt import oss_time as iso_time

DAY = 24 * 3600


def finished(server, model: str = "wanx-v1", **body) -> dict:
    """Submit, move the clock past the task's end, return the SUCCEEDED output."""
    response = server.submit(model=model, **body)
    assert response.status_code == 200, response.text
    task_id = response.json()["output"]["task_id"]
    server.advance(3600)
    output = server.query(task_id).json()["output"]
    assert output["task_status"] == "SUCCEEDED", output
    return output


def urls(output: dict) -> list[str]:
    return [result["url"] for result in output["results"]]


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def expires_of(url: str) -> int:
    return int(parse_qs(urlsplit(url).query)["Expires"][0])


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("model", "parameters", "input_", "size"),
    [
        ("wanx-v1", {"n": 4, "size": "720*1280", "style": "<anime>"}, {"prompt": "a cat"}, (720, 1280)),
        ("wanx-v1", {"n": 1}, {"prompt": "a cat"}, (1024, 1024)),  # the model's default size
        ("wanx2.1-t2i-turbo", {"n": 2, "size": "512*1440"}, {"prompt": "a dog"}, (512, 1440)),
        (
            "wanx-sketch-to-image-lite",
            {"n": 2},
            {"prompt": "a house", "sketch_image_url": "https://example.com/sketch.png"},
            (768, 768),
        ),
    ],
)
def test_every_result_url_downloads_a_png_of_the_requested_size(server, model, parameters, input_, size):
    output = finished(server, model, input=input_, parameters=parameters)
    assert len(output["results"]) == parameters["n"]
    for url in urls(output):
        response = httpx.get(url)
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/png"
        assert int(response.headers["content-length"]) == len(response.content)
        assert response.headers["etag"] == f'"{hashlib.md5(response.content).hexdigest().upper()}"'
        assert response.headers["server"] == "AliyunOSS"
        assert "req-cost-time" not in response.headers  # OSS, not DashScope's gateway
        image = decode(response.content)
        assert image.format == "PNG"
        assert image.size == size


@pytest.mark.e2e
@pytest.mark.parametrize(
    "prompt",
    ["一只坐在月亮上的猫，水彩画风格" * 30, "🐱🚀🌕" * 150, "a very long prompt " * 200, "\x00\u202e\ud7ff tab\tnew\nline"],
)
def test_prompts_in_any_script_render(server, prompt):
    output = finished(server, input={"prompt": prompt}, parameters={"n": 1, "size": "1280*720"})
    response = httpx.get(urls(output)[0])
    assert response.status_code == 200
    assert decode(response.content).size == (1280, 720)


@pytest.mark.e2e
def test_an_expired_url_answers_exactly_as_oss(server):
    url = urls(finished(server, parameters={"n": 1}))[0]
    expires = expires_of(url)
    now = server.client.get("/__mock/clock").json()["now"]
    assert expires - now > DAY - 3600 - 1  # 24 h after the end, which was at most an hour ago
    server.advance(expires - now - 0.5)
    assert httpx.get(url).status_code == 200
    server.advance(1)
    response = httpx.get(url)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/xml"
    assert response.headers["x-oss-ec"] == "0002-00000069"
    request_id = response.headers["x-oss-request-id"]
    assert re.fullmatch(r"[0-9A-F]{24}", request_id)
    now = int(server.client.get("/__mock/clock").json()["now"])
    server_time = iso_time(now)
    bucket = urlsplit(url).path.split("/")[1]
    host = {"dashscope-result-bj": "dashscope-result-bj.oss-cn-beijing.aliyuncs.com",
            "dashscope-result-sh": "dashscope-result-sh.oss-cn-shanghai.aliyuncs.com"}[bucket]
    assert response.headers["date"] == formatdate(now, usegmt=True)  # the emulator's clock, as ServerTime
    assert response.text == (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<Error>\n"
        "  <Code>AccessDenied</Code>\n"
        "  <Message>Request has expired.</Message>\n"
        f"  <RequestId>{request_id}</RequestId>\n"
        f"  <HostId>{host}</HostId>\n"
        f"  <Expires>{iso_time(expires)}</Expires>\n"
        f"  <ServerTime>{server_time}</ServerTime>\n"
        "  <EC>0002-00000069</EC>\n"
        "  <RecommendDoc>https://api.aliyun.com/troubleshoot?q=0002-00000069</RecommendDoc>\n"
        "</Error>\n"
    )


@pytest.mark.e2e
def test_after_a_day_the_url_is_expired_and_head_says_so_without_a_body(server):
    url = urls(finished(server, parameters={"n": 1}))[0]
    server.advance(DAY + 1)
    response = httpx.head(url)
    assert response.status_code == 403
    assert response.headers["x-oss-ec"] == "0002-00000069"
    assert response.content == b""


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    query.update(changes)
    query = {key: value for key, value in query.items() if value is not None}
    return httpx.URL(f"{parts.scheme}://{parts.netloc}{parts.path}", params=query).__str__()


@pytest.mark.e2e
def test_tampered_and_missing_signatures_are_refused(server):
    url = urls(finished(server, parameters={"n": 1}))[0]
    expires = expires_of(url)
    for changed in (
        _with_query(url, Signature="AAAA" + parse_qs(urlsplit(url).query)["Signature"][0][4:]),
        _with_query(url, Expires=str(expires + 3600)),  # stretching the expiry breaks the signature
        _with_query(url, OSSAccessKeyId="LTAI5tSomebodyElse"),
        _with_query(url, Expires="１２３"),  # non-ASCII digits
        url.replace("-1.png", "-2.png"),
    ):
        response = httpx.get(changed)
        assert response.status_code == 403, changed
        assert "<Code>SignatureDoesNotMatch</Code>" in response.text
        assert response.headers["x-oss-ec"] == "0002-00000040"
    for missing in ("Signature", "Expires", "OSSAccessKeyId"):
        response = httpx.get(_with_query(url, **{missing: None}))
        assert response.status_code == 403
        assert "<Code>AccessDenied</Code>" in response.text
        assert "bucket acl" in response.text


def _signed(server, name: ObjectName) -> str:
    return server.emulator.signer.url(server.url, name, 4_000_000_000)


@pytest.mark.e2e
def test_objects_that_do_not_exist_are_404_no_such_key(server):
    output = finished(server, parameters={"n": 2})
    bucket, _, key = urlsplit(urls(output)[0]).path.lstrip("/").partition("/")
    aa, bb, rest = key.split("/", 2)
    failed = server.submit(parameters={"n": 1, "size": "1*1"}).json()["output"]["task_id"]
    server.advance(3600)
    assert server.query(failed).json()["output"]["task_status"] == "FAILED"
    images, emulator = server.emulator.images, server.emulator
    task = emulator.store.get_task(failed)
    other = BEIJING if bucket == SHANGHAI else SHANGHAI
    missing = [
        ObjectName(bucket, f"{aa}/{int(bb, 16) + 2 & 255:02x}/{rest}"),  # the image number past n
        ObjectName(bucket, f"{aa}/{bb}/{rest}".replace(rest.rpartition("/")[2], "00000000-0000-4000-8000-000000000000-1.png")),
        ObjectName(bucket, "1d/d4/20240301/8d820c8d/not-a-task.png"),
        ObjectName(bucket, f"{aa}/{bb}/20000101/{rest.split('/', 1)[1]}"),  # the right uuid in the wrong folder
        ObjectName(other, key),  # the right key in the other bucket
        images.name(task, 0),  # a task that failed
    ]
    still_running = server.submit(parameters={"n": 1}).json()["output"]["task_id"]
    missing.append(images.name(emulator.store.get_task(still_running), 0))
    for name in missing:
        response = httpx.get(_signed(server, name))
        assert response.status_code == 404, name
        assert "<Code>NoSuchKey</Code>" in response.text
        assert f"<Key>{name.key}</Key>" in response.text


@pytest.mark.e2e
def test_same_seed_same_bytes_other_seed_or_index_other_bytes(make_server):
    server = make_server(image_cache_mb=0)  # nothing cached: every download renders again
    same = {"input": {"prompt": "a red fox"}, "parameters": {"n": 2, "seed": 42, "size": "1280*720"}}
    first, second = urls(finished(server, **same)), urls(finished(server, **same))
    other = urls(finished(server, input={"prompt": "a red fox"}, parameters={"n": 2, "seed": 43, "size": "1280*720"}))
    body = [httpx.get(url).content for url in first]
    assert httpx.get(first[0]).content == body[0]  # re-rendered, byte for byte
    assert httpx.get(second[0]).content == body[0]  # another task, the same seed
    assert httpx.get(second[1]).content == body[1]
    assert body[0] != body[1]  # another index
    assert httpx.get(other[0]).content != body[0]  # another seed
    unseeded = [urls(finished(server, parameters={"n": 1}))[0] for _ in range(2)]
    assert httpx.get(unseeded[0]).content != httpx.get(unseeded[1]).content  # drawn per task


@pytest.mark.e2e
def test_head_range_and_conditional_requests(server):
    url = urls(finished(server, parameters={"n": 1, "size": "768*1152"}))[0]
    full = httpx.get(url)
    total = len(full.content)
    head = httpx.head(url)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(total)
    assert head.headers["etag"] == full.headers["etag"]
    assert head.headers["last-modified"] == full.headers["last-modified"]

    part = httpx.get(url, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206
    assert part.content == full.content[:100]
    assert part.headers["content-range"] == f"bytes 0-99/{total}"
    tail = httpx.get(url, headers={"Range": "bytes=-10"})
    assert (tail.status_code, tail.content) == (206, full.content[-10:])
    rest = httpx.get(url, headers={"Range": f"bytes={total - 5}-"})
    assert (rest.status_code, rest.content) == (206, full.content[-5:])
    beyond = httpx.get(url, headers={"Range": f"bytes={total}-{total + 10}"})
    assert (beyond.status_code, beyond.content) == (200, full.content)  # OSS ignores a bad range
    several = httpx.get(url, headers={"Range": "bytes=0-1,5-6"})
    assert (several.status_code, several.content) == (200, full.content)
    strict = httpx.get(url, headers={"Range": f"bytes={total}-", "x-oss-range-behavior": "standard"})
    assert strict.status_code == 416
    assert "<Code>InvalidRange</Code>" in strict.text

    etag = full.headers["etag"]
    assert httpx.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert httpx.get(url, headers={"If-None-Match": '"0000"'}).status_code == 200
    modified = full.headers["last-modified"]
    assert httpx.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    assert httpx.get(url, headers={"If-Modified-Since": "garbage"}).status_code == 200


@pytest.mark.e2e
def test_result_urls_use_the_public_url(make_server):
    server = make_server(public_url="http://images.example:9000/")
    url = urls(finished(server, parameters={"n": 1}))[0]
    assert url.startswith(("http://images.example:9000/dashscope-result-bj/", "http://images.example:9000/dashscope-result-sh/"))
    local = url.replace("http://images.example:9000", server.url)
    assert httpx.get(local).status_code == 200


@pytest.mark.e2e
def test_the_official_sdk_gets_downloadable_results(make_server, monkeypatch):
    import dashscope
    from dashscope import ImageSynthesis

    server = make_server(speed=float("inf"))  # tasks end as they start: call() needs no clock moves
    monkeypatch.setattr(dashscope, "base_http_api_url", server.api)
    answer = ImageSynthesis.call(model="wanx-v1", prompt="a cat", n=2, size="1280*720", api_key="sk-sdk")
    assert answer.status_code == 200, answer
    assert answer.output.task_status == "SUCCEEDED"
    assert len(answer.output.results) == 2
    for result in answer.output.results:
        assert decode(httpx.get(result.url).content).size == (1280, 720)

    slow = make_server()
    monkeypatch.setattr(dashscope, "base_http_api_url", slow.api)
    submitted = ImageSynthesis.async_call(model="wanx2.1-t2i-turbo", prompt="一只猫", n=1, size="1440*512", api_key="sk-sdk")
    assert submitted.status_code == 200
    slow.advance(3600)
    fetched = ImageSynthesis.fetch(submitted, api_key="sk-sdk")
    assert fetched.output.task_status == "SUCCEEDED"
    url = fetched.output.results[0].url
    assert decode(httpx.get(url).content).size == (1440, 512)
    slow.advance(DAY + 1)
    expired = httpx.get(url)
    assert expired.status_code == 403
    assert "<Message>Request has expired.</Message>" in expired.text


@pytest.mark.e2e
def test_other_methods_on_the_buckets_are_oss_405s(server):
    for method, path in (("POST", "/dashscope-result-bj/a.png"), ("DELETE", "/dashscope-result-bj/a.png"), ("GET", "/dashscope-file-mgr")):
        response = server.client.request(method, path)
        assert response.status_code == 405
        assert "<Code>MethodNotAllowed</Code>" in response.text


@pytest.mark.e2e
def test_a_url_outlives_its_task_when_urls_last_longer_than_retention(make_server):
    server = make_server(speed=float("inf"), retention_hours=1, result_url_hours=48,
                         accounts=[{"id": "a", "keys": ["sk-test"], "limits": {"*": {"submit_per_second": 10_000}}}])
    task_id = server.submit(parameters={"n": 1}).json()["output"]["task_id"]
    server.advance(1)
    url = urls(server.query(task_id).json()["output"])[0]
    server.advance(2 * 3600)
    for _ in range(512):  # enough submits for the store's periodic sweep to run
        assert server.submit(parameters={"n": 1}).status_code == 200
    assert server.query(task_id).json()["output"]["task_status"] == "UNKNOWN"
    assert httpx.get(url).status_code == 200  # the task reads UNKNOWN, but its URL lasts 48 h
    server.advance(47 * 3600)
    assert httpx.get(url).status_code == 403


@pytest.mark.e2e
def test_every_url_of_an_image_downloads_when_an_image_has_several(server):
    """wordart-semantic gives png_url and svg_url per image, the poster render_urls and bg_urls, background
    generation with a title its text layers' urls: all are served."""
    semantic = finished(server, "wordart-semantic", input={"text": "山水", "prompt": "mountains"}, parameters={"n": 2})
    links = [result[key] for result in semantic["results"] for key in ("png_url", "svg_url")]
    poster = finished(server, "wanx-poster-generation-v1",
                      input={"title": "Hello", "prompt_text_zh": "灯笼", "generate_num": 2}, parameters={})
    assert len(poster["render_urls"]) == len(poster["bg_urls"]) == len(poster["auxiliary_parameters"]) == 2
    links += poster["render_urls"] + poster["bg_urls"]
    entry = server.emulator.catalog.model("wanx-background-generation-v2")
    titled = finished(server, entry.name, input={**entry.example["input"], "title": "Sale"}, parameters={"n": 2})
    links += [result["url"] for result in titled["results"]] + [link["url"] for link in titled["text_results"]["urls"]]
    assert len(set(links)) == 12
    for link in links:
        response = httpx.get(link)
        assert response.status_code == 200, link
        assert decode(response.content).format == "PNG"
