"""``dbjobq schedules``: list, add, enable, disable, delete and run-now recurring jobs."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

import click

from .. import declarations, scheduling
from ..errors import InvalidJobStateError, ScheduleNotFoundError
from ..models import Schedule, ScheduleType
from ..queue import JobQueue
from . import formatting
from .durations import DURATION
from .imports import import_modules
from .main import CliState, pass_state
from .params import JSON_OBJECT
from .terminal import escape_control

T = TypeVar("T")


def _run_on_schedule(state: CliState, schedule_id: str, work: Callable[[JobQueue], Awaitable[T]]) -> T:
    """``state.run(work)``, naming the command that lists schedules when the id is unknown."""
    try:
        return state.run(work)
    except ScheduleNotFoundError:
        raise ScheduleNotFoundError(
            f"No schedule has id {schedule_id!r} (dbjobq schedules list shows them)"
        ) from None


@click.group(short_help="Manage recurring jobs (list, add, update, enable, disable, delete, run-now, sync).")
def schedules() -> None:
    """Recurring jobs: a running worker enqueues each due occurrence once (times shown in UTC).

    Schedules declared in code (@job(cron="0 3 * * *"), a SCHEDULES setting) are synced when workers start,
    or with `schedules sync`; change those in the code. The others are yours to add, update and delete.
    """


@schedules.command("list")
@click.option("--enabled-only", is_flag=True, help="Leave out disabled schedules.")
@click.option("--json", "as_json", is_flag=True, help="Print the schedules as a JSON list.")
@pass_state
def list_schedules(state: CliState, enabled_only: bool, as_json: bool) -> None:
    """List schedules by id."""

    async def work(queue: JobQueue) -> list[Schedule]:
        return await queue.list_schedules(enabled_only=enabled_only)

    found = state.run(work)
    if as_json:
        formatting.echo_json([formatting.schedule_dict(s) for s in found])
    elif not found:
        click.echo("No schedules.")
    else:
        out = formatting.console()
        out.print(formatting.schedules_table(found, width=out.width))


@schedules.command("add", short_help="Create a schedule (--cron EXPR or --every DURATION).")
@click.argument("schedule_id")
@click.argument("job_type")
@click.option("--cron", metavar="EXPR", help="A cron expression, e.g. '*/5 * * * *' (quote it); UTC unless --tz.")
@click.option("--every", type=DURATION, help="A fixed interval, e.g. 30s, 15m, 1h or 3600.")
@click.option("--tz", metavar="ZONE", help="Read --cron in this IANA time zone, e.g. Europe/Paris. [default: UTC]")
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
    tz: str | None,
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
    scheduling.validate_tz(kind, tz)
    schedule = Schedule(
        id=schedule_id,
        job_type=job_type,
        job_data=data or {},
        schedule_type=kind,
        schedule_expression=expression,
        next_run=0.0,  # set from the database's clock below
        enabled=not disabled,
        priority=priority,
        max_retries=max_retries,
        queue=queue_name,
        tz=tz,
    )

    async def work(queue: JobQueue) -> None:
        now = await queue.now()  # the database's clock, which judges when it is due
        schedule.next_run = now
        schedule.next_run = scheduling.next_after(schedule, now)
        await queue.create_schedule(schedule)

    state.run(work)
    click.echo(f"Schedule {schedule_id} created; next run {formatting.when(schedule.next_run)} UTC")


@schedules.command("enable", short_help="Enable a schedule (skipping missed runs).")
@click.argument("schedule_id")
@pass_state
def enable_schedule(state: CliState, schedule_id: str) -> None:
    """Enable schedule SCHEDULE_ID (occurrences missed while disabled are skipped)."""

    async def work(queue: JobQueue) -> Schedule:
        return await queue.set_schedule_enabled(schedule_id, True)

    schedule = _run_on_schedule(state, schedule_id, work)
    click.echo(f"Schedule {schedule_id} enabled; next run {formatting.when(schedule.next_run)} UTC")


@schedules.command("disable")
@click.argument("schedule_id")
@pass_state
def disable_schedule(state: CliState, schedule_id: str) -> None:
    """Disable schedule SCHEDULE_ID: it stops firing until enabled again."""

    async def work(queue: JobQueue) -> Schedule:
        return await queue.set_schedule_enabled(schedule_id, False)

    _run_on_schedule(state, schedule_id, work)
    click.echo(f"Schedule {schedule_id} disabled")


@schedules.command("delete")
@click.argument("schedule_id")
@pass_state
def delete_schedule(state: CliState, schedule_id: str) -> None:
    """Delete schedule SCHEDULE_ID (jobs it already enqueued stay)."""

    async def work(queue: JobQueue) -> bool:
        if not await queue.delete_schedule(schedule_id):
            raise ScheduleNotFoundError(f"No schedule has id {schedule_id!r}")
        return True

    _run_on_schedule(state, schedule_id, work)
    click.echo(f"Schedule {schedule_id} deleted")


@schedules.command("run-now", short_help="Enqueue a schedule's job now; print its id.")
@click.argument("schedule_id")
@pass_state
def run_schedule_now(state: CliState, schedule_id: str) -> None:
    """Enqueue schedule SCHEDULE_ID's job now (its next regular run stays as it was); print the job id."""

    async def work(queue: JobQueue) -> str:
        return await queue.run_schedule_now(schedule_id)

    click.echo(_run_on_schedule(state, schedule_id, work))


