"""Each sub-command in-process (click's runner) against each database."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import update

from dbjobq import JobQueue
from dbjobq.storage import SQLAlchemyStorage
from dbjobq.storage.schema import jobs

Invoke = Callable[..., Result]


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def jobs_of(invoke: Invoke, queue_name: str) -> dict[str, dict[str, object]]:
    return {job["id"]: job for job in json.loads(ok(invoke("jobs", "--queue", queue_name, "--json")).stdout)}


def test_cli_enqueue_applies_options(invoke: Invoke, queue_name: str) -> None:
    before = time.time()
    job_id = ok(
        invoke(
            "enqueue",
            "some.job",
            '{"a": [1, 2]}',
            "--queue",
            queue_name,
            "--priority",
            "7",
            "--delay",
            "1h",
            "--max-retries",
            "2",
        )
    ).stdout.strip()
    job = json.loads(ok(invoke("job", job_id, "--json")).stdout)
    assert job["type"] == "some.job"
    assert job["data"] == {"a": [1, 2]}
    assert (job["queue"], job["priority"], job["max_retries"], job["status"]) == (queue_name, 7, 2, "pending")
    assert datetime.fromisoformat(job["execute_at"]).timestamp() >= before + 3600 - 1
    assert "lease_token" not in job


def test_cli_enqueue_depends_on_waits(invoke: Invoke, queue_name: str) -> None:
    first = ok(invoke("enqueue", "some.job", "--queue", queue_name, "--delay", "1h")).stdout.strip()
    second = ok(invoke("enqueue", "some.job", "--queue", queue_name)).stdout.strip()
    waiting = ok(
        invoke("enqueue", "some.job", "--queue", queue_name, "--depends-on", first, "--depends-on", second)
    ).stdout.strip()
    job = json.loads(ok(invoke("job", waiting, "--json")).stdout)
    assert (job["status"], job["depends_on"]) == ("waiting", [first, second])
    assert first in ok(invoke("job", waiting)).stdout
    assert [j["id"] for j in json.loads(ok(invoke("jobs", "--status", "waiting", "--json")).stdout)] == [waiting]
    bad = invoke("enqueue", "some.job", "--depends-on", "nope")
    assert bad.exit_code != 0 and "do not exist" in bad.output


def test_cli_enqueue_unique_key_prints_the_holder(invoke: Invoke, queue_name: str) -> None:
    first = ok(invoke("enqueue", "some.job", "--queue", queue_name, "--unique-key", "cli-k")).stdout.strip()
    again = ok(invoke("enqueue", "some.job", "--queue", queue_name, "--unique-key", "cli-k")).stdout.strip()
    assert again == first and len(jobs_of(invoke, queue_name)) == 1
    assert json.loads(ok(invoke("job", first, "--json")).stdout)["unique_key"] == "cli-k"
    assert "cli-k" in ok(invoke("job", first)).stdout


def test_cli_enqueue_reads_data_from_stdin_and_applies_job_defaults(invoke: Invoke, workdir: object) -> None:
    job_id = ok(invoke("enqueue", "cli_jobs.hello", "-", "--import", "cli_jobs", input='{"name": "bo"}')).stdout
    job = json.loads(ok(invoke("job", job_id.strip(), "--json")).stdout)
    assert job["data"] == {"name": "bo"}
    assert job["queue"] == "default"


def test_cli_jobs_table_and_filters(invoke: Invoke, queue_name: str) -> None:
    ids = [ok(invoke("enqueue", "t.job", "--queue", queue_name)).stdout.strip() for _ in range(3)]
    ok(invoke("cancel", ids[0]))
    table = ok(invoke("jobs", "--queue", queue_name)).stdout
    assert all(job_id in table for job_id in ids)
    assert "cancelled" in table
    assert "3 of 3 job(s)" in table
    pending = json.loads(ok(invoke("jobs", "--queue", queue_name, "--status", "pending", "--json")).stdout)
    assert [job["id"] for job in pending] == ids[1:]
    latest = json.loads(ok(invoke("jobs", "--queue", queue_name, "--limit", "1", "--json")).stdout)
    assert [job["id"] for job in latest] == ids[2:]  # the most recent ones by default
    oldest = json.loads(ok(invoke("jobs", "--queue", queue_name, "--limit", "1", "--offset", "0", "--json")).stdout)
    assert [job["id"] for job in oldest] == ids[:1]
    assert "No jobs" in ok(invoke("jobs", "--queue", queue_name + "x")).stdout


def test_cli_cancel_and_retry(invoke: Invoke, queue_name: str) -> None:
    job_id = ok(invoke("enqueue", "t.job", "--queue", queue_name)).stdout.strip()
    assert "cancelled" in ok(invoke("cancel", job_id)).stdout
    again = invoke("cancel", job_id)
    assert again.exit_code == 1
    assert "already cancelled" in again.stderr
    assert "pending again" in ok(invoke("retry", job_id)).stdout
    assert jobs_of(invoke, queue_name)[job_id]["status"] == "pending"
    refused = invoke("retry", job_id)
    assert refused.exit_code == 1
    assert "only failed or cancelled jobs can be retried" in refused.stderr


def test_cli_job_shows_every_field(invoke: Invoke, queue_name: str) -> None:
    job_id = ok(invoke("enqueue", "t.job", '{"k": "[bold]v[/bold]"}', "--queue", queue_name)).stdout.strip()
    shown = ok(invoke("job", job_id)).stdout
    for field in (
        "id",
        "type",
        "data",
        "status",
        "queue",
        "priority",
        "attempts",
        "max_retries",
        "created_at",
        "execute_at",
        "finished_at",
    ):
        assert field in shown
    assert "[bold]v[/bold]" in shown  # user text is never read as rich markup


def test_cli_stats_counts_by_queue_and_status(invoke: Invoke, queue_name: str) -> None:
    first = ok(invoke("enqueue", "t.job", "--queue", queue_name)).stdout.strip()
    ok(invoke("enqueue", "t.job", "--queue", queue_name))
    ok(invoke("cancel", first))
    figures = json.loads(ok(invoke("stats", "--json")).stdout)
    assert figures["counts"][queue_name] == {"cancelled": 1, "pending": 1}
    assert figures["oldest_pending_age_seconds"] is not None
    assert figures["jobs_per_second"] >= 0
    text = ok(invoke("stats")).stdout
    assert queue_name in text
    assert "Oldest due pending job: waiting" in text
    assert "jobs/s over the last minute" in text
    # No worker registered t.job (none runs at all): those pending jobs are listed as waiting for one.
    assert figures["pending_without_worker"].get("t.job", 0) >= 1
    assert "Pending jobs whose type no live worker registered: " in text and "t.job (" in text


def test_cli_stats_counts_jobs_claimed_ahead(invoke: Invoke, db_url: str, queue_name: str) -> None:
    async def claim(take_back: int) -> list[tuple[str, str]]:
        storage = SQLAlchemyStorage(db_url)
        await storage.initialize()
        try:
            await JobQueue(storage).enqueue_many("t.job", [{}] * 3, queue=queue_name)
            claimed = await storage.claim_jobs(3, worker_id="w", lease_timeout=60, queues=[queue_name])
            claims = [(job.id, job.lease_token or "") for job in claimed[:take_back]]
            assert len(await storage.mark_unstarted(claims)) == take_back
            return claims
        finally:
            await storage.close()

    async def start(claims: list[tuple[str, str]]) -> None:
        storage = SQLAlchemyStorage(db_url)
        await storage.initialize()
        try:
            assert len(await storage.mark_started(claims)) == len(claims)
        finally:
            await storage.close()

    claims = asyncio.run(claim(2))
    figures = json.loads(ok(invoke("stats", "--json")).stdout)
    assert figures["claimed"][queue_name] == 2
    assert figures["counts"][queue_name] == {"running": 3}  # the claimed ahead counted in running too
    text = ok(invoke("stats")).stdout
    assert "Claimed ahead, not started: " in text and "(counted in running)" in text

    asyncio.run(start(claims))
    figures = json.loads(ok(invoke("stats", "--json")).stdout)
    assert queue_name not in figures["claimed"]  # queues with none are left out
    assert figures["counts"][queue_name] == {"running": 3}


def test_cli_schedules_lifecycle(invoke: Invoke, queue_name: str) -> None:
    sid = f"s-{queue_name}"
    created = ok(
        invoke(
            "schedules",
            "add",
            sid,
            "cli_jobs.hello",
            "--every",
            "15m",
            "--data",
            '{"name": "x"}',
            "--queue",
            queue_name,
            "--priority",
            "3",
        )
    )
    assert "created" in created.stdout
    ok(invoke("schedules", "add", f"c-{queue_name}", "cli_jobs.hello", "--cron", "0 3 * * *"))
    listed = {s["id"]: s for s in json.loads(ok(invoke("schedules", "list", "--json")).stdout)}
    every = listed[sid]
    assert (every["schedule_type"], every["schedule_expression"], every["enabled"]) == (
        "interval",
        "900",
        True,
    )
    assert 890 < every["next_run"] - time.time() <= 900
    assert listed[f"c-{queue_name}"]["schedule_type"] == "cron"
    assert sid in ok(invoke("schedules", "list")).stdout

    ok(invoke("schedules", "disable", sid))
    assert sid not in [s["id"] for s in json.loads(ok(invoke("schedules", "list", "--enabled-only", "--json")).stdout)]
    ok(invoke("schedules", "enable", sid))

    job_id = ok(invoke("schedules", "run-now", sid)).stdout.strip()
    job = jobs_of(invoke, queue_name)[job_id]
    assert (job["type"], job["data"], job["priority"]) == ("cli_jobs.hello", {"name": "x"}, 3)

    ok(invoke("schedules", "delete", sid))
    ok(invoke("schedules", "delete", f"c-{queue_name}"))
    assert sid not in ok(invoke("schedules", "list")).stdout


def test_cli_enable_skips_occurrences_missed_while_disabled(invoke: Invoke, db_url: str, queue_name: str) -> None:
    sid = f"m-{queue_name}"
    ok(invoke("schedules", "add", sid, "t.job", "--every", "60", "--disabled"))

    async def backdate() -> None:
        async with SQLAlchemyStorage(db_url) as storage:
            await storage.update_schedule_next_run(sid, time.time() - 3600, None)

    asyncio.run(backdate())
    ok(invoke("schedules", "enable", sid))
    [schedule] = [s for s in json.loads(ok(invoke("schedules", "list", "--json")).stdout) if s["id"] == sid]
    assert schedule["next_run"] > time.time()
    ok(invoke("schedules", "delete", sid))


@pytest.mark.databases("sqlite")
def test_cli_purge_deletes_old_finished_jobs(invoke: Invoke, db_url: str) -> None:
    async def setup() -> tuple[str, str]:
        async with SQLAlchemyStorage(db_url) as storage:
            queue = JobQueue(storage)
            old, fresh = await queue.enqueue("t.job"), await queue.enqueue("t.job")
            await queue.cancel_job(old)
            await queue.cancel_job(fresh)
            async with storage.engine.begin() as conn:
                await conn.execute(update(jobs).where(jobs.c.id == old).values(finished_at=time.time() - 8 * 86400))
            return old, fresh

    _old, fresh = asyncio.run(setup())
    assert "failed" in ok(invoke("purge", "--older-than", "7d", "--status", "failed")).stdout
    assert json.loads(ok(invoke("purge", "--older-than", "7d", "--json")).stdout) == {"deleted": 1}
    remaining = json.loads(ok(invoke("jobs", "--json")).stdout)
    assert [job["id"] for job in remaining] == [fresh]
    assert "Deleted 0 job(s)" in ok(invoke("purge", "--older-than", "1w")).stdout


@pytest.mark.databases("sqlite")
def test_cli_init_db_and_default_url(invoke: Invoke, workdir: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBJOBQ_DATABASE_URL", raising=False)
    result = ok(invoke("init-db", url=None))
    assert "sqlite+aiosqlite:///dbjobq.sqlite3" in result.stdout
    assert (Path.cwd() / "dbjobq.sqlite3").exists()


@pytest.mark.databases("sqlite")
def test_cli_url_from_environment(invoke: Invoke, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBJOBQ_DATABASE_URL", db_url)
    job_id = ok(invoke("enqueue", "t.job", url=None)).stdout.strip()
    assert job_id in ok(invoke("jobs", url=None)).stdout


@pytest.mark.databases("postgresql")
def test_cli_postgres_asyncpg_url_works(invoke: Invoke, db_url: str) -> None:
    from sqlalchemy.engine import make_url

    pasted = make_url(db_url).set(drivername="postgres+asyncpg").render_as_string(hide_password=False)
    job_id = ok(invoke("enqueue", "t.job", url=pasted)).stdout.strip()
    assert job_id in ok(invoke("jobs", url=pasted)).stdout
    assert "postgresql+asyncpg://" in ok(invoke("init-db", url=pasted)).stdout


def test_cli_stats_table_marks_capped_counts() -> None:
    from rich.console import Console

    from dbjobq.cli import formatting

    counts = {"a": {"completed": 10000, "pending": 3}, "b": {"failed": 2}}
    table = formatting.counts_table(counts, {"completed": 10000, "pending": 3, "failed": 2}, {"a": ["completed"]})
    console = Console(width=120, record=True)
    console.print(table)
    rows = {line.split()[1]: line for line in console.export_text().splitlines() if line.startswith("│")}
    assert "10000+" in rows["a"] and "10003+" in rows["a"]  # a capped count, and the total holding it
    assert "+" not in rows["b"] and "10000+" in rows["all"]


def test_cli_jobs_lists_an_undecodable_row_as_such(invoke: Invoke, db_url: str, queue_name: str) -> None:
    """One row whose data is not JSON does not fail `dbjobq jobs` (issue 20 point 2)."""
    import asyncio

    from sqlalchemy import update

    from dbjobq import JobQueue
    from dbjobq.storage import SQLAlchemyStorage
    from dbjobq.storage.schema import jobs as jobs_table

    async def setup() -> list[str]:
        storage = SQLAlchemyStorage(db_url)
        await storage.initialize()
        try:
            ids = await JobQueue(storage).enqueue_many("cli_jobs.hello", [{"n": n} for n in range(3)], queue=queue_name)
            async with storage.engine.begin() as conn:
                await conn.execute(update(jobs_table).where(jobs_table.c.id == ids[1]).values(data="{not json"))
            return ids
        finally:
            await storage.close()

    ids = asyncio.run(setup())
    result = invoke("jobs", "--queue", queue_name, "--json")
    assert result.exit_code == 0, result.output
    assert all(job_id in result.output for job_id in ids)
    assert "not valid JSON" in result.output
    shown = invoke("job", ids[1])
    assert shown.exit_code == 0 and "not valid JSON" in shown.output
