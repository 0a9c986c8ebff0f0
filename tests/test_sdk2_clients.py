"""The 2.0.x SDK's own clients: ``AioImageSynthesis`` and ``dashscope.Client().images``."""

from __future__ import annotations

import asyncio

import dashscope
import pytest
from dashscope.aigc.image_synthesis import AioImageSynthesis
from dashscope.api_entities.aio_session import close_shared_aio_session

pytestmark = pytest.mark.e2e
KEY = "sk-e2e-2"


def test_aio_image_synthesis_call_wait_and_cancel(make_server, monkeypatch):
    server = make_server()
    monkeypatch.setattr(dashscope, "base_http_api_url", server.api)

    async def scenario():
        try:
            first = await AioImageSynthesis.async_call(model="wanx-v1", prompt="a cat", n=1, api_key=KEY)
            queued = await AioImageSynthesis.async_call(model="wanx-v1", prompt="a dog", n=1, api_key=KEY)
            assert (first.status_code, first.output.task_status) == (200, "PENDING")
            canceled = await AioImageSynthesis.cancel(queued.output.task_id, api_key=KEY)
            server.advance(60)
            done = await AioImageSynthesis.wait(first.output.task_id, api_key=KEY)
            return canceled, done, await AioImageSynthesis.fetch(queued.output.task_id, api_key=KEY)
        finally:
            await close_shared_aio_session()  # the SDK's shared aiohttp session, as a tidy client closes it

    canceled, done, after = asyncio.run(scenario())
    assert canceled.status_code == 200
    assert done.output.task_status == "SUCCEEDED"
    assert len(done.output.results) == 1 and done.output.results[0].url.startswith(server.url)
    assert after.output.task_status == "CANCELED"


def test_client_images_jobs(make_server):
    server = make_server()
    client = dashscope.Client(api_key=KEY, base_url=server.api, max_retries=0)
    job = client.images.jobs.create(model="wanx2.1-t2i-turbo", prompt="a cat", n=2)
    assert job.status == "PENDING" and job.task_id
    server.advance(60)
    done = client.images.jobs.wait(job.task_id)
    assert done.succeeded
    assert len(done.image_urls) == 2 and all(url.startswith(server.url) for url in done.image_urls)
    assert done.usage is not None


def test_client_images_retries_a_throttled_create(make_server):
    """The 2.0 client retries a 429 itself: the create is throttled once, retried, and lands."""
    server = make_server()
    server.throttle(route="submit", n=1)  # the next submit only: Throttling.RateQuota
    client = dashscope.Client(api_key=KEY, base_url=server.api, max_retries=2)
    job = client.images.jobs.create(model="wanx-v1", prompt="a cat", n=1)
    assert job.status == "PENDING" and job.task_id
    assert [entry["status"] for entry in server.requests(route="submit")] == [429, 200]
