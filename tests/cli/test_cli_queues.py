"""``dbjobq queues list|pause|resume`` against each database."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import click
import pytest
from click.testing import Result

from dbjobq.cli.queues import parse_until

Invoke = Callable[..., Result]


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def _queues(invoke: Invoke) -> dict[str, dict[str, object]]:
    return {q["name"]: q for q in json.loads(ok(invoke("queues", "list", "--json")).stdout)}


def test_cli_queues_pause_list_resume(invoke: Invoke, queue_name: str) -> None:
    ok(invoke("enqueue", "some.job", "{}", "--queue", queue_name))
    assert "Paused queue" in ok(invoke("queues", "pause", queue_name)).stdout
    found = _queues(invoke)[queue_name]
    assert (found["paused"], found["paused_until"], found["pending"], found["running"]) == (True, None, 1, 0)
    table = ok(invoke("queues", "list")).stdout
    assert queue_name in table and "paused" in table
    assert "Resumed queue" in ok(invoke("queues", "resume", queue_name)).stdout
    assert _queues(invoke)[queue_name]["paused"] is False


def test_cli_queues_pause_until(invoke: Invoke, queue_name: str) -> None:
    before = time.time()
    assert " until " in ok(invoke("queues", "pause", queue_name, "--until", "2h")).stdout
    until = _queues(invoke)[queue_name]["paused_until"]
    assert isinstance(until, float) and before + 7200 - 1 <= until <= time.time() + 7200
    bad = invoke("queues", "pause", queue_name, "--until", "soonish")
    assert bad.exit_code != 0 and "neither a duration" in bad.output


def test_cli_queues_parse_until() -> None:
    assert parse_until("30m", now=1000.0) == 2800.0
    assert parse_until("2030-01-01T00:00") == parse_until("2030-01-01T00:00+00:00") == 1893456000.0
    with pytest.raises(click.BadParameter):
        parse_until("later")


def test_cli_job_shows_progress(invoke: Invoke, queue_name: str, db_url: str) -> None:
    import asyncio

    from dbjobq.storage import SQLAlchemyStorage

    job_id = ok(invoke("enqueue", "t.job", "--queue", queue_name)).stdout.strip()

    async def report() -> None:
        async with SQLAlchemyStorage(db_url) as storage:
            [claimed] = await storage.claim_jobs(1, worker_id="w", lease_timeout=60, queues=[queue_name])
            progress = {"fraction": 0.45, "message": "9 of 20"}
            await storage.set_job_meta(job_id, claimed.lease_token or "", {"progress": progress})

    asyncio.run(report())
    assert "45% (9 of 20)" in ok(invoke("job", job_id)).stdout
    shown = json.loads(ok(invoke("job", job_id, "--json")).stdout)
    assert shown["meta"]["progress"] == {"fraction": 0.45, "message": "9 of 20"}
