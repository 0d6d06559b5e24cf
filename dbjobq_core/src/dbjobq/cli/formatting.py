"""Output for the command line: rich tables for people, JSON for scripts.

Stored text is shown through :func:`plain` (a ``Text``, never parsed as rich markup, control characters
escaped); JSON output escapes control characters itself.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..models import Job, JobStatus, Schedule
from .durations import format_duration
from .terminal import escape_control

#: Column order for statuses in tables.
STATUSES: tuple[str, ...] = tuple(s.value for s in JobStatus)

#: Consoles at least this wide get the full tables; narrower ones (80 columns) a compact layout.
WIDE = 150

_STATUS_STYLES = {
    "pending": "yellow",
    "running": "cyan",
    "completed": "green",
    "failed": "bold red",
    "cancelled": "dim",
    "waiting": "magenta",
}


def console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr); wide when not a terminal so ids never get cut."""
    out = Console(stderr=stderr, highlight=False)
    if not out.is_terminal:
        out = Console(stderr=stderr, highlight=False, width=200)
    return out


def echo_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    click.echo(json.dumps(value, indent=2, default=_json_default, sort_keys=False))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


def job_dict(job: Job) -> dict[str, Any]:
    """A job as a JSON-ready dict (every public field; the claim token is left out)."""
    fields = dataclasses.asdict(job)
    fields.pop("lease_token", None)
    fields["status"] = job.status.value
    return fields


def schedule_dict(schedule: Schedule) -> dict[str, Any]:
    """A schedule as a JSON-ready dict."""
    fields = dataclasses.asdict(schedule)
    fields["schedule_type"] = str(schedule.schedule_type)
    return fields


def when(moment: datetime | float | None, now: float | None = None) -> str:
    """``2026-01-02 03:04:05 (5m ago)`` in UTC, or ``-``."""
    if moment is None:
        return "-"
    stamp = moment.timestamp() if isinstance(moment, datetime) else float(moment)
    now = time.time() if now is None else now
    text = datetime.fromtimestamp(stamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    delta = stamp - now
    if abs(delta) < 1:
        return f"{text} (now)"
    return f"{text} ({'in ' + format_duration(delta) if delta > 0 else format_duration(-delta) + ' ago'})"


def plain(value: object, *, style: str = "", multiline: bool = False) -> Text:
    """Stored text for a table or a line: control characters escaped, rich markup not applied."""
    return Text(escape_control("-" if value is None else str(value), keep_newlines=multiline), style=style)


def status_text(status: str) -> Text:
    """A status, coloured."""
    return plain(status, style=_STATUS_STYLES.get(status, ""))


def jobs_table(jobs: Iterable[Job], *, title: str | None = None, width: int = 200) -> Table:
    """One row per job, laid out for a console ``width`` columns wide.

    Wide consoles get every column with absolute times; narrower ones (an 80-column terminal) keep
    the whole id, status, type and queue (folded when long) and one relative time, dropping the rest.
    """
    now = time.time()
    if width < WIDE:
        table = _narrow_table(title)
        table.add_column("id", no_wrap=True)
        table.add_column("status", no_wrap=True)
        table.add_column("type", overflow="fold")
        table.add_column("queue", overflow="fold", min_width=7)
        table.add_column("when", no_wrap=True)
        for job in jobs:
            last = job.finished_at if job.is_finished else job.execute_at
            table.add_row(
                plain(job.id), status_text(job.status.value), plain(job.type), plain(job.queue), ago(last, now)
            )
        return table
    table = Table(title=title, title_justify="left")
    table.add_column("id", no_wrap=True)
    table.add_column("type", overflow="fold")
    table.add_column("queue")
    table.add_column("status")
    table.add_column("prio", justify="right")
    table.add_column("attempts", justify="right")
    table.add_column("created (UTC)", no_wrap=True)
    table.add_column("due / finished (UTC)", no_wrap=True)
    for job in jobs:
        last = job.finished_at if job.is_finished else job.execute_at
        table.add_row(
            plain(job.id),
            plain(job.type),
            plain(job.queue),
            status_text(job.status.value),
            str(job.priority),
            f"{job.attempts}/{job.max_retries + 1}",
            when(job.created_at, now),
            when(last, now),
        )
    return table


def _narrow_table(title: str | None) -> Table:
    """A table without vertical rules or outer padding (two spaces between columns), for 80 columns."""
    return Table(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), pad_edge=False, show_edge=False
    )


