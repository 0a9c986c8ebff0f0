"""Input images: the worker downloads and checks them; each bad input ends its task with the faithful error.

A real HTTP server on loopback serves the inputs (``image_host.py``); the
emulator runs with its default ``fetch_inputs: loopback``. Each case submits a
sketch-to-image task, moves the clock, and reads the FAILED task's code and
message; the emulator must stay healthy after every one.
"""

from __future__ import annotations

import io
import ipaddress
import socket

import pytest
from PIL import Image

from image_host import ImageHost, png
from mockserver.inputs.policy import decide
from sdk_envs import CURRENT, SdkDriver

pytestmark = pytest.mark.e2e
MODEL = "wanx-sketch-to-image-lite"
INVALID_URL = (
    "The request URL is invalid, please check the request URL is available and the request image format "
    "is one of the following types: JPEG, JPG, PNG, BMP, and WEBP."
)
RESOLUTION = (
    "The image resolution is invalid, please make sure that the aspect ratio is smaller than 2.0, "
    "and largest length of image is smaller than 4096."
)
SIZE = "Invalid file size. The image file size must be less than 10MB."


@pytest.fixture(scope="module")
def host():
    served = ImageHost()
    yield served
    served.close()


@pytest.fixture(scope="module")
def emulator():
    from serving import start_server

    server = start_server(fetch_timeout_seconds=0.5)
    yield server
    server.stop()


def sketch_task(server, url: str, style: str = "<watercolor>", seed: int | None = None) -> dict:
    parameters = {"n": 1, "style": style, **({"seed": seed} if seed is not None else {})}
    response = server.submit(model=MODEL, input={"prompt": "a house", "sketch_image_url": url}, parameters=parameters)
    assert response.status_code == 200, response.text
    assert response.json()["output"]["task_status"] == "PENDING"
    server.advance(60)
    return server.query(response.json()["output"]["task_id"]).json()["output"]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again on leaving: nothing listens there


CASES = [
    ("/missing.png", "InvalidURL", INVALID_URL),
    ("/page.html", "InvalidURL", INVALID_URL),
    ("/truncated.png", "InvalidURL", INVALID_URL),
    ("/anim.gif", "InvalidURL", INVALID_URL),
    ("/loop", "InvalidURL", INVALID_URL),
    ("/bomb.png", "InvalidFile.Resolution", RESOLUTION),
    ("/small.png", "InvalidFile.Resolution", RESOLUTION),
    ("/large.png", "InvalidFile.Resolution", RESOLUTION),
    ("/wide.png", "InvalidFile.Resolution", RESOLUTION),
    ("/huge.png", "InvalidFile.Size", SIZE),
    ("/huge-chunked.png", "InvalidFile.Size", SIZE),
]


@pytest.mark.parametrize(("path", "code", "message"), CASES, ids=[case[0] for case in CASES])
def test_a_bad_input_fails_the_task_faithfully(emulator, host, path, code, message):
    output = sketch_task(emulator, host.url(path))
    assert (output["task_status"], output["code"], output["message"]) == ("FAILED", code, message)
    assert emulator.client.get("/__mock/health").status_code == 200


def test_an_unreachable_host_is_connection_refused(emulator):
    url = f"http://127.0.0.1:{closed_port()}/sketch.png"
    output = sketch_task(emulator, url)
    assert (output["task_status"], output["code"]) == ("FAILED", "InvalidURL.ConnectionRefused")
    assert output["message"] == f"Connection to {url} refused, please provide available URL."


def test_a_slow_host_times_out(emulator, host):
    url = host.url("/slow.png")
    output = sketch_task(emulator, url)
    assert (output["task_status"], output["code"]) == ("FAILED", "InvalidURL.Timeout")
    assert output["message"] == f"Download {url} timeout, please check network connection."
    assert emulator.client.get("/__mock/health").status_code == 200


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/"])
def test_metadata_addresses_are_never_fetched(emulator, host, url):
    for submitted in (url, host.url("/to-metadata")):
        output = sketch_task(emulator, submitted)
        assert (output["task_status"], output["code"]) == ("FAILED", "InvalidURL.ConnectionRefused")
        assert output["message"] == f"Connection to {submitted} refused, please provide available URL."


@pytest.mark.parametrize("url", ["https://\u0087]", "http://[::1/x.png", "http://127.0.0.1:99999/x.png",
                                 "http://127.0.0.1:0/x.png", "http:///x.png"])
