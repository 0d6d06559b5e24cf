"""Workers as real processes: crashes (kill -9), several workers on one queue, database restarts."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text

from dbjobq import JobQueue
from dbjobq.storage import SQLAlchemyStorage
from tests.core import jobs
from tests.waiting import stop_processes, wait_until

pytestmark = pytest.mark.slow


async def _status(queue: JobQueue, job_id: str) -> str | None:
    job = await queue.get_job(job_id)
    return job.status.value if job else None


async def test_worker_processes_kill_9_mid_job_reruns_elsewhere(
    db_url: str, queue: JobQueue, spawn, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    job_id = await queue.enqueue(jobs.wait_for_file, {"path": str(release)}, max_retries=1)
    victim = spawn(db_url)
    await wait_until(lambda: _running_by_someone(queue, job_id), timeout=20)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    rescuer = spawn(db_url)
    release.touch()
    await wait_until(lambda: _is_completed(queue, job_id), timeout=30)
    job = await queue.get_job(job_id)
    assert job is not None and job.attempts == 2 and job.result == "released"
    rescuer.send_signal(signal.SIGTERM)
    assert rescuer.wait(timeout=30) == 0


async def test_worker_processes_four_workers_run_each_job_once(
    db_url: str, queue: JobQueue, spawn, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    count = 2000
    workers = [spawn(db_url) for _ in range(4)]

    async def all_registered() -> bool:
        return len(await queue.list_workers()) == 4

    # Enqueue once all four are up: a burst worker started first could drain everything alone.
    await wait_until(all_registered, timeout=60)
    await queue.enqueue_many(jobs.log_run, [{"n": n, "log": str(log)} for n in range(count)])

    async def all_done() -> bool:
        return await queue.count_jobs("completed") == count

    await wait_until(all_done, timeout=120)
    assert await stop_processes(workers) == [0] * len(workers)
    runs = Counter(log.read_text().split())
    assert len(runs) == count and set(runs.values()) == {1}
    completed = await queue.get_completed_jobs()
    assert len(completed) == count and {j.attempts for j in completed} == {1}
    assert len({j.worker_id for j in completed}) > 1


async def test_worker_processes_sigterm_is_graceful(db_url: str, queue: JobQueue, spawn, tmp_path: Path) -> None:
    release, started = tmp_path / "release", tmp_path / "started"
    job_id = await queue.enqueue(jobs.wait_for_file, {"path": str(release), "started": str(started)})
    proc = spawn(db_url, shutdown_timeout=20)
    # Started, not only claimed: a job claimed as the signal arrives is released without starting.
    await wait_until(lambda: _exists(started), timeout=20)
    proc.send_signal(signal.SIGTERM)
    release.touch()
    assert await asyncio.to_thread(proc.wait, 30) == 0
    assert await _status(queue, job_id) == "completed"


async def test_worker_processes_sigterm_ends_the_process_despite_a_hung_sync_job(
    db_url: str, queue: JobQueue, spawn, tmp_path: Path
) -> None:
    job_id = await queue.enqueue(jobs.blocking_sleep, {"seconds": 600})  # a sync job that will not return
    proc = spawn(db_url, shutdown_timeout=0.3)
    await wait_until(lambda: _running_by_someone(queue, job_id), timeout=20)
    proc.send_signal(signal.SIGTERM)
    # The thread cannot be stopped; the process still ends, after the final flush and release.
    assert await asyncio.to_thread(proc.wait, 30) == 0
    job = await queue.get_job(job_id)
    assert job is not None and job.status == "pending" and job.attempts == 0
    log = (tmp_path / "worker-0.log").read_text()
    assert "1 abandoned job thread(s) still running, left to end with the process: dbjobq-job-1" in log


@pytest.mark.databases("postgresql")
async def test_worker_processes_survive_postgres_restart(
    db_url: str, queue: JobQueue, storage: SQLAlchemyStorage, spawn, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    count = 3000
    ids = await queue.enqueue_many(jobs.log_run, [{"n": n, "log": str(log)} for n in range(count)])
    spawn(db_url, concurrency=5, lease_timeout=5.0, heartbeat_interval=0.5)
    spawn(db_url, concurrency=5, lease_timeout=5.0, heartbeat_interval=0.5)
    await wait_until(lambda: _lines(log, 300), timeout=30)
    await _restart_postgres(storage)
    await storage.engine.dispose()  # our own pool's connections died with the server
    await wait_until(lambda: _all_completed(queue, count), timeout=120, interval=0.2)
    runs = Counter(log.read_text().split())
    assert set(runs) == {str(n) for n in range(count)}  # every job ran; none was lost
    assert len(await queue.get_completed_jobs()) == len(ids)


async def _restart_postgres(storage: SQLAlchemyStorage) -> None:
    """Restart the server when allowed (CI), else drop every connection to the test database."""
    if os.environ.get("DBJOBQ_TEST_PG_RESTART") == "1":
        version = sorted(os.listdir("/etc/postgresql"))[-1]
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True, timeout=60
        )
        return
    async with storage.engine.connect() as conn:
        await conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )


async def _running_by_someone(queue: JobQueue, job_id: str) -> bool:
    return await _status(queue, job_id) == "running"


async def _is_completed(queue: JobQueue, job_id: str) -> bool:
    return await _status(queue, job_id) == "completed"


async def _exists(path: Path) -> bool:
    return path.exists()


async def _lines(path: Path, count: int) -> bool:
    return path.exists() and len(path.read_text().split()) >= count


async def _all_completed(queue: JobQueue, count: int) -> bool:
    try:
        return len(await queue.get_completed_jobs()) == count
    except Exception:
        return False  # the server may still be coming back