def ago(moment: datetime | float | None, now: float | None = None) -> str:
    """``5m ago``, ``in 2h``, ``now`` or ``-``: a relative time that fits a narrow column."""
    if moment is None:
        return "-"
    stamp = moment.timestamp() if isinstance(moment, datetime) else float(moment)
    delta = stamp - (time.time() if now is None else now)
    if abs(delta) < 1:
        return "now"
    return f"in {format_duration(delta)}" if delta > 0 else f"{format_duration(-delta)} ago"


def print_job(out: Console, job: Job) -> None:
    """Every field of one job, then its error (with the traceback) if it has one."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    fields = job_dict(job)
    error = fields.pop("error")
    for name, value in fields.items():
        if name == "status":
            table.add_row(name, status_text(str(value)))
        elif isinstance(value, datetime):
            table.add_row(name, when(value))
        elif name == "meta":
            if job.progress is not None:
                table.add_row("progress", plain(progress_text(job.progress)))
            if value:
                table.add_row(name, plain(json.dumps(value, default=str)))
        elif name in ("data", "result"):
            table.add_row(name, plain(json.dumps(value, default=str)))
        elif name == "depends_on":
            table.add_row(name, plain(", ".join(value) if value else None))
        else:
            table.add_row(name, plain(value))
    out.print(table)
    if error:
        out.print()
        out.print(Text("error:", style="bold red"))
        out.print(plain(error.rstrip(), multiline=True), soft_wrap=True)


def progress_text(progress: dict[str, Any]) -> str:
    """A job's progress as one line: ``45% (resizing 9 of 20)``."""
    fraction = progress.get("fraction")
    text = f"{fraction * 100:.0f}%" if isinstance(fraction, (int, float)) else "?"
    message = progress.get("message")
    return f"{text} ({message})" if message else text


def schedules_table(schedules: Iterable[Schedule], *, width: int = 200) -> Table:
    """One row per schedule, laid out for a console ``width`` columns wide (see :func:`jobs_table`)."""
    narrow = width < WIDE
    table = _narrow_table(None) if narrow else Table()
    table.add_column("id", overflow="fold")
    table.add_column("job type", overflow="fold")
    table.add_column("every / cron", overflow="fold")
    table.add_column("on" if narrow else "enabled", no_wrap=True)
    table.add_column("from", no_wrap=True)
    if narrow:
        table.add_column("next run", no_wrap=True)
    else:
        table.add_column("queue")
        table.add_column("next run (UTC)", no_wrap=True)
        table.add_column("last run (UTC)", no_wrap=True)
    now = time.time()
    for schedule in schedules:
        if str(schedule.schedule_type) == "interval":
            rhythm = f"every {format_duration(float(schedule.schedule_expression))}"
        else:
            rhythm = f"cron {schedule.schedule_expression}" + (f" ({schedule.tz})" if schedule.tz else "")
        enabled = Text("yes", style="green") if schedule.enabled else Text("no", style="dim")
        origin = plain(schedule.origin)
        next_run: Text | str = when(schedule.next_run, now) if schedule.enabled else Text("-")
        if narrow:
            next_run = ago(schedule.next_run, now) if schedule.enabled else Text("-")
            table.add_row(plain(schedule.id), plain(schedule.job_type), plain(rhythm), enabled, origin, next_run)
        else:
            table.add_row(
                plain(schedule.id),
                plain(schedule.job_type),
                plain(rhythm),
                enabled,
                origin,
                plain(schedule.queue),
                next_run,
                when(schedule.last_run, now),
            )
    return table


def counts_table(
    counts: Mapping[str, Mapping[str, int]],
    totals: Mapping[str, int],
    capped: Mapping[str, Sequence[str]] | None = None,
) -> Table:
    """Job counts: one row per queue, one column per status, and a total row. A count in ``capped``
    (queue to statuses) is a lower bound, shown with a "+"."""
    capped = capped or {}
    table = Table(title="Jobs by queue and status", title_justify="left")
    table.add_column("queue", overflow="fold")
    for status in STATUSES:
        table.add_column(status, justify="right", style=_STATUS_STYLES[status])
    table.add_column("total", justify="right", style="bold")

    def cells(row: Mapping[str, int], bounded: Collection[str]) -> list[str]:
        shown = [f"{row.get(s, 0)}" + ("+" if s in bounded else "") for s in STATUSES]
        return [*shown, f"{sum(row.values())}" + ("+" if bounded else "")]

    for queue_name in sorted(counts):
        table.add_row(plain(queue_name), *cells(counts[queue_name], capped.get(queue_name, ())))
    if len(counts) != 1:
        table.add_row(Text("all", style="bold"), *cells(totals, {s for c in capped.values() for s in c}))
    return table
