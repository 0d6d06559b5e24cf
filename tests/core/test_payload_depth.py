"""Deep nesting is refused at enqueue with a clear TypeError (never a RecursionError); nothing is written."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from dbjobq import JobQueue
from dbjobq.models import Schedule
from dbjobq.serialization import MAX_DEPTH, dumps_payload, dumps_result, text_depth, value_depth
from dbjobq.storage import SQLAlchemyStorage
from tests.core import jobs


def nested(levels: int) -> dict[str, Any]:
    """A dict ``levels`` deep (itself included), built without recursion."""
    root: dict[str, Any] = {}
    current = root
    for _ in range(levels - 1):
        current["a"] = {}
        current = current["a"]
    current["leaf"] = 1
    return root


def nested_text(levels: int) -> str:
    return '{"a":' * (levels - 1) + '{"leaf":[1,"]]]{{{"]}' + "}" * (levels - 1)


def test_payload_depth_counts() -> None:
    assert value_depth(nested(1)) == 1 and value_depth({"a": [1, [2]]}) == 3 and value_depth(5) == 0
    assert text_depth(nested_text(3)) == 4  # the list inside the leaf; brackets in strings do not count
    assert text_depth(json.dumps(nested(200))) == 200
    cycle: dict[str, Any] = {}
    cycle["self"] = cycle
    assert value_depth(cycle) > MAX_DEPTH


@pytest.mark.parametrize(
    "data",
    [nested(MAX_DEPTH + 1), nested(255), nested(100_000), nested_text(256), nested_text(100_000)],
    ids=["dict-65", "dict-255", "dict-100k", "text-256", "text-100k"],
)
async def test_payload_depth_too_deep_is_refused_and_writes_nothing(queue: JobQueue, data: Any) -> None:
    with pytest.raises(TypeError, match=f"nested more than {MAX_DEPTH} levels deep"):
        await queue.enqueue(jobs.add, data)
    with pytest.raises(TypeError, match="nested more than"):
        await queue.enqueue_many(jobs.add, [{"a": 1}, data])
    assert await queue.list_jobs() == []


async def test_payload_depth_at_the_limit_round_trips(queue: JobQueue) -> None:
    job_id = await queue.enqueue(jobs.add, nested(MAX_DEPTH))
    text_id = await queue.enqueue(jobs.add, json.dumps(nested(MAX_DEPTH)))  # type: ignore[arg-type]
    for an_id in (job_id, text_id):
        job = await queue.get_job(an_id)
        assert job is not None and job.data == nested(MAX_DEPTH)


async def test_payload_depth_schedule_data_is_checked(storage: SQLAlchemyStorage) -> None:
    schedule = Schedule("deep", "tests.core.jobs.add", nested(MAX_DEPTH + 1), "interval", "60", time.time() + 60)
    with pytest.raises(TypeError, match="nested more than"):
        await storage.create_schedule(schedule)
    assert await storage.list_schedules() == []


def test_payload_depth_results_and_text_never_raise_recursion_error() -> None:
    deep_list: list[Any] = []
    current = deep_list
    for _ in range(100_000):
        current.append([])
        current = current[0]
    with pytest.raises(TypeError, match="Job result is nested more than"):
        dumps_result(deep_list)
    with pytest.raises(TypeError, match="Job result is nested more than"):
        dumps_result(nested(MAX_DEPTH + 1))
    assert dumps_result(nested(MAX_DEPTH)) == json.dumps(nested(MAX_DEPTH), separators=(",", ":"))
    with pytest.raises(TypeError, match="Job data is nested more than"):
        dumps_payload("[" * 1_000_000)
