"""DBJobQ demo: a worker on a SQLite file runs a batch of jobs, with retries and a schedule.

Run it with `make demo` (or `python examples/demo.py [path/to/db.sqlite3]`). It enqueues four kinds
of job (defined below), lets a schedule fire every second, runs a worker until every job has
finished, then prints a summary that adds up (enqueued + scheduled = completed + failed) and the
`dbjobq` commands to look at the jobs it leaves in the database.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import shutil
import sys
import time
from collections import Counter
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
    """Fails on its first two attempts on purpose, then succeeds: retried with exponential backoff."""
    n = data["n"]
    flaky_attempts[n] = flaky_attempts.get(n, 0) + 1
    if flaky_attempts[n] < 3:
        raise ConnectionError(f"upstream timeout (attempt {flaky_attempts[n]})")
    return "ok"


@job(max_retries=1, retry_delay=0.1)
def parse_invoice(data: dict[str, Any]) -> None:
    """Always fails on purpose: after its one retry it ends `failed`, keeping the error and traceback."""
    raise ValueError(f"invoice {data['invoice']} has no total")


@job()
async def heartbeat_report(data: dict[str, Any]) -> str:
    """Fired by a schedule every second."""
    return f"report at {time.strftime('%H:%M:%S')}"


BATCHES: list[tuple[Any, list[dict[str, Any]]]] = [
    (resize_image, [{"image": f"img{n}.png", "width": 640 + n} for n in range(300)]),
    (checksum, [{"payload": f"record-{n}" * 20} for n in range(150)]),
    (call_flaky_api, [{"n": n} for n in range(5)]),
    (parse_invoice, [{"invoice": f"INV-{n}"} for n in range(3)]),
]
REPORT = f"{heartbeat_report.__module__}.heartbeat_report"


def short(job_type: str) -> str:
    """``__main__.resize_image`` -> ``resize_image``."""
    return job_type.rsplit(".", 1)[-1]


def dbjobq_command() -> str:
    """How to call the `dbjobq` command from here: the one installed beside this Python."""
    beside = Path(sys.executable).parent / "dbjobq"
    if not beside.exists():
        return f"{sys.executable} -m dbjobq.cli"
    on_path = shutil.which("dbjobq")
    if on_path and Path(on_path).resolve() == beside.resolve():
        return "dbjobq"
    return os.path.relpath(beside) if not os.path.relpath(beside).startswith("..") else str(beside)


async def run_jobs(queue: JobQueue, total: int) -> float:
    """Run a worker until every job has finished and the schedule fired; returns the batch's seconds."""
    worker = Worker(queue, concurrency=20, poll_interval=0.2, schedule_poll_interval=0.2)
    retries: list[str] = []

    def on_retry(job: Job, result: RunResult | None) -> None:
        retries.append(job.id)

    worker.on("job_retried", on_retry)
    started = time.perf_counter()
    elapsed = 0.0
    await worker.start()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("processing", total=total)
        while True:
            jobs = await queue.list_jobs()
            finished = sum(1 for j in jobs if j.is_finished and j.type != REPORT)
            progress.update(bar, completed=finished, description=f"processing ({len(retries)} retries)")
            if finished >= total and not elapsed:
                elapsed = time.perf_counter() - started
            if elapsed and any(j.type == REPORT and j.is_finished for j in jobs):
                break
            await asyncio.sleep(0.05)
    # Switch the schedule off and let its last run finish, so that every job in the database has an
    # outcome when the summary counts them.
    await queue.set_schedule_enabled("report", False)
    while any(not j.is_finished for j in await queue.list_jobs()):
        await asyncio.sleep(0.05)
    await worker.stop()
    return elapsed


def summary(jobs: list[Job], total: int, elapsed: float) -> tuple[Table, dict[str, int]]:
    """The summary table, built from the database's rows, and its numbers."""
    by_type = Counter(short(j.type) for j in jobs if j.type != REPORT)
    statuses = Counter(str(j.status) for j in jobs)
    failed_types = Counter(short(j.type) for j in jobs if j.status == "failed")
    numbers = {
        "enqueued": sum(by_type.values()),
        "scheduled": sum(1 for j in jobs if j.type == REPORT),
        "completed": statuses["completed"],
        "failed": statuses["failed"],
        "retries": sum(j.attempts - 1 for j in jobs),
    }
    table = Table(title="Summary", show_header=False)
    table.add_column(justify="left")
    table.add_column(justify="right")
    table.add_column(justify="left")
    table.add_row("enqueued", str(numbers["enqueued"]), ", ".join(f"{n} {t}" for t, n in by_type.items()))
    table.add_row("+ scheduled", str(numbers["scheduled"]), f"{short(REPORT)}, fired by the every-second schedule")
    table.add_row("= completed", str(numbers["completed"]), "")
    failures = ", ".join(f"{n} {t}" for t, n in failed_types.items()) or "none"
    table.add_row("+ failed", str(numbers["failed"]), f"{failures}: on purpose, see below")
    per_type = Counter[str]()
    for j in jobs:
        per_type[short(j.type)] += j.attempts - 1
    table.add_row("retries", str(numbers["retries"]), ", ".join(f"{n} of {t}" for t, n in per_type.items() if n))
    table.add_row("throughput", f"{total / elapsed:,.0f}", "jobs/s for the enqueued batch, retry back-offs included")
    return table, numbers


async def main(path: Path) -> None:
    path.unlink(missing_ok=True)
    url = f"sqlite+aiosqlite:///{path}"
    storage = SQLAlchemyStorage(url)
    await storage.initialize()
    queue = JobQueue(storage)
    for func, payloads in BATCHES:
        await queue.enqueue_many(func, payloads)
    await queue.create_schedule(
        Schedule(
            id="report",
            job_type=REPORT,
            job_data={},
            schedule_type="interval",
            schedule_expression="1",
            next_run=time.time(),
        )
    )
    total = sum(len(payloads) for _, payloads in BATCHES)
    console.print(f"[bold]DBJobQ demo[/]: {total} jobs enqueued in [cyan]{path}[/], and a schedule firing every second")

    elapsed = await run_jobs(queue, total)

    jobs = await queue.list_jobs()
    table, n = summary(jobs, total, elapsed)
    console.print(table)
    console.print(
        f"{n['enqueued']} enqueued + {n['scheduled']} scheduled = {n['completed']} completed + {n['failed']} failed"
    )
    failures = [j for j in jobs if j.status == "failed"]
    console.print()
    console.print(
        f"The {len(failures)} failures are deliberate: [bold]parse_invoice[/] always raises, to show that a job "
        "whose retries run out ends [red]failed[/] and keeps its error and traceback:"
    )
    if failures:
        console.print(f"  [red]{(failures[0].error or '').splitlines()[0]}[/]", highlight=False)
    console.print(
        "[bold]call_flaky_api[/] fails twice on purpose too, then succeeds on its third attempt: "
        "retries with exponential backoff."
    )
    console.print()
    console.print(f"Look around: the jobs stay in [cyan]{path}[/].")
    command = f"{dbjobq_command()} --url {url}"
    example = failures[0].id if failures else jobs[0].id
    for line in (f"{command} jobs --status failed", f"{command} job {example}", f"{command} stats"):
        console.print(f"  {line}", soft_wrap=True, markup=False, highlight=False)
    console.print("Then read [bold]examples/demo.py[/]: each job above is a decorated function at its top.")
    await storage.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.CRITICAL)  # the summary reports failures; keep the screen clean
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("demo.sqlite3")
    asyncio.run(main(target))