def test_a_malformed_url_fails_the_task_and_never_the_server(emulator, url):
    output = sketch_task(emulator, url)  # found by schemathesis: "https://\u0087]" was a 500
    assert (output["task_status"], output["code"], output["message"]) == ("FAILED", "InvalidURL", INVALID_URL)
    assert emulator.client.get("/__mock/health").status_code == 200


def test_a_url_with_chinese_characters_is_refused_unfetched(emulator, host):
    output = sketch_task(emulator, host.url("/草图.png"))
    assert (output["task_status"], output["code"], output["message"]) == ("FAILED", "InvalidURL", INVALID_URL)


def test_a_good_sketch_after_a_redirect_succeeds(emulator, host):
    assert sketch_task(emulator, host.url("/to-good"))["task_status"] == "SUCCEEDED"


def _result_image(server, output: dict) -> Image.Image:
    response = server.client.get(output["results"][0]["url"])
    assert response.status_code == 200
    return Image.open(io.BytesIO(response.content)).convert("RGB")


def test_the_results_draw_the_sketch_lines_over_the_style_colours(emulator, host):
    output = sketch_task(emulator, host.url("/good.png"), style="<watercolor>", seed=7)
    image = _result_image(emulator, output)
    assert image.size == (768, 768)
    stroke = (120 // 3, 170 // 3, 150 // 3)  # the watercolor accent, darkened
    assert image.getpixel((384, 200)) == stroke  # on the sketch's vertical stroke
    assert image.getpixel((100, 200)) != stroke  # beside it: the style's background
    again = sketch_task(emulator, host.url("/good.png"), style="<watercolor>", seed=7)
    assert _result_image(emulator, again).tobytes() == image.tobytes()  # a pure function of task and sketch


def test_other_hosts_pass_unfetched_under_loopback_and_nothing_is_fetched_under_none(make_server, host):
    loopback = make_server()
    assert sketch_task(loopback, "http://10.255.255.1/sketch.png")["task_status"] == "SUCCEEDED"
    offline = make_server(fetch_inputs="none")
    assert sketch_task(offline, host.url("/missing.png"))["task_status"] == "SUCCEEDED"
    anywhere = make_server(fetch_inputs="any")
    assert sketch_task(anywhere, host.url("/small.png"))["code"] == "InvalidFile.Resolution"


def test_own_result_urls_are_read_in_process(make_server):
    server = make_server(public_url="http://emulator.invalid:9", url_secret="s")  # a name nobody resolves
    submitted = server.submit(model="wanx-v1", parameters={"n": 1})
    server.advance(60)
    result = server.query(submitted.json()["output"]["task_id"]).json()["output"]["results"][0]["url"]
    assert sketch_task(server, result)["task_status"] == "SUCCEEDED"
    tampered = result.replace("Signature=", "Signature=x")
    output = sketch_task(server, tampered)
    assert (output["code"], output["message"]) == ("InvalidURL", INVALID_URL)


def test_throttled_submits_do_not_fetch(make_server, host):
    server = make_server(accounts=[{"id": "a", "keys": ["sk-a"], "limits": {MODEL: {"submit_per_second": 0}}}])
    body = {"model": MODEL, "input": {"prompt": "a", "sketch_image_url": host.url("/never-asked.png")}}
    response = server.client.post(
        f"/api/v1{server.emulator.catalog.models[MODEL].route.path}",
        json=body,
        headers={"Authorization": "Bearer sk-a", "X-DashScope-Async": "enable"},
    )
    assert response.status_code == 429
    assert response.json()["code"] == "Throttling.RateQuota"
    assert response.json()["message"] == "Requests rate limit exceeded, please try again later."
    assert "/never-asked.png" not in host.requested
    fetched = sketch_task(make_server(), host.url("/never-asked.png"))  # not throttled: fetched, and a 404
    assert (fetched["code"], fetched["message"]) == ("InvalidURL", INVALID_URL)
    assert "/never-asked.png" in host.requested


def test_the_sdk_sees_the_faithful_failure(emulator, host):
    sdk = SdkDriver(CURRENT, emulator.api)
    try:
        submitted = sdk("async_call", model=MODEL, prompt="a house", sketch_image_url=host.url("/wide.png"), n=1,
                         task="image2image", api_key="sk-sdk")  # SDK 2.0 routes only imageedit models there itself
        emulator.advance(60)
        done = sdk("wait", task=submitted["output"]["task_id"], api_key="sk-sdk")
    finally:
        sdk.close()
    assert (done["output"]["task_status"], done["output"]["code"], done["output"]["message"]) == (
        "FAILED", "InvalidFile.Resolution", RESOLUTION,
    )


def _ip(text: str):
    return ipaddress.ip_address(text)


def test_the_policy_judges_every_address_a_name_resolves_to():
    mixed = [_ip("93.184.216.34"), _ip("169.254.169.254")]
    assert decide("evil.example", mixed, "any", False).action == "refuse"
    assert decide("evil.example", mixed, "any", True).action == "fetch"
    assert decide("::ffff:169.254.169.254", [], "any", False).action == "refuse"
    assert decide("example.com", [], "loopback", False).action == "skip"
    assert decide("localhost", [_ip("127.0.0.1"), _ip("::1")], "loopback", False).action == "fetch"
    assert decide("10.0.0.1", [], "loopback", False).action == "skip"
    assert decide("169.254.169.254", [], "none", False).action == "skip"


def _image_fields() -> list[tuple[str, str]]:
    """``(model, field)`` of every input field with an ``image`` block, straight from the catalog."""
    from mockserver.catalog import default_catalog

    found = []
    for entry in default_catalog().models.values():
        for name, rule in entry.input.items():
            if (rule.image or (rule.items.image if rule.items else None)) is not None:
                found.append((entry.name, name))
    return found


def _sample(limits, side: int) -> tuple[str, bytes]:
    """A ``side``-square image in a format the model takes (PNG when it may)."""
    fmt = "PNG" if "PNG" in limits.formats else limits.formats[0]
    return ("image/png" if fmt == "PNG" else "image/jpeg"), png(side, side, fmt)


@pytest.mark.parametrize(("model", "field"), _image_fields(), ids=lambda value: value)
def test_every_image_field_takes_an_image_within_its_limits_and_refuses_one_too_small(emulator, host, model, field):
    from catalog_cases import valid_body

    entry = emulator.emulator.catalog.models[model]
    rule = entry.input[field]
    limits = rule.image or rule.items.image
    low = limits.side[0] if limits.side else 1
    outcomes = {}
    for label, side in (("ok", max(low, 256)), ("small", low - 1)):
        if side < 1:
            continue
        path = f"/{model}/{field}/{label}"
        kind, data = _sample(limits, side)
        host.files[path] = (200, kind, data)
        body = valid_body(entry)
        body["input"][field] = [host.url(path)] if rule.type == "array" else host.url(path)
        response = emulator.submit(model=model, **body)
        if entry.mode == "sync":  # no task: the answer, or the HTTP error a task would have failed with
            outcomes[label] = ("SUCCEEDED", None) if response.status_code == 200 else ("FAILED", response.json()["code"])
            continue
        assert response.status_code == 200, response.text
        emulator.advance(600)
        output = emulator.query(response.json()["output"]["task_id"]).json()["output"]
        outcomes[label] = (output["task_status"], output.get("code"))
    assert outcomes["ok"] == ("SUCCEEDED", None)
    if limits.side and low > 1:
        assert outcomes["small"] == ("FAILED", "InvalidFile.Resolution")


def test_a_model_may_allow_more_pixels_than_the_default_canvas_cap():
    from mockserver.catalog.schema import ImageLimits
    from mockserver.inputs.inspect import MAX_PIXELS, inspect

    def grey(width: int, height: int) -> bytes:
        buffer = io.BytesIO()
        Image.new("L", (width, height)).save(buffer, "PNG")
        return buffer.getvalue()

    wide = grey(5000, 3600)  # 18 M pixels: over the default 4096*4096 cap, within 5760*3240
    assert 5000 * 3600 > MAX_PIXELS
    within = ImageLimits(formats=["PNG"], side=(256, 5760), max_pixels=5760 * 3240)
    assert inspect(wide, within).broken is None
    assert inspect(wide, ImageLimits(formats=["PNG"], side=(256, 5760))).broken == "image_resolution"
    assert inspect(grey(5760, 3300), within).broken == "image_resolution"  # over 5760*3240 pixels


def test_a_sketch_task_survives_a_snapshot_and_restore(make_server, host):
    server = make_server()
    output = sketch_task(server, host.url("/good.png"), style="<watercolor>", seed=7)
    before = _result_image(server, output).tobytes()
    state = server.client.get("/__mock/state")
    assert state.status_code == 200, state.text
    assert server.client.post("/__mock/reset", json={}).status_code == 200
    assert server.client.put("/__mock/state", json=state.json()).status_code == 200
    assert _result_image(server, output).tobytes() == before  # the strokes came back with the task
