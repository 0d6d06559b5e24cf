"""Snooze, concurrency limits and rate limits, on every database: in one process, and with three
worker processes claiming at once."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from dbjobq import JobQueue, Snooze, Worker, job, registry
from dbjobq.flow import FlowLimit, parse_rate
from dbjobq.storage import SQLAlchemyStorage
from dbjobq.storage.schema import jobs
from tests.core import flow_jobs
from tests.waiting import stop_processes, wait_until


@pytest.fixture
def limits() -> Iterator[None]:
    """Register the flow-controlled test jobs for this test only (a worker claims every flow-controlled
    type registered in its process apart from the others)."""
    registry._registry.update(flow_jobs.SPECS)
    yield
    for name in flow_jobs.SPECS:
        registry._registry.pop(name, None)


def _max_overlap(runs: list[dict[str, Any]], key: str | None = None) -> int:
    """The most runs (of ``key``) in progress at once, from their start and end lines."""
    events = sorted(
        (line["t"], 1 if line["event"] == "start" else -1)
        for line in runs
        if key is None or line["key"] == key
    )
    # At equal times an end comes before a start: the slot was free by then.
    events.sort(key=lambda e: (e[0], e[1]))
    now = most = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


# -- declaring ------------------------------------------------------------------------------------
def test_flow_declarations_are_checked() -> None:
    assert parse_rate("100/m").count == 100 and parse_rate("100/m").period == 60
    assert str(parse_rate(" 5 / h ")) == "5/h"
    for bad in ("100", "0/s", "10/d", "ten/s"):
        with pytest.raises(ValueError, match="rate_limit must look like"):
            job(name="flow.bad", rate_limit=bad)
    with pytest.raises(ValueError, match="concurrency_limit"):
        job(name="flow.bad", concurrency_limit=0)
    with pytest.raises(ValueError, match="concurrency_key needs concurrency_limit"):
        job(name="flow.bad", concurrency_key=lambda data: data["k"])
    with pytest.raises(ValueError, match="Snooze"):
        Snooze(-1)


async def test_flow_concurrency_key_is_stored_at_enqueue(queue: JobQueue, limits: None) -> None:
    keyed = await queue.enqueue("flow.per_key", {"key": "tenant-1"})
    typed = await queue.enqueue("flow.limited", {})
    plain = await queue.enqueue("flow.free", {})
    assert [(await queue.get_job(i)).flow_key for i in (keyed, typed, plain)] == ["tenant-1", "", None]  # type: ignore[union-attr]


# -- snooze ---------------------------------------------------------------------------------------
async def test_flow_snooze_goes_back_to_pending_without_an_attempt(
    storage: SQLAlchemyStorage, queue: JobQueue, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    job_id = await queue.enqueue("flow.snoozer", {"marker": str(marker), "seconds": 30})
    before = time.time()
    await Worker(queue, poll_interval=0.05).run(burst=True)  # runs it once: it snoozes for 30 s
    snoozed = await queue.get_job(job_id)
    assert snoozed is not None and snoozed.status == "pending"
    assert snoozed.attempts == 0 and snoozed.error is None and marker.exists()
    assert snoozed.execute_at is not None and snoozed.execute_at.timestamp() >= before + 29
    # Make it due now, as if the 30 s had passed, and run it again: it completes on its first attempt.
    async with storage.engine.begin() as conn:
        await conn.execute(update(jobs).where(jobs.c.id == job_id).values(execute_at=time.time()))
    await Worker(queue, poll_interval=0.05).run(burst=True)
    done = await queue.get_job(job_id)
    assert done is not None and done.status == "completed" and done.result == "woke up"
    assert done.attempts == 1 and done.error is None


async def test_flow_snooze_in_eager_mode_leaves_the_job_pending(storage: SQLAlchemyStorage, tmp_path: Path) -> None:
    eager = JobQueue(storage, eager=True)
    job_id = await eager.enqueue("flow.snoozer", {"marker": str(tmp_path / "m"), "seconds": 60})
    job_ = await eager.get_job(job_id)
    assert job_ is not None and job_.status == "pending" and job_.attempts == 0


# -- concurrency limits ---------------------------------------------------------------------------
async def test_flow_concurrency_claims_racing_never_exceed_the_limit(
    db_url: str, queue: JobQueue, limits: None
) -> None:
    await queue.enqueue_many("flow.limited", [{"n": n} for n in range(10)])
    stores = [SQLAlchemyStorage(db_url) for _ in range(5)]
    limit = FlowLimit.of(flow_jobs.SPECS["flow.limited"])
    try:
        await asyncio.gather(*(store.initialize() for store in stores))
        claims = await asyncio.gather(
            *(s.claim_limited_jobs(limit, 10, worker_id=f"w{n}", lease_timeout=1.0) for n, s in enumerate(stores))
        )
    finally:
        await asyncio.gather(*(store.close() for store in stores))
    assert sum(len(c.jobs) for c in claims) == 2  # five claimers at once, two slots
    assert await queue.count_jobs("running") == 2
    # A worker that dies keeps its slots until its lease expires and recovery requeues its jobs.
    again = await queue.storage.claim_limited_jobs(limit, 10, worker_id="other", lease_timeout=30)
    assert again.jobs == []

    async def recovered() -> bool:  # no retries left: the two are failed, and their slots free
        return sum(await queue.storage.recover_expired_leases()) == 2

    await wait_until(recovered, timeout=10)
    freed = await queue.storage.claim_limited_jobs(limit, 10, worker_id="other", lease_timeout=30)
    assert len(freed.jobs) == 2


async def test_flow_concurrency_key_limits_each_key(queue: JobQueue, limits: None, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    items = [{"key": f"k{n % 3}", "n": n, "log": str(log), "sleep": 0.05} for n in range(12)]
    await queue.enqueue_many("flow.per_key", items)
    await Worker(queue, poll_interval=0.02, concurrency=10).run(burst=True)
    runs = flow_jobs.read_log(log)
    assert len([r for r in runs if r["event"] == "end"]) == 12
    assert {_max_overlap(runs, f"k{k}") for k in range(3)} == {1}  # one at a time per key
    assert _max_overlap(runs) > 1  # while different keys ran side by side


@pytest.mark.slow
async def test_flow_concurrency_limit_across_three_worker_processes(
    db_url: str, queue: JobQueue, spawn: Any, tmp_path: Path, limits: None
) -> None:
    log = tmp_path / "runs.log"
    workers = [spawn(db_url, flow=True, concurrency=4) for _ in range(3)]

    async def all_registered() -> bool:
        return len(await queue.list_workers()) == 3

    await wait_until(all_registered, timeout=60)
    await queue.enqueue_many("flow.limited", [{"n": n, "log": str(log), "sleep": 0.3} for n in range(10)])
    await queue.enqueue_many("flow.free", [{"n": n, "log": str(log)} for n in range(40)])

    async def all_done() -> bool:
        return await queue.count_jobs("completed") == 50

    await wait_until(all_done, timeout=120)
    assert await stop_processes(workers) == [0] * len(workers)
    limited_runs = await queue.list_jobs(job_type="flow.limited")
    assert len(limited_runs) == 10 and len({j.worker_id for j in limited_runs}) > 1
    spans = sorted((j.started_at.timestamp(), j.finished_at.timestamp()) for j in limited_runs)  # type: ignore[union-attr]
    # At most two ran at once, by the database's start and finish times, and two did run together.
    overlap = max(sum(1 for s, f in spans if s <= start < f) for start, _ in spans)
    assert overlap == 2, spans
    # The other type kept flowing: every free job finished before the limited ones were half done.
    free = await queue.list_jobs(job_type="flow.free")
    last_free = max(j.finished_at.timestamp() for j in free)  # type: ignore[union-attr]
    assert last_free < sorted(f for _, f in spans)[4]


# -- rate limits ----------------------------------------------------------------------------------
@pytest.mark.slow
async def test_flow_rate_limit_across_three_worker_processes(
    db_url: str, queue: JobQueue, spawn: Any, tmp_path: Path, limits: None
) -> None:
    workers = [spawn(db_url, flow=True, concurrency=10) for _ in range(3)]

    async def all_registered() -> bool:
        return len(await queue.list_workers()) == 3

    await wait_until(all_registered, timeout=60)
    count = 110
    await queue.enqueue_many("flow.rated", [{"n": n, "log": str(tmp_path / "runs.log")} for n in range(count)])

    async def all_done() -> bool:
        return await queue.count_jobs("completed") == count

    await wait_until(all_done, timeout=60)
    assert await stop_processes(workers) == [0] * len(workers)
    rated = await queue.list_jobs(job_type="flow.rated")
    starts = sorted(j.started_at.timestamp() for j in rated)  # type: ignore[union-attr]
    per_window = Counter(math.floor(t) for t in starts)
    assert max(per_window.values()) <= 20, per_window  # never more than 20 starts in a window of 1 s
    assert len({j.worker_id for j in rated}) > 1
    # ...and still close to 20/s: the full windows between the first and the last are (nearly) full.
    full = [per_window[w] for w in range(min(per_window) + 1, max(per_window))]
    assert len(full) >= 4 and sum(full) / len(full) >= 17, per_window


async def test_flow_rate_limit_claims_stop_at_the_window_and_say_when_it_opens(
    queue: JobQueue, limits: None
) -> None:
    await queue.enqueue_many("flow.rated", [{"n": n} for n in range(30)])
    limit = FlowLimit.of(flow_jobs.SPECS["flow.rated"])
    storage = queue.storage
    while True:  # start at the beginning of a window, so that the whole test fits in it
        now = time.time()
        if now - math.floor(now) < 0.5:
            break
        await asyncio.sleep(0.05)
    first = await storage.claim_limited_jobs(limit, 15, worker_id="a", lease_timeout=30)
    second = await storage.claim_limited_jobs(limit, 15, worker_id="b", lease_timeout=30)
    assert (len(first.jobs), len(second.jobs)) == (15, 5)
    assert second.wake_at == math.floor(now) + 1
    third = await storage.claim_limited_jobs(limit, 15, worker_id="c", lease_timeout=30)
    assert third.jobs == [] and third.wake_at == math.floor(now) + 1