@schedules.command("update", short_help="Change a schedule made by hand (timetable, job, data, queue).")
@click.argument("schedule_id")
@click.option("--cron", metavar="EXPR", help="A new cron expression (quote it).")
@click.option("--every", type=DURATION, help="A new interval, e.g. 15m.")
@click.option("--tz", metavar="ZONE", help="The IANA time zone --cron is read in ('UTC' for UTC).")
@click.option("--job-type", metavar="TYPE", help="The job each occurrence enqueues.")
@click.option("--data", type=JSON_OBJECT, help="The job's data, a JSON object.")
@click.option("--queue", "queue_name", metavar="QUEUE", help="Queue the jobs go on.")
@click.option("--priority", type=int, help="Priority of each job.")
@click.option("--max-retries", type=click.IntRange(min=0), help="Retries of each job after its first attempt.")
@click.option("--json", "as_json", is_flag=True, help="Print the updated schedule as JSON.")
@pass_state
def update_schedule(
    state: CliState,
    schedule_id: str,
    cron: str | None,
    every: float | None,
    tz: str | None,
    job_type: str | None,
    data: dict[str, Any] | None,
    queue_name: str | None,
    priority: int | None,
    max_retries: int | None,
    as_json: bool,
) -> None:
    """Change schedule SCHEDULE_ID: only the options given change. A new timetable (--cron, --every,
    --tz) starts at its next occurrence. Schedules declared in code are changed in the code instead.

    Example: dbjobq schedules update nightly-report --cron '30 2 * * *' --tz Europe/Paris
    """
    if cron is not None and every is not None:
        raise click.UsageError("Give --cron or --every, not both", ctx=click.get_current_context())

    async def work(queue: JobQueue) -> Schedule:
        schedule = await queue.get_schedule(schedule_id)
        if schedule is None:
            raise ScheduleNotFoundError(f"No schedule has id {schedule_id!r}")
        if schedule.origin == "code":
            raise InvalidJobStateError(
                f"Schedule {schedule_id} is declared in code (@job(cron=...) or a SCHEDULES setting): change it "
                "there, and workers apply it when they start (`dbjobq schedules sync` applies it now)"
            )
        timing = (schedule.schedule_type, schedule.schedule_expression, schedule.tz)
        if cron is not None:
            schedule.schedule_type, schedule.schedule_expression = ScheduleType.CRON.value, cron
        elif every is not None:
            schedule.schedule_type, schedule.schedule_expression = ScheduleType.INTERVAL.value, f"{every:g}"
            schedule.tz = None
        if tz is not None:
            schedule.tz = None if tz.upper() == "UTC" else tz
        for name, value in (("job_type", job_type), ("job_data", data), ("queue", queue_name),
                            ("priority", priority), ("max_retries", max_retries)):
            if value is not None:
                setattr(schedule, name, value)
        scheduling.validate_schedule(schedule)
        if (schedule.schedule_type, schedule.schedule_expression, schedule.tz) != timing:
            now = await queue.now()
            schedule.next_run = scheduling.next_after(replace(schedule, next_run=now), now)
        await queue.update_schedule(schedule)
        return schedule

    schedule = _run_on_schedule(state, schedule_id, work)
    if as_json:
        formatting.echo_json(formatting.schedule_dict(schedule))
    else:
        click.echo(f"Schedule {escape_control(schedule_id)} updated; next run {formatting.when(schedule.next_run)} UTC")


@schedules.command("sync", short_help="Apply the schedules declared in code now (workers do it at start).")
@click.option("--import", "-i", "imports", multiple=True, metavar="MODULE",
              help="Module that declares schedules (@job(cron=\"0 3 * * *\")) or jobs (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print what changed as JSON.")
@pass_state
def sync_schedules(state: CliState, imports: tuple[str, ...], as_json: bool) -> None:
    """Add, change and remove the schedules declared in code, as a starting worker does, and print what
    changed: e.g. a deployment step. Schedules made by hand are never touched."""
    import_modules(imports)

    async def work(queue: JobQueue) -> declarations.SyncResult:
        return await queue.sync_schedules()

    result = state.run(work)
    if as_json:
        formatting.echo_json(dataclasses.asdict(result))
        return
    for label in ("added", "changed", "removed", "stranded", "kept"):
        ids = getattr(result, label)
        if ids:
            click.echo(f"{label.capitalize()}: {escape_control(', '.join(ids))}")
    click.echo(
        f"Schedules from code: {len(result.added)} added, {len(result.changed)} changed, "
        f"{len(result.removed)} removed, {len(result.unchanged)} unchanged"
    )
