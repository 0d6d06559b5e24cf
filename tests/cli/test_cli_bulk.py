"""The operator's commands: bulk retry and cancel with a count and a confirmation, purge's dry run and
question, ``--json`` on every table, and tables that fit an 80-column terminal."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import datetime, timezone

import pytest
from click.testing import Result
from rich.console import Console
from sqlalchemy import update

from dbjobq.cli import bulk, formatting
from dbjobq.models import Job, JobStatus, Schedule
from dbjobq.storage import SQLAlchemyStorage
from dbjobq.storage.schema import jobs

Invoke = Callable[..., Result]


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def statuses(invoke: Invoke, queue_name: str) -> dict[str, str]:
    return {job["id"]: job["status"] for job in json.loads(ok(invoke("jobs", "--queue", queue_name, "--json")).stdout)}


def set_rows(db_url: str, ids: list[str], **values: object) -> None:
    async def work() -> None:
        async with SQLAlchemyStorage(db_url) as storage, storage.engine.begin() as conn:
            await conn.execute(update(jobs).where(jobs.c.id.in_(ids)).values(**values))

    asyncio.run(work())


def enqueue(invoke: Invoke, queue_name: str, job_type: str = "t.job") -> str:
    return ok(invoke("enqueue", job_type, "--queue", queue_name)).stdout.strip()


def test_cli_bulk_cancel_counts_asks_and_cancels(invoke: Invoke, queue_name: str) -> None:
    ids = [enqueue(invoke, queue_name) for _ in range(3)]
    other = enqueue(invoke, queue_name, "t.other")

    asked = ok(invoke("cancel", "--queue", queue_name, "--type", "t.job", input="y\n"))
    assert f"Cancel 3 pending or running job(s) on queue {queue_name!r} of type 't.job'? [y/N]" in asked.stderr
    assert "3 job(s) cancelled" in asked.stdout
    assert statuses(invoke, queue_name) == {**dict.fromkeys(ids, "cancelled"), other: "pending"}


def test_cli_bulk_answer_no_or_none_changes_nothing(invoke: Invoke, queue_name: str) -> None:
    job_id = enqueue(invoke, queue_name)
    refused = invoke("cancel", "--queue", queue_name, input="n\n")
    assert refused.exit_code == 1
    assert "Not confirmed: nothing changed" in refused.stderr
    unanswered = invoke("cancel", "--queue", queue_name)  # a script without --yes: stdin at its end
    assert unanswered.exit_code == 1
    assert "No answer on stdin: nothing changed (add --yes to skip the question)" in unanswered.stderr
    assert statuses(invoke, queue_name) == {job_id: "pending"}


def test_cli_bulk_retry_with_yes_and_json(invoke: Invoke, db_url: str, queue_name: str) -> None:
    failed = [enqueue(invoke, queue_name) for _ in range(2)]
    cancelled = enqueue(invoke, queue_name)
    set_rows(db_url, failed, status="failed", finished_at=time.time(), error="boom", attempts=1)
    set_rows(db_url, [cancelled], status="cancelled", finished_at=time.time())

    out = json.loads(ok(invoke("retry", "--queue", queue_name, "--yes", "--json")).stdout)
    assert out == {"matched": 2, "retried": 2}  # failed ones only, by default
    assert statuses(invoke, queue_name) == {**dict.fromkeys(failed, "pending"), cancelled: "cancelled"}
    shown = ok(invoke("retry", "--queue", queue_name, "--status", "cancelled", "-y")).stdout
    assert "1 job(s) retried" in shown
    nothing = ok(invoke("retry", "--queue", queue_name, "--status", "failed"))
    assert f"No failed job(s) on queue {queue_name!r}: nothing to retry" in nothing.stdout
    assert json.loads(ok(invoke("retry", "--queue", queue_name, "--json")).stdout) == {"matched": 0, "retried": 0}


def test_cli_bulk_older_than_selects_by_creation_time(invoke: Invoke, db_url: str, queue_name: str) -> None:
    old, new = enqueue(invoke, queue_name), enqueue(invoke, queue_name)
    set_rows(db_url, [old], created_at=time.time() - 7200)
    out = json.loads(ok(invoke("cancel", "--queue", queue_name, "--older-than", "1h", "--yes", "--json")).stdout)
    assert out == {"matched": 1, "cancelled": 1}
    assert statuses(invoke, queue_name) == {old: "cancelled", new: "pending"}


def test_cli_bulk_needs_an_id_or_a_filter(invoke: Invoke, queue_name: str) -> None:
    job_id = enqueue(invoke, queue_name)
    bare = invoke("cancel")
    assert bare.exit_code == 2
    assert "Give a JOB_ID, or select jobs with --status, --queue, --type or --older-than" in bare.stderr
    both = invoke("retry", job_id, "--queue", queue_name)
    assert both.exit_code == 2
    assert "not both" in both.stderr
    wrong = invoke("retry", "--status", "pending")
    assert wrong.exit_code == 2 and "'pending' is not one of 'failed', 'cancelled'" in wrong.stderr
    assert statuses(invoke, queue_name) == {job_id: "pending"}


def test_cli_single_id_forms_keep_working_with_json(invoke: Invoke, queue_name: str) -> None:
    job_id = enqueue(invoke, queue_name)
    assert json.loads(ok(invoke("cancel", job_id, "--json")).stdout) == {"id": job_id, "status": "cancelled"}
    assert json.loads(ok(invoke("retry", job_id, "--json")).stdout) == {"id": job_id, "status": "pending"}


@pytest.mark.databases("sqlite")
def test_cli_purge_dry_run_and_terminal_confirmation(
    invoke: Invoke, db_url: str, queue_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = [enqueue(invoke, queue_name) for _ in range(2)]
    set_rows(db_url, old, status="completed", finished_at=time.time() - 8 * 86400)

    dry = ok(invoke("purge", "--older-than", "7d", "--dry-run")).stdout
    assert "Would delete 2 job(s) (completed, failed, cancelled) finished more than 7d ago" in dry
    dry_json = json.loads(ok(invoke("purge", "--older-than", "7d", "--dry-run", "--json")).stdout)
    assert dry_json == {"dry_run": True, "would_delete": 2}

    monkeypatch.setattr(bulk, "stdin_is_terminal", lambda: True)
    refused = invoke("purge", "--older-than", "7d", input="n\n")
    assert refused.exit_code == 1
    assert "Delete 2 job(s) (completed, failed, cancelled) finished more than 7d ago? [y/N]" in refused.stderr
    assert len(statuses(invoke, queue_name)) == 2
    assert "Deleted 2 job(s)" in ok(invoke("purge", "--older-than", "7d", input="y\n")).stdout
    assert "nothing to delete" in ok(invoke("purge", "--older-than", "7d")).stdout

    # Not on a terminal (cron, scripts): no question, as before.
    monkeypatch.setattr(bulk, "stdin_is_terminal", lambda: False)
    assert json.loads(ok(invoke("purge", "--older-than", "7d", "--json")).stdout) == {"deleted": 0}


def test_cli_json_on_every_table(invoke: Invoke, queue_name: str) -> None:
    enqueue(invoke, queue_name)
    for args in (("jobs",), ("stats",), ("schedules", "list")):
        json.loads(ok(invoke(*args, "--json")).stdout)
    job_id = enqueue(invoke, queue_name)
    assert json.loads(ok(invoke("job", job_id, "--json")).stdout)["id"] == job_id


def _job(n: int, status: JobStatus) -> Job:
    now = datetime.now(timezone.utc)
    return Job(
        id=f"01a22b51-0530-7093-b167-68f415d348{n:02d}",
        type="myapp.notifications.jobs.send_welcome_email_to_a_new_customer",
        data={},
        status=status,
        queue="customer-notifications",
        priority=0,
        attempts=1,
        max_retries=3,
        created_at=now,
        updated_at=now,
        execute_at=now,
        finished_at=now if status is JobStatus.COMPLETED else None,
    )


def test_cli_tables_fit_80_columns() -> None:
    out = Console(width=80, record=True, force_terminal=True)
    jobs_list = [_job(n, status) for n, status in enumerate(JobStatus)]
    out.print(formatting.jobs_table(jobs_list, title="5 of 5 job(s)", width=out.width))
    schedule = Schedule(
        id="every-five-minutes-cleanup-of-temporary-files",
        job_type="myapp.maintenance.jobs.cleanup_temporary_files",
        job_data={},
        schedule_type="cron",
        schedule_expression="*/5 * * * 1-5",
        next_run=time.time() + 60,
    )
    out.print(formatting.schedules_table([schedule], width=out.width))
    counts = {"a-rather-long-queue-name": {"pending": 123456, "completed": 9_999_999}}
    out.print(formatting.counts_table(counts, counts["a-rather-long-queue-name"]))
    text = out.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80, text
    for job in jobs_list:
        assert job.id in text  # whole ids, to paste into `dbjobq job ID`
    for word in ("pending", "running", "completed", "failed", "cancelled", "9999999"):
        assert word in text


def test_cli_wide_tables_keep_every_column() -> None:
    out = Console(width=200, record=True)
    out.print(formatting.jobs_table([_job(1, JobStatus.FAILED)], width=out.width))
    text = out.export_text()
    assert "created (UTC)" in text and "attempts" in text and "1/4" in text
