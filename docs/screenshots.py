"""Make the dashboard screenshots in docs/images/ (run it again after changing the UI).

    .venv/bin/python docs/screenshots.py

Starts the standalone dashboard on a throw-away SQLite database filled with example jobs (an hour
of throughput, failures with tracebacks, a schedule, two workers) and photographs each page with the
system's headless Chromium (Debian's ``chromium``), through Playwright.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import update

from dbjobq import JobQueue, Schedule
from dbjobq.storage import SQLAlchemyStorage
from dbjobq.storage.schema import jobs
from dbjobq.web import create_app

IMAGES = Path(__file__).resolve().parent / "images"
TOKEN = "screenshots-token"
TRACEBACK = (
    "ConnectionError: SMTP server smtp.example.com refused the connection\n"
    "Traceback (most recent call last):\n"
    '  File "shop/jobs.py", line 41, in send_receipt\n'
    "    smtp.send(message)\n"
    "ConnectionError: SMTP server smtp.example.com refused the connection"
)


async def fill(url: str) -> str:
    """Example data; returns the id of a failed job to photograph."""
    rng = random.Random(7)
    storage = SQLAlchemyStorage(url)
    await storage.initialize()
    queue = JobQueue(storage)
    now = time.time()
    kinds = [("shop.jobs.send_receipt", "emails"), ("shop.jobs.charge_card", "payments"),
             ("shop.jobs.build_report", "reports"), ("shop.jobs.resize_image", "default")]
    failed_id = ""
    finished_jobs = []
    for minute in range(60):
        for _ in range(rng.randint(20, 60)):
            job_type, queue_name = rng.choice(kinds)
            job_id = await queue.enqueue(job_type, {"order_id": rng.randint(1000, 9999)}, queue=queue_name)
            finished_jobs.append((job_id, now - minute * 60 - rng.random() * 60, rng.random() < 0.04))
    async with storage.engine.begin() as conn:
        for job_id, finished, failed in finished_jobs:
            await conn.execute(update(jobs).where(jobs.c.id == job_id).values(
                status="failed" if failed else "completed", attempts=1, started_at=finished - 1,
                finished_at=finished, error=TRACEBACK if failed else None,
                result=None if failed else '{"ok": true}', worker_id="web-1:4242:ab12"))
            if failed:
                failed_id = job_id
    for _ in range(140):
        job_type, queue_name = rng.choice(kinds)
        await queue.enqueue(job_type, {"order_id": rng.randint(1000, 9999)}, queue=queue_name)
    await storage.create_schedule(Schedule("nightly-report", "shop.jobs.build_report", {"period": "day"}, "cron",
                                           "0 3 * * *", now + 5 * 3600, queue="reports", last_run=now - 19 * 3600))
    await storage.create_schedule(Schedule("cleanup", "shop.jobs.cleanup", {}, "interval", "900", now + 420))
    await storage.register_worker("web-1:4242:ab12", queues=None, concurrency=10)
    await storage.register_worker("web-2:5151:cd34", queues=["emails", "payments"], concurrency=4)
    running = await storage.claim_jobs(3, worker_id="web-1:4242:ab12", lease_timeout=600)
    assert running
    await storage.close()
    return failed_id


def main() -> int:
    import uvicorn
    from playwright.sync_api import sync_playwright

    directory = Path(tempfile.mkdtemp())
    url = f"sqlite+aiosqlite:///{directory / 'screenshots.sqlite3'}"
    failed_id = asyncio.run(fill(url))
    server = uvicorn.Server(uvicorn.Config(create_app(url, token=TOKEN), host="127.0.0.1", port=8765,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = "http://127.0.0.1:8765"
    IMAGES.mkdir(exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(f"{base}/?token={TOKEN}")
            for name, path in [("overview", "/"), ("jobs", "/jobs?status=failed"), ("job", f"/jobs/{failed_id}"),
                               ("schedules", "/schedules"), ("workers", "/workers"), ("queues", "/queues")]:
                page.goto(base + path)
                page.screenshot(path=str(IMAGES / f"dashboard-{name}.png"), full_page=False)
                print(f"docs/images/dashboard-{name}.png")
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
