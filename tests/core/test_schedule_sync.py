"""Schedules declared in code are synced when workers start: added, changed, removed (only those from
code), and several workers starting at once write one result. On every database."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

import pytest

from dbjobq import JobQueue, Schedule, Worker
from dbjobq import declarations as decl
from dbjobq.storage import SQLAlchemyStorage
from tests.core import jobs


@pytest.fixture(autouse=True)
def only_these_declarations() -> Iterator[None]:
    saved = dict(decl._declared)
    decl._declared.clear()
    yield
    decl._declared.clear()
    decl._declared.update(saved)


def declare(settings: dict[str, dict[str, object]]) -> list[decl.Declaration]:
    found = decl.parse(settings, "SCHEDULES")
    decl._declared.clear()
    decl.declare(*found)
    return found


NIGHTLY = {"job": jobs.add, "cron": "0 3 * * *", "tz": "Europe/Paris", "data": {"a": 1, "b": 2}}
EVERY_15 = {"job": "tests.core.jobs.noop", "every": "15m", "queue": "low"}


def by_id(schedules: list[Schedule]) -> dict[str, Schedule]:
    return {s.id: s for s in schedules}


async def test_schedule_sync_adds_declared_schedules(queue: JobQueue) -> None:
    declare({"nightly": NIGHTLY, "refresh": EVERY_15})
    now = 1_800_000_100.0
    result = await decl.sync(queue.storage, now=now)
    assert sorted(result.added) == ["nightly", "refresh"]
    stored = by_id(await queue.list_schedules())
    nightly, refresh = stored["nightly"], stored["refresh"]
    assert (nightly.job_type, nightly.job_data, nightly.tz, nightly.origin) == (
        "tests.core.jobs.add", {"a": 1, "b": 2}, "Europe/Paris", "code"
    )
    assert nightly.enabled and nightly.next_run > now
    assert (refresh.schedule_type, refresh.schedule_expression, refresh.queue) == ("interval", "900", "low")
    assert refresh.next_run == 1_800_000_900.0  # aligned to the epoch: every worker computes the same

    again = await decl.sync(queue.storage, now=now + 5)
    assert (again.added, again.changed, sorted(again.unchanged)) == ([], [], ["nightly", "refresh"])


async def test_schedule_sync_changes_what_changed_and_keeps_enabled(queue: JobQueue) -> None:
    declare({"nightly": NIGHTLY, "refresh": EVERY_15})
    await decl.sync(queue.storage, now=1_800_000_100.0)
    await queue.set_schedule_enabled("refresh", False)  # the operator pauses it: code does not undo that
    before = by_id(await queue.list_schedules())

    declare({"nightly": {**NIGHTLY, "data": {"a": 5, "b": 5}}, "refresh": {**EVERY_15, "every": "1h"}})
    result = await decl.sync(queue.storage, now=1_800_000_200.0)
    assert sorted(result.changed) == ["nightly", "refresh"]
    after = by_id(await queue.list_schedules())
    assert after["nightly"].job_data == {"a": 5, "b": 5}
    assert after["nightly"].next_run == before["nightly"].next_run  # same timetable: same next run
    assert after["refresh"].schedule_expression == "3600" and after["refresh"].next_run == 1_800_003_600.0
    assert after["refresh"].enabled is False


async def test_schedule_sync_removes_only_schedules_from_code(
    queue: JobQueue, caplog: pytest.LogCaptureFixture
) -> None:
    await queue.storage.create_schedule(
        Schedule("by-hand", "tests.core.jobs.add", {}, "interval", "60", time.time() + 60)
    )
    declare({"nightly": NIGHTLY, "refresh": EVERY_15, "gone": {"job": "tests.nowhere.job", "every": 60}})
    await decl.sync(queue.storage)

    declare({"refresh": EVERY_15})
    with caplog.at_level(logging.WARNING, logger="dbjobq"):
        result = await decl.sync(queue.storage)
    assert result.removed == ["nightly"]  # its job type is registered here: no longer declared on purpose
    assert result.stranded == ["gone"]  # its job type is unknown here: left, and logged
    assert "Schedule gone came from code but is not declared in this worker" in caplog.text
    assert sorted(by_id(await queue.list_schedules())) == ["by-hand", "gone", "refresh"]


async def test_schedule_sync_never_overwrites_an_operators_schedule(queue: JobQueue) -> None:
    await queue.storage.create_schedule(Schedule("nightly", "tests.core.jobs.noop", {}, "interval", "60", 1.0))
    declare({"nightly": NIGHTLY})
    result = await decl.sync(queue.storage)
    assert result.kept == ["nightly"]
    kept = await queue.get_schedule("nightly")
    assert kept is not None and (kept.job_type, kept.origin) == ("tests.core.jobs.noop", "operator")


async def test_schedule_sync_compare_and_set_loses_to_a_concurrent_change(storage: SQLAlchemyStorage) -> None:
    declare({"refresh": EVERY_15})
    await decl.sync(storage)
    stale = await storage.get_schedule("refresh")
    assert stale is not None and stale.updated_at is not None
    await storage.update_schedule_next_run("refresh", time.time() + 10, None)  # a worker fired it meanwhile
    stale.schedule_expression = "120"
    assert await storage.update_schedule(stale, if_updated_at=stale.updated_at) is False
    assert await storage.delete_schedule("refresh", if_updated_at=stale.updated_at) is False
    declare({"refresh": {**EVERY_15, "every": 120}})
    assert (await decl.sync(storage)).changed == ["refresh"]  # a sync reads again and applies it


async def test_schedule_sync_three_workers_starting_at_once_write_one_result(db_url: str, queue: JobQueue) -> None:
    # Version 1 of the code ran once; version 2 changes one schedule, drops one and adds one, and three
    # workers of version 2 start at the same moment, each with its own connections.
    await queue.storage.create_schedule(
        Schedule("by-hand", "tests.core.jobs.add", {}, "interval", "60", time.time() + 60)
    )
    declare({"nightly": NIGHTLY, "refresh": EVERY_15})
    await decl.sync(queue.storage)
    declare({"nightly": {**NIGHTLY, "cron": "0 4 * * *"}, "hourly": {"job": jobs.noop, "every": 3600}})

    storages = [SQLAlchemyStorage(db_url) for _ in range(3)]
    await asyncio.gather(*(s.initialize() for s in storages))
    workers = [Worker(JobQueue(s), poll_interval=0.05, schedule_poll_interval=3600) for s in storages]
    try:
        await asyncio.gather(*(w.start() for w in workers))
    finally:
        await asyncio.gather(*(w.stop() for w in workers))
        await asyncio.gather(*(s.close() for s in storages))

    stored = by_id(await queue.list_schedules())
    assert sorted(stored) == ["by-hand", "hourly", "nightly"]
    assert stored["nightly"].schedule_expression == "0 4 * * *" and stored["nightly"].origin == "code"
    assert stored["hourly"].next_run % 3600 == 0 and stored["by-hand"].origin == "operator"
    # The database already agrees with the code: one more start changes nothing.
    result = await decl.sync(queue.storage)
    assert (result.added, result.changed, result.removed) == ([], [], [])
