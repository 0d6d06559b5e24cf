"""Job types are data: a stored type never makes a process import a module, and a worker claims only the
job types it registered (a job of another type stays pending for a worker that knows it)."""

from __future__ import annotations

import asyncio
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dbjobq import JobQueue, Worker, job
from dbjobq.storage import SQLAlchemyStorage
from tests.core import jobs
from tests.waiting import wait_until


@pytest.fixture
def planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """An importable module whose import writes a file (and registers a job): its name and that file."""
    name = f"planted_{uuid.uuid4().hex[:8]}"
    witness = tmp_path / "imported"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            f"""
            import pathlib
            pathlib.Path({str(witness)!r}).write_text("imported")
            from dbjobq import job

            @job()
            def run(data):
                return "ran"
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name, witness
    sys.modules.pop(name, None)


async def _burst(queue: JobQueue, **options: Any) -> Worker:
    worker = Worker(queue, poll_interval=0.05, **options)
    await asyncio.wait_for(worker.run(burst=True), timeout=60)
    return worker


async def test_job_types_a_stored_type_never_imports_its_module(queue: JobQueue, planted: tuple[str, Path]) -> None:
    name, witness = planted
    worker_job = await queue.enqueue(f"{name}.run")
    await _burst(queue)
    # A worker does not claim it (the type is not registered here), so nothing runs or imports.
    assert (await queue.get_job(worker_job)).status == "pending"  # type: ignore[union-attr]

    # dequeue() claims any type; executing an unknown one fails it with the "register it" message.
    claimed = await queue.dequeue()
    assert claimed is not None and claimed.id == worker_job
    await queue.execute_job(claimed)
    failed = await queue.get_job(worker_job)
    assert failed is not None and failed.status == "failed"
    assert failed.error is not None and f"Unknown job type '{name}.run'" in failed.error and "--import" in failed.error

    assert not witness.exists() and name not in sys.modules  # never imported, by either path


async def test_job_types_a_worker_claims_only_its_registered_types(queue: JobQueue) -> None:
    other = f"tests.other_fleet_{uuid.uuid4().hex[:8]}.work"
    foreign = await queue.enqueue(other, {"n": 1}, priority=10)  # first in claim order
    mine = [await queue.enqueue(jobs.add, {"a": i, "b": 1}) for i in range(3)]
    await _burst(queue)
    assert [(await queue.get_job(i)).result for i in mine] == [1, 2, 3]  # type: ignore[union-attr]
    waiting = await queue.get_job(foreign)
    assert waiting is not None and (waiting.status, waiting.attempts, waiting.error) == ("pending", 0, None)

    # A worker of the fleet that registered the type runs it.
    @job(name=other)
    def work(data: dict[str, Any]) -> int:
        return int(data["n"]) * 7

    await _burst(queue)
    done = await queue.get_job(foreign)
    assert done is not None and (done.status, done.result) == ("completed", 7)


async def test_job_types_workers_record_their_types_and_orphans_are_counted(
    storage: SQLAlchemyStorage, queue: JobQueue
) -> None:
    typo = "tests.core.jobs.ad"
    await queue.enqueue(typo, {})
    await queue.enqueue(typo, {})
    await queue.enqueue(jobs.add, {"a": 1, "b": 2}, delay=3600)  # pending, and a type a live worker knows
    assert await queue.orphan_job_types() == {typo: 2, "tests.core.jobs.add": 1}  # no live worker at all

    worker = Worker(queue, poll_interval=0.05)
    await worker.start()
    try:
        [info] = await queue.list_workers()
        assert info.job_types is not None and "tests.core.jobs.add" in info.job_types and typo not in info.job_types
        assert await queue.orphan_job_types() == {typo: 2}
    finally:
        await worker.stop()
    # An older worker that recorded no types may run anything: nothing is reported as orphaned.
    await storage.register_worker("old-worker", queues=None, concurrency=1)
    assert await queue.orphan_job_types() == {}


async def test_job_types_registered_after_the_worker_started_are_claimed(queue: JobQueue) -> None:
    late = f"tests.late_{uuid.uuid4().hex[:8]}.work"
    job_id = await queue.enqueue(late, {})
    worker = Worker(queue, poll_interval=0.05)
    await worker.start()
    try:
        job(name=late)(lambda data: "late")
        await queue.enqueue(jobs.add, {"a": 0, "b": 0})  # a wake-up
        await wait_until(lambda: _completed(queue, job_id), timeout=20)
    finally:
        await worker.stop()


async def _completed(queue: JobQueue, job_id: str) -> bool:
    found = await queue.get_job(job_id)
    return found is not None and found.status == "completed"
