"""DBJobQ demo: a worker on a SQLite file runs a batch of jobs, with retries and a schedule.

Run it with `make demo` (or `python examples/demo.py [path/to/db.sqlite3]`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dbjobq import Job, JobQueue, RunResult, Schedule, Worker, job
from dbjobq.storage import SQLAlchemyStorage

console = Console()
flaky_attempts: dict[int, int] = {}


@job(priority=1)
async def resize_image(data: dict[str, Any]) -> dict[str, Any]:
    """An async job: pretend to resize an image."""
    await asyncio.sleep(random.uniform(0.001, 0.01))
    return {"image": data["image"], "size": [data["width"], data["width"] * 3 // 4]}


@job()
def checksum(data: dict[str, Any]) -> int:
    """A sync job: it runs in the worker's thread pool, never on the event loop."""
    return sum(data["payload"].encode()) % 65521


@job(max_retries=3, retry_delay=0.2)
async def call_flaky_api(data: dict[str, Any]) -> str:
    """Fails on its first two attempts, then succeeds: retried with exponential backoff."""
    n = data["n"]
    flaky_attempts[n] = flaky_attempts.get(n, 0) + 1
    if flaky_attempts[n] < 3:
        raise ConnectionError(f"upstream timeout (attempt {flaky_attempts[n]})")
    return "ok"


@job(max_retries=1, retry_delay=0.1)
def parse_invoice(data: dict[str, Any]) -> None:
    """Always fails: after its one retry it ends `failed`, keeping the error and traceback."""
    raise ValueError(f"invoice {data['invoice']} has no total")


@job()
async def heartbeat_report(data: dict[str, Any]) -> str:
    """Fired by a schedule every second."""
    return f"report at {time.strftime('%H:%M:%S')}"


async def main(path: Path) -> None:
    path.unlink(missing_ok=True)
    storage = SQLAlchemyStorage(f"sqlite+aiosqlite:///{path}")
    await storage.initialize()
    queue = JobQueue(storage)

    await queue.enqueue_many(resize_image, [{"image": f"img{n}.png", "width": 640 + n} for n in range(300)])
    await queue.enqueue_many(checksum, [{"payload": f"record-{n}" * 20} for n in range(150)])
    await queue.enqueue_many(call_flaky_api, [{"n": n} for n in range(5)])
    await queue.enqueue_many(parse_invoice, [{"invoice": f"INV-{n}"} for n in range(3)])
    await storage.create_schedule(
        Schedule(
            id="report",
            job_type=heartbeat_report.__module__ + ".heartbeat_report",
            job_data={},
            schedule_type="interval",
            schedule_expression="1",
            next_run=time.time(),
        )
    )
    total = 458
    console.print(f"[bold]DBJobQ demo[/]: {total} jobs enqueued in [cyan]{path}[/], plus a 1-second schedule")

    worker = Worker(queue, concurrency=20, poll_interval=0.2, schedule_poll_interval=0.2)
    retried: list[str] = []

    def on_retry(job: Job, result: RunResult | None) -> None:
        retried.append(job.id)

    worker.on("job_retried", on_retry)
    started = time.perf_counter()
    await worker.start()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    elapsed = 0.0
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("processing", total=total)
        while True:
            batch = [j for j in await queue.list_jobs() if not j.type.endswith("heartbeat_report")]
            finished = sum(1 for j in batch if j.is_finished)
            progress.update(bar, completed=finished, description=f"processing ({len(retried)} retries)")
            if finished >= total and not elapsed:
                elapsed = time.perf_counter() - started
            reports = [j for j in await queue.get_completed_jobs() if j.type.endswith("heartbeat_report")]
            if elapsed and reports:
                break
            await asyncio.sleep(0.05)
    await worker.stop()

    counts = await storage.count_jobs()
    table = Table(title="Summary")
    for column in ("completed", "failed", "retried", "scheduled runs", "jobs/s"):
        table.add_column(column, justify="right")
    completed = sum(n for (_, s), n in counts.items() if s == "completed")
    failed = sum(n for (_, s), n in counts.items() if s == "failed")
    fired = len([j for j in await queue.list_jobs() if j.type.endswith("heartbeat_report")])
    table.add_row(str(completed), str(failed), str(len(retried)), str(fired), f"{total / elapsed:,.0f}")
    console.print(table)
    [first_failure, *_] = await queue.get_failed_jobs()
    console.print(f"A failed job keeps its error: [red]{(first_failure.error or '').splitlines()[0]}[/]")
    await storage.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.CRITICAL)  # the summary reports failures; keep the screen clean
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("demo.sqlite3")
    asyncio.run(main(target))
