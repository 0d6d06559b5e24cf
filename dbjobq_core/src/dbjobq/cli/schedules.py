"""``dbjobq schedules``: list, add, enable, disable, delete and run-now recurring jobs."""

from __future__ import annotations

import time
from typing import Any

import click

from .. import scheduling
from ..errors import ScheduleNotFoundError
from ..models import Schedule, ScheduleType
from ..queue import JobQueue
from . import formatting
from .durations import DURATION
from .main import CliState, pass_state
from .params import JSON_OBJECT


async def _require(queue: JobQueue, schedule_id: str) -> Schedule:
    schedule = await queue.storage.get_schedule(schedule_id)
    if schedule is None:
        raise ScheduleNotFoundError(f"No schedule has id {schedule_id!r} (dbjobq schedules list shows them)")
    return schedule


@click.group(short_help="Manage recurring jobs (list, add, enable, disable, delete, run-now).")
def schedules() -> None:
    """Recurring jobs: a running worker enqueues each due occurrence once (times are UTC)."""


@schedules.command("list")
@click.option("--enabled-only", is_flag=True, help="Leave out disabled schedules.")
@click.option("--json", "as_json", is_flag=True, help="Print the schedules as a JSON list.")
@pass_state
def list_schedules(state: CliState, enabled_only: bool, as_json: bool) -> None:
    """List schedules by id."""

    async def work(queue: JobQueue) -> list[Schedule]:
        return await queue.storage.list_schedules(enabled_only=enabled_only)

    found = state.run(work)
    if as_json:
        formatting.echo_json([formatting.schedule_dict(s) for s in found])
    elif not found:
        click.echo("No schedules.")
    else:
        formatting.console().print(formatting.schedules_table(found))


@schedules.command("add", short_help="Create a schedule (--cron EXPR or --every DURATION).")
@click.argument("schedule_id")
@click.argument("job_type")
@click.option("--cron", metavar="EXPR", help="A cron expression in UTC, e.g. '*/5 * * * *' (quote it).")
@click.option("--every", type=DURATION, help="A fixed interval, e.g. 30s, 15m, 1h or 3600.")
@click.option("--data", type=JSON_OBJECT, help="The job's data, a JSON object.")
@click.option("--queue", "queue_name", default="default", show_default=True, help="Queue the jobs go on.")
@click.option("--priority", type=int, default=0, show_default=True, help="Priority of each job.")
@click.option("--max-retries", type=click.IntRange(min=0), default=0, show_default=True,
              help="Retries of each job after its first attempt.")
@click.option("--disabled", is_flag=True, help="Create it disabled (enable it later).")
@pass_state
def add_schedule(
    state: CliState,
    schedule_id: str,
    job_type: str,
    cron: str | None,
    every: float | None,
    data: dict[str, Any] | None,
    queue_name: str,
    priority: int,
    max_retries: int,
    disabled: bool,
) -> None:
    """Create schedule SCHEDULE_ID that runs JOB_TYPE on a --cron expression or --every interval.

    An interval schedule first fires one interval from now, a cron schedule at its next match.
    Example: dbjobq schedules add nightly-report myapp.jobs.report --cron '0 3 * * *'
    """
    if (cron is None) == (every is None):
        raise click.UsageError(
            "Give exactly one of --cron EXPR or --every DURATION", ctx=click.get_current_context()
        )
    if cron is not None:
        kind, expression = ScheduleType.CRON.value, cron
    else:
        assert every is not None
        kind, expression = ScheduleType.INTERVAL.value, f"{every:g}"
    scheduling.validate(kind, expression)
    now = time.time()
    schedule = Schedule(
        id=schedule_id,
        job_type=job_type,
        job_data=data or {},
        schedule_type=kind,
        schedule_expression=expression,
        next_run=now,
        enabled=not disabled,
        priority=priority,
        max_retries=max_retries,
        queue=queue_name,
    )
    schedule.next_run = scheduling.next_after(schedule, now)

    async def work(queue: JobQueue) -> None:
        await queue.storage.create_schedule(schedule)

    state.run(work)
    click.echo(f"Schedule {schedule_id} created; next run {formatting.when(schedule.next_run)} UTC")


def _set_enabled(state: CliState, schedule_id: str, enabled: bool) -> Schedule:
    async def work(queue: JobQueue) -> Schedule:
        schedule = await _require(queue, schedule_id)
        now = time.time()
        if enabled and not schedule.enabled and schedule.next_run <= now:
            # Occurrences missed while disabled are skipped: the schedule resumes at its next one.
            schedule.next_run = scheduling.next_after(schedule, now)
        schedule.enabled = enabled
        await queue.storage.update_schedule(schedule)
        return schedule

    return state.run(work)


@schedules.command("enable", short_help="Enable a schedule (skipping missed runs).")
@click.argument("schedule_id")
@pass_state
def enable_schedule(state: CliState, schedule_id: str) -> None:
    """Enable schedule SCHEDULE_ID (occurrences missed while disabled are skipped)."""
    schedule = _set_enabled(state, schedule_id, True)
    click.echo(f"Schedule {schedule_id} enabled; next run {formatting.when(schedule.next_run)} UTC")


@schedules.command("disable")
@click.argument("schedule_id")
@pass_state
def disable_schedule(state: CliState, schedule_id: str) -> None:
    """Disable schedule SCHEDULE_ID: it stops firing until enabled again."""
    _set_enabled(state, schedule_id, False)
    click.echo(f"Schedule {schedule_id} disabled")


@schedules.command("delete")
@click.argument("schedule_id")
@pass_state
def delete_schedule(state: CliState, schedule_id: str) -> None:
    """Delete schedule SCHEDULE_ID (jobs it already enqueued stay)."""

    async def work(queue: JobQueue) -> bool:
        return await queue.storage.delete_schedule(schedule_id)

    if not state.run(work):
        raise ScheduleNotFoundError(f"No schedule has id {schedule_id!r} (dbjobq schedules list shows them)")
    click.echo(f"Schedule {schedule_id} deleted")


@schedules.command("run-now", short_help="Enqueue a schedule's job now; print its id.")
@click.argument("schedule_id")
@pass_state
def run_schedule_now(state: CliState, schedule_id: str) -> None:
    """Enqueue schedule SCHEDULE_ID's job now (its next regular run stays as it was); print the job id."""

    async def work(queue: JobQueue) -> str:
        schedule = await _require(queue, schedule_id)
        return await queue.enqueue(
            schedule.job_type,
            schedule.job_data,
            priority=schedule.priority,
            max_retries=schedule.max_retries,
            queue=schedule.queue,
        )

    click.echo(state.run(work))
