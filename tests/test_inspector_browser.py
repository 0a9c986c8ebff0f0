"""The inspector in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

Nothing is downloaded: Playwright launches ``/usr/bin/chromium`` (``.ci/run``
installs it). The emulator's clock is manual; the tests move it through the
control plane or the page's own buttons and wait for the page's polling with
Playwright's ``expect``, never on wall time.
"""

from __future__ import annotations

import os
import shutil
from typing import Iterator

import pytest

sync_api = pytest.importorskip("playwright.sync_api", reason="the test extra's playwright is not installed")
expect = sync_api.expect

CHROMIUM = os.environ.get("INSPECTOR_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
KEY = "sk-browser"
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def browser() -> Iterator["sync_api.Browser"]:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install chromium), as .ci/run does")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def console_errors() -> list[str]:
    """What the page wrote to the console as errors, and its uncaught exceptions."""
    return []


@pytest.fixture
def page(browser, console_errors) -> Iterator["sync_api.Page"]:
    """A fresh page that records console errors; the test ends by finding none (a test takes out those it caused)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems = console_errors
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page
    context.close()
    assert problems == []


def submit(server, n: int = 1, **parameters) -> str:
    response = server.submit(key=KEY, input={"prompt": "a lighthouse"}, parameters={"n": n, **parameters})
    assert response.status_code == 200, response.text
    return response.json()["output"]["task_id"]


def row(page, task_id: str):
    return page.locator(f'#task-rows tr[data-task-id="{task_id}"]')


def test_tasks_show_their_states_and_move_with_the_clock(server, page):
    first, second = submit(server, n=2), submit(server, n=2)
    page.goto(f"{server.url}/__mock/ui/")
    expect(row(page, first).locator(".status")).to_have_text("PENDING")
    expect(row(page, second).locator(".where")).to_have_text("queue #2")
    expect(page.locator("#tasks-count")).to_have_text("1–2 of 2")
    task = server.emulator.store.get_task(first)
    server.advance(task.scheduled_at - server.now() + 1)
    expect(row(page, first).locator(".status")).to_have_text("RUNNING")
    expect(row(page, first).locator(".progress")).to_be_visible()
    expect(row(page, second).locator(".where")).to_have_text("queue #1")
    page.fill("#advance-seconds", "3600")
    page.click("#advance")  # the page's own button moves the clock
    expect(row(page, second).locator(".status")).to_have_text("SUCCEEDED")
    thumbnails = row(page, second).locator("img")
    expect(thumbnails).to_have_count(2)
    for index in range(2):
        image = thumbnails.nth(index)
        expect(image).to_have_js_property("complete", True)
        assert image.evaluate("img => img.naturalWidth") == 160  # a real image arrived, not a broken icon


def test_filters_narrow_the_list(server, page):
    kept = submit(server)
    server.fail_next("InternalError.Algo")
    failed = submit(server)
    server.advance(3600)
    page.goto(f"{server.url}/__mock/ui/")
    expect(page.locator("#task-rows tr")).to_have_count(2)
    other = server.submit(key="sk-browser-late")  # an account that calls after the page was drawn
    late = server.emulator.authenticate("Bearer sk-browser-late").id
    expect(page.locator(f'#filters select[name="account"] option[value="{late}"]')).to_have_count(1)
    page.select_option('#filters select[name="account"]', late)
    expect(page.locator("#task-rows tr")).to_have_count(1)
    expect(row(page, other.json()["output"]["task_id"])).to_be_visible()
    page.select_option('#filters select[name="account"]', "")
    expect(page.locator("#task-rows tr")).to_have_count(3)
    page.select_option('#filters select[name="status"]', "FAILED")
    expect(page.locator("#task-rows tr")).to_have_count(1)
    expect(row(page, failed).locator(".where")).to_contain_text("InternalError.Algo")
    page.select_option('#filters select[name="status"]', "")
    page.fill('#filters input[name="q"]', kept[:12])
    expect(page.locator("#task-rows tr")).to_have_count(1)
    expect(row(page, kept)).to_be_visible()


def test_freeze_and_resume_buttons_drive_the_clock(server, page):
    page.goto(f"{server.url}/__mock/ui/")
    expect(page.locator("#clock-mode")).to_have_text("manual")
    page.click("#resume")
    expect(page.locator("#clock-mode")).to_have_text("real")
    assert server.emulator.clock.mode == "real"
    page.click("#freeze")
    expect(page.locator("#clock-mode")).to_have_text("manual")
    assert server.emulator.clock.mode == "manual"
    shown = page.locator("#clock-now").inner_text()
    assert shown.endswith(" +08:00")


def test_reset_forgets_everything_once_confirmed(server, page):
    task_id = submit(server)
    page.goto(f"{server.url}/__mock/ui/")
    expect(row(page, task_id)).to_be_visible()
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#reset")
    expect(row(page, task_id)).to_be_visible()
    assert server.emulator.store.count() == 1  # not confirmed: nothing happened
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#reset")
    expect(page.locator("#task-rows")).to_have_text("no tasks")
    assert server.emulator.store.count() == 0


def test_a_task_timeline_is_drawn(server, page):
    task_id = submit(server)
    server.throttle("query", n=1)
    assert server.query(task_id, key=KEY).status_code == 429
    server.advance(5)
    server.query(task_id, key=KEY)
    server.advance(3600)
    server.query(task_id, key=KEY)
    page.goto(f"{server.url}/__mock/ui/tasks/{task_id}")
    expect(page.locator("#task-status")).to_have_text("SUCCEEDED")
    events = [event["event"] for event in server.timeline(task_id)]
    expect(page.locator("#timeline-rows tr")).to_have_count(len(events))
    expect(page.locator("#timeline-chart circle.poll")).to_have_count(2)
    expect(page.locator("#timeline-chart circle.throttled")).to_have_count(1)
    expect(page.locator("#timeline-chart line.transition")).to_have_count(3)  # PENDING, RUNNING, SUCCEEDED
    expect(page.locator("#timeline-rows tr.event-poll").last.locator("td").nth(1)).to_have_text("3600.00")
    expect(page.locator("#task-thumbnails img")).to_have_count(1)


def test_a_fault_rule_added_from_the_form_takes_effect(server, page, console_errors):
    page.goto(f"{server.url}/__mock/ui/")
    page.select_option('#rule-form select[name="route"]', "submit")
    page.select_option('#rule-form select[name="kind"]', "http")
    page.select_option('#rule-form select[name="code"]', "Throttling.RateQuota")
    page.fill('#rule-form input[name="count"]', "1")
    page.click("#add-rule")
    expect(page.locator("#rule-rows tr")).to_have_count(1)
    expect(page.locator("#rule-rows .remaining")).to_have_text("1")
    refused = server.submit(key=KEY)
    assert refused.status_code == 429 and refused.json()["code"] == "Throttling.RateQuota"
    expect(page.locator("#rule-rows .remaining")).to_have_text("0")
    assert server.submit(key=KEY).status_code == 200  # the count was one
    page.select_option('#rule-form select[name="route"]', "query")
    page.select_option('#rule-form select[name="kind"]', "fail")
    page.click("#add-rule")
    expect(page.locator("#rule-error")).to_contain_text("route must be submit")  # the control plane's 400, shown
    expect(page.locator("#rule-rows tr")).to_have_count(1)
    assert console_errors == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    console_errors.clear()  # the refused rule's answer, which the browser reports


def test_accounts_show_usage_and_sparklines(server, page):
    submit(server, n=3)
    page.goto(f"{server.url}/__mock/ui/")
    account = server.emulator.authenticate(f"Bearer {KEY}").id
    block = page.locator(f'#account-list [data-account="{account}"]')
    expect(block.locator("tbody tr")).to_have_count(1)
    expect(block.locator("tbody td").nth(4)).to_have_text("3")  # images used of the free quota
    expect(block.locator("svg.spark")).to_have_count(2)


def test_with_an_admin_token_the_browser_logs_in(make_server, browser):
    server = make_server(admin_token="s3cret")
    server.client.headers["X-Mock-Admin-Token"] = "s3cret"
    task_id = submit(server)
    context = browser.new_context(http_credentials={"username": "me", "password": "s3cret"})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    assert page.goto(f"{server.url}/__mock/ui/").status == 200
    expect(row(page, task_id).locator(".status")).to_have_text("PENDING", timeout=10_000)  # its polls got in too
    context.close()
    assert errors == []
