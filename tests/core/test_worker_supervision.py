"""The worker's parts: supervised side loops, the shutdown order, the wrap_sync seam."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from dbjobq import JobQueue, Worker
from dbjobq.errors import WorkerError
from dbjobq.storage import Outcome, SQLAlchemyStorage
from dbjobq.worker import coordinator
from tests.core import jobs
from tests.waiting import wait_until

LOOPS = ("fetch", "flush", "heartbeat", "maintenance", "scheduler")


def _break_loop(worker: Worker, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the side loop ``name`` of ``worker`` raise as soon as it starts."""

    async def broken(*_args: Any) -> None:
        await asyncio.sleep(0.05)
        raise RuntimeError(f"{name} exploded")

    parts = {"fetch": worker._fetcher, "flush": worker._outcomes, "heartbeat": worker._heartbeat,
             "maintenance": worker._maintenance}
    if name == "scheduler":
        monkeypatch.setattr(coordinator, "run_scheduler", broken)
    else:
        monkeypatch.setattr(parts[name], "run", broken)


@pytest.mark.parametrize("loop", LOOPS)
async def test_worker_side_loop_death_stops_a_burst_run_with_an_error(
    queue: JobQueue, tmp_path: Path, loop: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A job that would keep the burst going for a minute: the run must end because the loop died.
    job_id = await queue.enqueue(jobs.wait_for_file, {"path": str(tmp_path / "never")})
    worker = Worker(queue, poll_interval=0.05, heartbeat_interval=0.05, lease_timeout=5, shutdown_timeout=0.1)
    _break_loop(worker, loop, monkeypatch)
    with pytest.raises(WorkerError, match=f"The worker's {loop} loop died .*{loop} exploded"):
        await asyncio.wait_for(worker.run(burst=True), timeout=30)
    assert not worker.is_running()
    [record] = [r for r in caplog.records if getattr(r, "action", None) == "loop_died"]
    assert record.levelname == "ERROR" and record.exc_info is not None and record.loop == loop  # type: ignore[attr-defined]
    job = await queue.get_job(job_id)
    assert job is not None and job.status == "pending"  # released (or never claimed), not left running


async def test_worker_side_loop_death_stops_a_started_worker(queue: JobQueue, monkeypatch: pytest.MonkeyPatch) -> None:
    worker = Worker(queue, poll_interval=0.05)
    _break_loop(worker, "maintenance", monkeypatch)
    await worker.start()

    async def stopped() -> bool:
        return not worker.is_running()

    await wait_until(stopped)
    await worker.stop()  # idempotent after it stopped itself


class _Recording(SQLAlchemyStorage):
    """A real storage that records the order of the worker's calls."""

    calls: list[str]

    def _record(self, name: str) -> None:
        self.calls.append(name)

    async def record_outcomes(self, outcomes: Sequence[Outcome]) -> set[str]:
        self._record("record_outcomes")
        return await super().record_outcomes(outcomes)

    async def release_jobs(self, claims: Sequence[tuple[str, str]]) -> int:
        self._record("release_jobs")
        return await super().release_jobs(claims)

    async def extend_leases(self, worker_id: str, lease_timeout: float) -> set[str]:
        self._record("extend_leases")
        return await super().extend_leases(worker_id, lease_timeout)

    async def unregister_worker(self, worker_id: str) -> None:
        self._record("unregister_worker")
        await super().unregister_worker(worker_id)


async def test_worker_stop_is_the_ordered_shutdown(db_url: str, storage: SQLAlchemyStorage, tmp_path: Path) -> None:
    recording = _Recording(db_url)
    recording.calls = []
    await recording.initialize()
    try:
        queue = JobQueue(recording)
        slow = await queue.enqueue(jobs.wait_for_file, {"path": str(tmp_path / "never")})
        worker = Worker(queue, poll_interval=0.05, heartbeat_interval=0.05, lease_timeout=5, flush_interval=60)
        await worker.start()

        async def running() -> bool:
            job = await queue.get_job(slow)
            return job is not None and job.status == "running"

        await wait_until(running)
        await queue.enqueue(jobs.add, {"a": 1, "b": 1})  # finishes; its outcome waits for the flush
        await wait_until(lambda: _true_when(worker.stats.completed == 1))
        recording.calls.clear()
        await worker.stop(timeout=0.1)
        calls = recording.calls
        # final flush -> release the interrupted job -> unregister; no heartbeat once closing
        assert calls.index("record_outcomes") < calls.index("release_jobs") < calls.index("unregister_worker")
        assert "extend_leases" not in calls[calls.index("release_jobs") :]
        job = await queue.get_job(slow)
        assert job is not None and job.status == "pending" and job.attempts == 0
    finally:
        await recording.close()


async def _true_when(value: bool) -> bool:
    return value


async def test_worker_wrap_sync_wraps_each_sync_job_in_its_thread(queue: JobQueue) -> None:
    seen: list[tuple[str, bool]] = []

    def wrap(call: Callable[[], Any]) -> Any:
        seen.append(("before", threading.current_thread() is threading.main_thread()))
        try:
            return call()
        finally:
            seen.append(("after", threading.current_thread() is threading.main_thread()))

    sync_id = await queue.enqueue(jobs.add, {"a": 2, "b": 3})
    async_id = await queue.enqueue(jobs.noop, {})
    worker = Worker(queue, poll_interval=0.05, wrap_sync=wrap)
    await asyncio.wait_for(worker.run(burst=True), timeout=30)
    assert seen == [("before", False), ("after", False)]  # once, in the job's thread; async jobs untouched
    added = await queue.get_job(sync_id)
    assert added is not None and added.result == 5
    noop = await queue.get_job(async_id)
    assert noop is not None and noop.status == "completed"


WORKER_PACKAGE = Path(__file__).resolve().parents[2] / "dbjobq_core" / "src" / "dbjobq" / "worker"


@pytest.mark.parametrize("path", sorted(WORKER_PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_worker_layout_parts_stay_small(path: Path) -> None:
    """Issue 12: no part of the worker above ~350 lines (400 hard, as the storage's modules)."""
    assert len(path.read_text().splitlines()) <= 400, f"{path.name}: split it into a named part"
