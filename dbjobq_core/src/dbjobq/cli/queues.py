"""``dbjobq queues list|pause|resume``: durable queue controls (every worker stops claiming from a paused
queue; its jobs stay pending, running ones finish)."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime, timezone

import click
from rich.table import Table

from ..models import QueueInfo
from ..queue import JobQueue
from . import formatting
from .durations import format_duration, parse_duration
from .main import CliState, pass_state


def parse_until(text: str, now: float | None = None) -> float:
    """``--until``: a duration from now (``30m``, ``2h``) or an ISO 8601 time (UTC unless it says), as
    epoch seconds; ``click.BadParameter`` otherwise."""
    try:
        return (time.time() if now is None else now) + parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither a duration (30m, 2h, 1d) nor an ISO time (2026-01-31T18:00)", param_hint="--until"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def queues_table(found: list[QueueInfo]) -> Table:
    """One row per queue: state, pending, running, oldest due job's wait."""
    table = Table(box=None, pad_edge=False)
    for column in ("queue", "state", "pending", "running", "oldest waiting"):
        right = column in ("pending", "running")
        table.add_column(column, no_wrap=column != "queue", justify="right" if right else "left")
    for info in found:
        state = "running"
        if info.paused:
            state = "paused" + ("" if info.paused_until is None else f" {formatting.when(info.paused_until)}")
        age = "-" if info.oldest_pending_age is None else format_duration(info.oldest_pending_age)
        table.add_row(formatting.plain(info.name), state, str(info.pending), str(info.running), age)
    return table


@click.group(short_help="List queues; pause and resume them.")
def queues() -> None:
    """List queues with their state and backlog; pause a queue (every worker stops claiming from it, its
    jobs stay pending, running ones finish) and resume it."""


@queues.command("list", short_help="Queues: paused or not, pending, running, oldest wait.")
@click.option("--json", "as_json", is_flag=True, help="Print the queues as JSON.")
@pass_state
def list_queues(state: CliState, as_json: bool) -> None:
    """Every queue with jobs or a pause: its state, pending and running jobs, the oldest due job's wait."""
    found = state.run(lambda queue: queue.list_queues())
    if as_json:
        formatting.echo_json([dataclasses.asdict(info) for info in found])
    elif not found:
        click.echo("No queues.")
    else:
        formatting.console().print(queues_table(found))


@queues.command(short_help="Pause a queue on every worker.")
@click.argument("name")
@click.option("--until", "until", metavar="WHEN", help="Resume by itself: a duration (30m, 2h) or an ISO time.")
@pass_state
def pause(state: CliState, name: str, until: str | None) -> None:
    """Stop every worker claiming jobs from queue NAME until `dbjobq queues resume NAME` (or --until)."""
    if until is not None:
        parse_until(until)  # a bad value is a usage error before any work

    async def work(queue: JobQueue) -> float | None:
        # A duration counts from the database's clock, which workers judge the pause by.
        until_epoch = None if until is None else parse_until(until, await queue.now())
        await queue.pause_queue(name, until=until_epoch)
        return until_epoch

    until_epoch = state.run(work)
    suffix = ""
    if until_epoch is not None:
        suffix = f" until {datetime.fromtimestamp(until_epoch, timezone.utc):%Y-%m-%d %H:%M:%S} UTC"
    click.echo(f"Paused queue {name}{suffix}.")


@queues.command(short_help="Resume a paused queue.")
@click.argument("name")
@pass_state
def resume(state: CliState, name: str) -> None:
    """Let workers claim jobs from queue NAME again."""

    async def work(queue: JobQueue) -> None:
        await queue.resume_queue(name)

    state.run(work)
    click.echo(f"Resumed queue {name}.")
