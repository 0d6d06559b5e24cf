"""``dbjobq worker``: import the job modules, then run a worker until signalled (or drained, with --burst)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import click
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..execution import RunResult
from ..models import Job
from ..runner import click_worker_options, configure_logging, run_worker_blocking
from ..storage.urls import parse_url
from ..worker import Worker, WorkerStats
from . import formatting
from .imports import import_modules
from .main import CliState, pass_state


@click.command(short_help="Run a worker (until SIGTERM/Ctrl-C, or drained with --burst).")
@click.option(
    "--import", "-i", "imports", multiple=True, metavar="MODULE",
    help="Module that registers jobs with @job() (repeatable, or comma-separated). "
    "The current directory is importable.",
)
@click_worker_options
@pass_state
def worker(state: CliState, /, imports: tuple[str, ...], **options: Any) -> None:
    """Run a worker: claim due jobs, run them, record the outcomes; fire due schedules.

    SIGTERM or Ctrl-C stops it gracefully: no new jobs are claimed, running ones get --shutdown-timeout
    seconds to finish, unfinished ones go back to pending. A second signal stops it at once.
    With --burst it exits once no due job is left, printing a summary.
    """
    parse_url(state.url)
    import_modules(imports)
    burst = bool(options.get("burst"))
    started = time.monotonic()
    err = formatting.console(stderr=True)
    with _burst_progress(burst and err.is_terminal, err) as on_start:
        # Inside the progress display, so that log lines print above it instead of through it.
        configure_logging(str(options.get("log_level") or "INFO"), str(options.get("log_format") or "text"))
        result = run_worker_blocking(state.storage, options, on_start=on_start)
    if burst:
        click.echo(summary(result, time.monotonic() - started))


def summary(stats: WorkerStats, elapsed: float) -> str:
    """One line about a finished burst run."""
    return (
        f"Burst finished in {elapsed:.1f}s: {stats.completed} completed, {stats.failed} failed, "
        f"{stats.retried} retried" + (f", {stats.rejected} rejected" if stats.rejected else "")
    )


@contextlib.contextmanager
def _burst_progress(enabled: bool, console: Any) -> Iterator[Any]:
    """Yield an ``on_start`` callback that drives a live progress line while a burst run drains."""
    if not enabled:
        yield None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("Draining: {task.fields[succeeded]} completed, {task.fields[failed]} failed, "
                   "{task.fields[retried]} retried"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("burst", total=None, succeeded=0, failed=0, retried=0)

        def on_start(worker: Worker) -> None:
            def update(_job: Job, _result: RunResult | None) -> None:
                stats = worker.stats
                progress.update(task, succeeded=stats.completed, failed=stats.failed, retried=stats.retried)

            for event in ("job_succeeded", "job_failed", "job_retried"):
                worker.on(event, update)  # type: ignore[arg-type]

        yield on_start
