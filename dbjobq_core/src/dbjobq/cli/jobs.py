"""Sub-commands about jobs: init-db, enqueue, jobs and job (retry, cancel and purge are in ``bulk``)."""

from __future__ import annotations

from typing import Any

import click

from ..errors import JobNotFoundError
from ..models import FINISHED_STATUSES, Job, JobStatus
from ..queue import JobQueue
from ..redaction import mask_url
from . import formatting
from .durations import DURATION
from .imports import import_modules
from .main import CliState, pass_state
from .params import JSON_OBJECT

_STATUS_CHOICE = click.Choice([s.value for s in JobStatus], case_sensitive=False)
_FINISHED_CHOICE = click.Choice([s.value for s in FINISHED_STATUSES], case_sensitive=False)


@click.command("init-db", short_help="Create the tables if they are missing.")
@pass_state
def init_db(state: CliState) -> None:
    """Create DBJobQ's tables if they are missing (safe to run again)."""

    async def work(queue: JobQueue) -> None:
        return None

    state.run(work)
    click.echo(f"DBJobQ tables are ready in {mask_url(state.storage().url)}")


@click.command(short_help="Add a job; print its id.")
@click.argument("job_type")
@click.argument("data", required=False, type=JSON_OBJECT)
@click.option("--delay", type=DURATION, help="Run no sooner than this from now, e.g. 30s, 15m, 2h.")
@click.option("--priority", type=int, help="Higher runs first. [default: the job's, else 0]")
@click.option("--queue", "queue_name", metavar="QUEUE",
              help="Queue to put it on. [default: the job's, else default]")
@click.option("--max-retries", type=click.IntRange(min=0),
              help="Retries after the first attempt. [default: the job's, else 0]")
@click.option("--unique-key", metavar="KEY",
              help="Add nothing while a job with this key is waiting, pending or running; print its id.")
@click.option("--depends-on", "depends_on", multiple=True, metavar="ID",
              help="Wait until this job completed (repeatable); fail if it fails or is cancelled.")
@click.option("--import", "-i", "imports", multiple=True, metavar="MODULE",
              help="Import this module first, so the job's @job() defaults apply (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print {\"id\": …} as JSON.")
@pass_state
def enqueue(
    state: CliState,
    job_type: str,
    data: dict[str, Any] | None,
    delay: float | None,
    priority: int | None,
    queue_name: str | None,
    max_retries: int | None,
    unique_key: str | None,
    depends_on: tuple[str, ...],
    imports: tuple[str, ...],
    as_json: bool,
) -> None:
    """Add a job of type JOB_TYPE with DATA, a JSON object ('-' reads it from stdin); print its id.

    JOB_TYPE is the name the function is registered under: module.function unless @job(name="…") says
    otherwise, e.g. dbjobq enqueue myapp.jobs.send_email '{"to": "ann@example.com"}'.
    """
    import_modules(imports)

    async def work(queue: JobQueue) -> str:
        return await queue.enqueue(
            job_type,
            data,
            delay=delay,
            priority=priority,
            max_retries=max_retries,
            queue=queue_name,
            unique_key=unique_key,
            depends_on=list(depends_on) or None,
        )

    job_id = state.run(work)
    if as_json:
        formatting.echo_json({"id": job_id})
    else:
        click.echo(job_id)


@click.command("jobs", short_help="List jobs (a table, or --json).")
@click.option("--status", type=_STATUS_CHOICE, help="Only jobs in this status.")
@click.option("--queue", "queue_name", metavar="QUEUE", help="Only jobs on this queue.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True,
              help="At most this many jobs.")
@click.option("--offset", type=click.IntRange(min=0), default=None,
              help="Skip this many of the oldest jobs. [default: show the most recent ones]")
@click.option("--json", "as_json", is_flag=True, help="Print the jobs as a JSON list.")
@pass_state
def list_jobs(
    state: CliState, status: str | None, queue_name: str | None, limit: int, offset: int | None, as_json: bool
) -> None:
    """List jobs, oldest first: by default the most recent --limit of them."""

    async def work(queue: JobQueue) -> tuple[list[Job], int]:
        total = await queue.count_jobs(status, queue=queue_name)
        start = max(0, total - limit) if offset is None else offset
        return await queue.list_jobs(status=status, limit=limit, offset=start, queue=queue_name), total

    jobs, total = state.run(work)
    if as_json:
        formatting.echo_json([formatting.job_dict(job) for job in jobs])
        return
    out = formatting.console()
    if not jobs:
        out.print("No jobs match." if total else "No jobs.")
        return
    out.print(formatting.jobs_table(jobs, title=f"{len(jobs)} of {total} job(s)", width=out.width))


@click.command("job", short_help="Show one job, with its error and traceback.")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print the job as JSON.")
@pass_state
def show_job(state: CliState, job_id: str, as_json: bool) -> None:
    """Show every field of job JOB_ID, and its last error with the traceback."""

    async def work(queue: JobQueue) -> Job | None:
        return await queue.get_job(job_id)

    job = state.run(work)
    if job is None:
        raise JobNotFoundError(f"No job has id {job_id!r} (dbjobq jobs lists them)")
    if as_json:
        formatting.echo_json(formatting.job_dict(job))
    else:
        formatting.print_job(formatting.console(), job)
