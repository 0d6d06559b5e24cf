"""Sub-commands that change jobs: retry and cancel (one by id, or every job a filter selects) and purge.

A bulk change shows how many jobs match and asks before it acts (``--yes`` skips the question); purge
asks only on a terminal, so a scheduled clean-up keeps running unattended. ``--dry-run`` (purge) and
a "no" change nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import click
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..errors import InvalidJobStateError
from ..models import FINISHED_STATUSES, Job, JobStatus
from ..queue import JobQueue
from . import formatting
from .durations import DURATION, format_duration
from .main import CliState, pass_state
from .terminal import escape_control

F = TypeVar("F", bound=Callable[..., Any])

_FINISHED_CHOICE = click.Choice([s.value for s in FINISHED_STATUSES], case_sensitive=False)


def stdin_is_terminal() -> bool:
    """True when a person can answer a question on stdin (purge asks only then)."""
    return sys.stdin.isatty()


def confirm(question: str) -> None:
    """Ask ``question`` on stderr (stdout stays clean for ``--json``); anything but yes changes nothing."""
    try:
        agreed = click.confirm(question, default=False, err=True)
    except click.Abort:  # stdin closed before an answer: a script that forgot --yes
        click.echo(err=True)  # end the question's line: the error goes on its own
        raise click.ClickException("No answer on stdin: nothing changed (add --yes to skip the question)") from None
    if not agreed:
        raise click.ClickException("Not confirmed: nothing changed")


@dataclass(frozen=True)
class Selection:
    """The jobs a bulk command acts on: every given filter must match."""

    statuses: tuple[str, ...]
    queue: str | None
    job_type: str | None
    older_than: float | None

    @property
    def given(self) -> bool:
        """True if at least one filter was given on the command line."""
        return bool(self.statuses) or any(v is not None for v in (self.queue, self.job_type, self.older_than))

    def filters(self, default_statuses: Sequence[str]) -> dict[str, Any]:
        """Keyword arguments for ``JobQueue.count_jobs`` / ``retry_jobs`` / ``cancel_jobs``."""
        return {
            "status": list(self.statuses or default_statuses),
            "queue": self.queue,
            "job_type": self.job_type,
            "older_than": self.older_than,
        }

    def describe(self, default_statuses: Sequence[str]) -> str:
        """``failed job(s) on queue 'emails' of type 'x.a' created more than 1h ago`` (escaped)."""
        text = f"{' or '.join(self.statuses or default_statuses)} job(s)"
        if self.queue is not None:
            text += f" on queue {self.queue!r}"
        if self.job_type is not None:
            text += f" of type {self.job_type!r}"
        if self.older_than is not None:
            text += f" created more than {format_duration(self.older_than)} ago"
        return escape_control(text)


def selection_options(statuses: Sequence[str], default_help: str) -> Callable[[F], F]:
    """The filter, ``--yes`` and ``--json`` options shared by the bulk forms of retry and cancel."""

    def decorate(func: F) -> F:
        for option in reversed(
            (
                click.option("--status", "statuses", multiple=True, type=click.Choice(statuses, case_sensitive=False),
                             help=f"Only jobs in this status (repeatable). [default: {default_help}]"),
                click.option("--queue", "queue_name", metavar="QUEUE", help="Only jobs on this queue."),
                click.option("--type", "job_type", metavar="TYPE", help="Only jobs of this type."),
                click.option("--older-than", type=DURATION,
                             help="Only jobs created more than this long ago, e.g. 30m, 2h, 7d."),
                click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation."),
                click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON."),
            )
        ):
            func = option(func)
        return func

    return decorate


def _bulk(
    state: CliState,
    *,
    verb: str,
    past: str,
    selection: Selection,
    default_statuses: Sequence[str],
    act: Callable[[JobQueue, dict[str, Any]], Awaitable[int]],
    yes: bool,
    as_json: bool,
) -> None:
    """Count the selected jobs, confirm, act; print ``N job(s) <past>`` (or JSON)."""
    filters = selection.filters(default_statuses)

    async def count(queue: JobQueue) -> int:
        return await queue.count_jobs(**filters)

    matched = state.run(count)
    described = selection.describe(default_statuses)
    if matched == 0:
        changed = 0
        if not as_json:
            click.echo(f"No {described}: nothing to {verb}")
    else:
        if not yes:
            confirm(f"{verb.capitalize()} {matched} {described}?")

        async def work(queue: JobQueue) -> int:
            return int(await act(queue, filters))

        changed = state.run(work)
        if not as_json:
            # Jobs may change status between the count and the change (a worker finishing them).
            click.echo(f"{changed} job(s) {past}" + (f" ({matched} matched)" if changed != matched else ""))
    if as_json:
        formatting.echo_json({"matched": matched, past: changed})


@dataclass(frozen=True)
class Change:
    """What retry or cancel does, to one job or to every job a selection matches."""

    verb: str  # "retry"
    past: str  # "retried"
    default_statuses: tuple[str, ...]  # what a selection without --status matches
    example: str  # a bulk command line, for the usage error
    one: Callable[[JobQueue, str], Awaitable[bool]]  # change one job; False if its status forbids it
    many: Callable[[JobQueue, dict[str, Any]], Awaitable[int]]  # change every job matching the filters
    refusal: str  # why one job's status forbids it: "is {status}: …"
    outcome: JobStatus  # the job's status once changed
    done: str  # what is printed once one job changed: "Job {id} …"


def _change(
    state: CliState, change: Change, job_id: str | None, selection: Selection, yes: bool, as_json: bool
) -> None:
    """Apply ``change`` to JOB_ID, or (without one) to the jobs ``selection`` matches."""
    if job_id is None:
        _require_selection(selection, change.example)
        _bulk(
            state, verb=change.verb, past=change.past, selection=selection, default_statuses=change.default_statuses,
            act=change.many, yes=yes, as_json=as_json,
        )
        return
    _refuse_filters_with_id(selection)

    async def work(queue: JobQueue) -> Job | None:
        if await change.one(queue, job_id):
            return None
        return await queue.get_job(job_id)

    blocking = state.run(work)
    if blocking is not None:
        raise InvalidJobStateError(f"Job {job_id} " + change.refusal.format(status=blocking.status.value))
    if as_json:
        formatting.echo_json({"id": job_id, "status": change.outcome.value})
    else:
        click.echo(change.done.format(id=escape_control(job_id)))


RETRY = Change(
    verb="retry", past="retried", default_statuses=("failed",), example="retry --status failed --queue emails",
    one=lambda queue, job_id: queue.retry_job(job_id), many=lambda queue, filters: queue.retry_jobs(**filters),
    refusal="is {status}: only failed or cancelled jobs can be retried", outcome=JobStatus.PENDING,
    done="Job {id} is pending again",
)
CANCEL = Change(
    verb="cancel", past="cancelled", default_statuses=("pending", "running"),
    example="cancel --status pending --queue emails",
    one=lambda queue, job_id: queue.cancel_job(job_id), many=lambda queue, filters: queue.cancel_jobs(**filters),
    refusal="is already {status}: only pending or running jobs can be cancelled", outcome=JobStatus.CANCELLED,
    done="Job {id} cancelled",
)


@click.command(short_help="Run failed jobs again: one by id, or every one a filter selects.")
@click.argument("job_id", required=False)
@selection_options(("failed", "cancelled"), "failed")
@pass_state
def retry(
    state: CliState,
    job_id: str | None,
    statuses: tuple[str, ...],
    queue_name: str | None,
    job_type: str | None,
    older_than: float | None,
    yes: bool,
    as_json: bool,
) -> None:
    """Send failed or cancelled jobs back to pending, due now, with their attempts reset.

    Give JOB_ID for one job, or select jobs with --status (default: failed), --queue, --type and
    --older-than: the command shows how many match and asks first (--yes skips the question).
    Example: dbjobq retry --queue emails --older-than 1h
    """
    _change(state, RETRY, job_id, Selection(statuses, queue_name, job_type, older_than), yes, as_json)


@click.command(short_help="Cancel pending or running jobs: one by id, or every one a filter selects.")
@click.argument("job_id", required=False)
@selection_options(("pending", "running"), "pending and running")
@pass_state
def cancel(
    state: CliState,
    job_id: str | None,
    statuses: tuple[str, ...],
    queue_name: str | None,
    job_type: str | None,
    older_than: float | None,
    yes: bool,
    as_json: bool,
) -> None:
    """Cancel pending or running jobs (a running job's late result is then discarded).

    Give JOB_ID for one job, or select jobs with --status (default: pending and running), --queue,
    --type and --older-than: the command shows how many match and asks first (--yes skips the question).
    Example: dbjobq cancel --status pending --type myapp.jobs.send_newsletter
    """
    _change(state, CANCEL, job_id, Selection(statuses, queue_name, job_type, older_than), yes, as_json)


def _require_selection(selection: Selection, example: str) -> None:
    if not selection.given:
        raise click.UsageError(
            f"Give a JOB_ID, or select jobs with --status, --queue, --type or --older-than (e.g. dbjobq {example})",
            ctx=click.get_current_context(),
        )


def _refuse_filters_with_id(selection: Selection) -> None:
    if selection.given:
        raise click.UsageError(
            "Give a JOB_ID or filters (--status, --queue, --type, --older-than), not both",
            ctx=click.get_current_context(),
        )


@click.command(short_help="Delete finished jobs older than a duration.")
@click.option("--older-than", type=DURATION, required=True,
              help="Age since the job finished, e.g. 7d, 12h, 30m.")
@click.option("--status", "statuses", type=_FINISHED_CHOICE, multiple=True,
              help="Only jobs in this status (repeatable). [default: completed, failed and cancelled]")
@click.option("--batch-size", type=click.IntRange(min=1), default=5000, show_default=True,
              help="Rows deleted per transaction.")
@click.option("--dry-run", is_flag=True, help="Show how many jobs would be deleted; delete nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (asked on a terminal only).")
@click.option("--json", "as_json", is_flag=True,
              help="Print {\"deleted\": N} (with --dry-run {\"dry_run\": true, \"would_delete\": N}) as JSON.")
@pass_state
def purge(
    state: CliState,
    older_than: float,
    statuses: tuple[str, ...],
    batch_size: int,
    dry_run: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Delete finished jobs older than --older-than, in batches, with progress on a terminal.

    On a terminal it first shows how many jobs would go and asks (--yes skips the question); from a
    script or a cron job it deletes without asking. --dry-run only counts.
    """
    wanted = [JobStatus.parse(s) for s in statuses] or list(FINISHED_STATUSES)
    what = f"job(s) ({', '.join(s.value for s in wanted)}) finished more than {format_duration(older_than)} ago"

    async def count(queue: JobQueue) -> int:
        return await queue.purge(older_than, wanted, dry_run=True)

    if dry_run:
        matched = state.run(count)
        if as_json:
            formatting.echo_json({"dry_run": True, "would_delete": matched})
        else:
            click.echo(f"Would delete {matched} {what} (dry run: nothing deleted)")
        return
    if not yes and stdin_is_terminal():
        matched = state.run(count)
        if matched == 0:
            if as_json:
                formatting.echo_json({"deleted": 0})
            else:
                click.echo(f"No {what}: nothing to delete")
            return
        confirm(f"Delete {matched} {what}?")
    err = formatting.console(stderr=True)
    show_progress = err.is_terminal and not as_json

    async def work(queue: JobQueue) -> int:
        if not show_progress:
            return await queue.purge(older_than, wanted, batch_size=batch_size)
        with Progress(
            SpinnerColumn(), TextColumn("Purging: {task.completed} job(s) deleted"), TimeElapsedColumn(),
            console=err, transient=True,
        ) as progress:
            task = progress.add_task("purge", total=None)
            return await queue.purge(
                older_than, wanted, batch_size=batch_size, on_progress=lambda n: progress.advance(task, n)
            )

    deleted = state.run(work)
    if as_json:
        formatting.echo_json({"deleted": deleted})
    else:
        click.echo(f"Deleted {deleted} {what}")
