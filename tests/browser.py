"""Headless Chromium for the dashboard's browser tests: one browser per test session.

Debian's ``chromium`` (``/usr/bin/chromium``, installed by ``.ci/run``) driven by Playwright's Python
package; ``playwright install`` is never run. Servers under test run in threads on free ports.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

CHROMIUM = os.environ.get("DBJOBQ_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Refresh interval of the overview in these tests (seconds): short, so "the chart refreshes" is quick.
REFRESH = 0.3
XSS_DATA = {"html": "<script>window.__xss = 1</script>", "img": "<img src=x onerror=\"window.__xss = 2\">"}
XSS_TYPE = "<img src=x onerror=\"window.__xss = 3\">"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium shared by a test module (skips, or fails under CI, without Chromium).

    Per module, not per session: Playwright's sync API keeps an event loop running in the main thread
    while the browser is open, and other modules' tests (``asyncio.run``, Django's ORM) must not see it.
    """
    yield from launch()


def launch() -> Iterator[Any]:
    """Start headless Chromium, yield it, close it."""
    if not os.path.exists(CHROMIUM):
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("DBJOBQ_REQUIRE_ALL_DATABASES"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_asgi(app: Any) -> tuple[str, Callable[[], None]]:
    """Run ``app`` on uvicorn in a thread; return its base URL and a function that stops it."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    _wait(lambda: server.started, "uvicorn")

    def stop() -> None:
        server.should_exit = True
        thread.join(10)

    return f"http://127.0.0.1:{port}", stop


def serve_wsgi(app: Any) -> tuple[str, Callable[[], None]]:
    """Run a WSGI ``app`` on werkzeug's threaded server in a thread; return its URL and a stopper."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        thread.join(10)

    return f"http://127.0.0.1:{server.server_port}", stop


def _wait(ready: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not start")
        time.sleep(0.02)


def run_async(make: Callable[[], Any]) -> Any:
    """Run the coroutine ``make()`` to completion in a thread of its own (Playwright's sync API keeps an
    event loop running in the test's thread, where ``asyncio.run`` refuses to start)."""
    result: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(make()))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(60)
    if errors:
        raise errors[0]
    return result[0]


def seed(url: str) -> dict[str, str]:
    """Jobs every browser test uses, in the database at ``url``: name -> job id."""

    async def main() -> dict[str, str]:
        from sqlalchemy import update

        from dbjobq import JobQueue, Schedule
        from dbjobq.storage import SQLAlchemyStorage
        from dbjobq.storage.schema import jobs

        storage = SQLAlchemyStorage(url)
        await storage.initialize()
        try:
            queue = JobQueue(storage)
            ids = {
                "failed": await queue.enqueue("shop.jobs.charge", {"order": 7}, queue="payments"),
                "pending": await queue.enqueue("shop.jobs.send_email", {"to": "ada@example.com"}, delay=3600),
                "xss": await queue.enqueue(XSS_TYPE, XSS_DATA),
            }
            now = time.time()
            async with storage.engine.begin() as conn:
                await conn.execute(
                    update(jobs)
                    .where(jobs.c.id == ids["failed"])
                    .values(status="failed", attempts=1, finished_at=now, error="ValueError: card declined\n"
                            "Traceback (most recent call last):\n  File \"shop/jobs.py\", line 3\nValueError: x")
                )
                await conn.execute(
                    update(jobs).where(jobs.c.id == ids["xss"]).values(
                        status="failed", finished_at=now, error=XSS_DATA["html"], result='"<b>bold</b>"'
                    )
                )
            await storage.create_schedule(
                Schedule("nightly-report", "shop.jobs.report", {}, "cron", "0 3 * * *", now + 3600)
            )
            return ids
        finally:
            await storage.close()

    return dict(run_async(main))


def finish_one(url: str) -> None:
    """Record one more completed job now (the chart should pick it up)."""

    async def main() -> None:
        from sqlalchemy import update

        from dbjobq import JobQueue
        from dbjobq.storage import SQLAlchemyStorage
        from dbjobq.storage.schema import jobs

        storage = SQLAlchemyStorage(url)
        await storage.initialize()
        try:
            job_id = await JobQueue(storage).enqueue("shop.jobs.quick")
            async with storage.engine.begin() as conn:
                await conn.execute(
                    update(jobs).where(jobs.c.id == job_id).values(status="completed", finished_at=time.time())
                )
        finally:
            await storage.close()

    run_async(main)


def check_pages(page: Any, base: str, ids: dict[str, str]) -> None:
    """Every page loads and shows its heading."""
    for path, heading in [
        ("/", "Overview"),
        ("/jobs", "Jobs"),
        (f"/jobs/{ids['failed']}", "Job"),
        ("/schedules", "Schedules"),
        ("/workers", "Workers"),
        ("/queues", "Queues"),
    ]:
        response = page.goto(base + path)
        assert response is not None and response.status == 200, (path, response and response.status)
        assert page.locator("h1").inner_text().startswith(heading)
    page.goto(base + "/schedules")
    assert page.locator("#schedules").inner_text().count("nightly-report") == 1


def check_xss_stays_text(page: Any, base: str, ids: dict[str, str]) -> None:
    """Stored markup is shown as text and never runs."""
    page.goto(base + f"/jobs/{ids['xss']}")
    assert page.evaluate("window.__xss") is None
    assert "<script>window.__xss = 1</script>" in page.locator("#job-data").inner_text()
    assert XSS_TYPE in page.locator("#job-type").inner_text()
    assert "<script>" in page.locator("#job-error").inner_text()
    page.goto(base + "/jobs")
    assert page.evaluate("window.__xss") is None
    assert XSS_TYPE in page.locator("#jobs").inner_text()


def check_filter_by_status(page: Any, base: str) -> None:
    """Choosing a status and pressing Filter lists only jobs of that status."""
    page.goto(base + "/jobs")
    page.select_option("select[name=status]", "failed")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**status=failed**")
    statuses = page.locator("#jobs tbody tr").evaluate_all("rows => rows.map(r => r.dataset.status)")
    assert statuses and set(statuses) == {"failed"}


def check_chart_refreshes(page: Any, base: str, url: str) -> None:
    """The overview's chart fetches itself again and shows a job finished after the page loaded."""
    page.goto(base + "/")
    before = int(page.locator("#throughput").get_attribute("data-completed"))
    finish_one(url)
    page.wait_for_function(
        f"Number(document.querySelector('#throughput').dataset.completed) > {before}", timeout=10_000
    )
    assert int(page.locator("#live").get_attribute("data-refreshed")) >= 1


def check_retry_and_cancel(page: Any, base: str, ids: dict[str, str]) -> None:
    """Retry sends the failed job back to pending; Cancel cancels the pending one."""
    page.goto(base + f"/jobs/{ids['failed']}")
    assert page.locator("#job-status").inner_text() == "failed"
    page.get_by_role("button", name="Retry", exact=True).click()
    page.wait_for_url(f"**/jobs/{ids['failed']}?notice=retried")
    assert page.locator("#job-status").inner_text() == "pending"
    page.goto(base + f"/jobs/{ids['pending']}")
    page.get_by_role("button", name="Cancel", exact=True).click()
    page.wait_for_url(f"**/jobs/{ids['pending']}?notice=cancelled")
    assert page.locator("#job-status").inner_text() == "cancelled"


def paused_queues(url: str) -> set[str]:
    """The queues paused in the database at ``url`` now."""

    async def main() -> set[str]:
        from dbjobq.storage import SQLAlchemyStorage

        async with SQLAlchemyStorage(url) as storage:
            return await storage.paused_queues()

    return set(run_async(main))


def check_pause_and_resume(page: Any, base: str, url: str) -> None:
    """Pause on the queues page pauses the queue in the database (every worker sees it); Resume resumes it."""
    page.goto(base + "/queues")
    row = page.locator('tr[data-queue="payments"]')
    row.get_by_role("button", name="Pause", exact=True).click()
    page.wait_for_url("**/queues?notice=paused")
    assert paused_queues(url) == {"payments"}
    assert page.locator('tr[data-queue="payments"] td').nth(5).inner_text() == "paused"
    page.locator('tr[data-queue="payments"]').get_by_role("button", name="Resume", exact=True).click()
    page.wait_for_url("**/queues?notice=resumed")
    assert paused_queues(url) == set()


def check_refused(page: Any, base: str, ids: dict[str, str]) -> None:
    """A user the guard refuses sees the button, clicks it, gets 403, and nothing changes."""
    page.goto(base + f"/jobs/{ids['xss']}")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Retry", exact=True).click()
    assert posted.value.status == 403
    assert page.locator("h1").inner_text() == "Not allowed"
    page.goto(base + f"/jobs/{ids['xss']}")
    assert page.locator("#job-status").inner_text() == "failed"
