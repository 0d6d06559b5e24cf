"""PostgreSQL behind PgBouncer in transaction pooling (``SQLAlchemyStorage(url, pgbouncer=True)``):
workers and enqueuers through a PgBouncer of the test's own (tests/pgbouncer.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from dbjobq import JobQueue
from dbjobq.cli.main import cli
from dbjobq.errors import ConfigurationError
from dbjobq.storage import SQLAlchemyStorage
from tests.core import jobs
from tests.pgbouncer import pgbouncer
from tests.waiting import stop_processes, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.databases("postgresql")]


@pytest.fixture
def bouncer_url(db_url: str) -> Iterator[str]:
    """The test database's URL through a PgBouncer in transaction pooling."""
    with pgbouncer(db_url) as url:
        yield url


@pytest.fixture
async def bounced(bouncer_url: str, storage: SQLAlchemyStorage) -> AsyncIterator[JobQueue]:
    """A queue whose storage goes through PgBouncer (the tables exist: ``storage`` created them)."""
    async with SQLAlchemyStorage(bouncer_url, pgbouncer=True) as through:
        yield JobQueue(through)


async def _completed(queue: JobQueue, job_id: str) -> bool:
    job = await queue.get_job(job_id)
    return job is not None and job.status == "completed"


def _logs(tmp_path: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(tmp_path.glob("worker-*.log")))


async def test_pgbouncer_two_workers_run_every_job_once(
    db_url: str, bouncer_url: str, bounced: JobQueue, queue: JobQueue, spawn, tmp_path: Path
) -> None:
    log, count = tmp_path / "runs.log", 600
    workers = [spawn(bouncer_url, storage={"pgbouncer": True}) for _ in range(2)]

    async def both_registered() -> bool:
        return len(await queue.list_workers()) == 2

    await wait_until(both_registered, timeout=60)
    half = count // 2
    await bounced.enqueue_many(jobs.log_run, [{"n": n, "log": str(log)} for n in range(half)])  # bulk
    for n in range(half, count):  # and single enqueues, each its own transaction through the pooler
        await bounced.enqueue(jobs.log_run, {"n": n, "log": str(log)})

    async def all_done() -> bool:
        return await queue.count_jobs("completed") == count

    await wait_until(all_done, timeout=180)
    assert await stop_processes(workers) == [0] * len(workers)
    runs = Counter(log.read_text().split())
    assert len(runs) == count and set(runs.values()) == {1}
    logs = _logs(tmp_path)
    assert "prepared statement" not in logs and "Traceback" not in logs, logs[-3000:]


async def test_pgbouncer_listen_url_wakes_an_idle_worker(
    db_url: str, bouncer_url: str, bounced: JobQueue, queue: JobQueue, spawn, tmp_path: Path
) -> None:
    # A poll interval far longer than the test: only a notification can start these jobs in time.
    spawn(bouncer_url, storage={"pgbouncer": True, "listen_url": db_url}, poll_interval=30.0)

    async def listening() -> bool:
        async with queue.storage.engine.connect() as conn:  # type: ignore[attr-defined]
            sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'"
            return int((await conn.execute(text(sql))).scalar_one()) > 0

    await wait_until(listening, timeout=30)
    for n in range(3):
        job_id = await bounced.enqueue(jobs.noop, {"n": n})
        await wait_until(lambda job_id=job_id: _completed(queue, job_id), timeout=10)  # well before the 30 s poll
    assert "prepared statement" not in _logs(tmp_path)


async def test_pgbouncer_without_listen_url_polls_and_says_so(
    bouncer_url: str, bounced: JobQueue, queue: JobQueue, spawn, tmp_path: Path
) -> None:
    spawn(bouncer_url, storage={"pgbouncer": True}, poll_interval=0.2)
    job_id = await bounced.enqueue(jobs.noop)
    await wait_until(lambda: _completed(queue, job_id), timeout=30)
    logs = _logs(tmp_path)
    assert logs.count("workers poll for new jobs") == 1, logs[-3000:]
    assert "listen_url" in logs


def test_pgbouncer_options_are_postgresql_only(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="PostgreSQL only"):
        SQLAlchemyStorage(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", pgbouncer=True)
    with pytest.raises(ConfigurationError, match="listen_url"):
        SQLAlchemyStorage("postgresql+asyncpg://u@h/db", pgbouncer=True, listen_url="mysql+aiomysql://u@h/db")


def test_pgbouncer_cli_options(bouncer_url: str, db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    through = ["--url", bouncer_url, "--pgbouncer", "--listen-url", db_url]
    enqueued = runner.invoke(cli, [*through, "enqueue", "tests.core.jobs.noop"], prog_name="dbjobq")
    assert enqueued.exit_code == 0, enqueued.output  # initialize() and enqueue through PgBouncer
    listed = runner.invoke(cli, [*through, "jobs", "--json"], prog_name="dbjobq")
    assert listed.exit_code == 0 and "tests.core.jobs.noop" in listed.output, listed.output
    sqlite = f"sqlite+aiosqlite:///{tmp_path / 'jobs.sqlite3'}"
    wrong = runner.invoke(cli, ["--url", sqlite, "--pgbouncer", "jobs"], prog_name="dbjobq")
    assert wrong.exit_code == 1 and "PostgreSQL only" in wrong.output
    assert "Traceback" not in wrong.output
