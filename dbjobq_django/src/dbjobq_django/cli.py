"""``manage.py dbjobq``: the core ``dbjobq`` command line on the project's database.

The sub-commands are the core's own (``jobs``, ``job``, ``enqueue``, ``retry``, ``cancel``, ``purge``,
``stats``, ``schedules``), given DBJobQ's database from the ``DBJOBQ`` settings instead of ``--url``;
``worker`` is ``runworker``. ``init-db`` is left out: Django's migrations own the tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import click
from django.core.exceptions import ImproperlyConfigured

from dbjobq import DBJobQError
from dbjobq.integration import (
    CliState,
    DBJobQGroup,
    click_worker_options,
    configure_logging,
)
from dbjobq.integration import bulk_commands as core_bulk
from dbjobq.integration import jobs_commands as core_jobs
from dbjobq.integration import queues_commands as core_queues
from dbjobq.integration import schedules_commands as core_schedules
from dbjobq.integration import stats_commands as core_stats
from dbjobq.storage import SQLAlchemyStorage

from . import conf, worker


@dataclass(frozen=True)
class DjangoCliState(CliState):
    """The core CLI's state for DBJobQ's database (``DBJOBQ["DATABASE"]``, its engine options)."""

    engine_options: dict[str, Any] = field(default_factory=dict, repr=False)

    def storage(self) -> SQLAlchemyStorage:
        """A new, uninitialised storage for the project's database."""
        return SQLAlchemyStorage(self.url, pgbouncer=self.pgbouncer, listen_url=self.listen_url, **self.engine_options)


@click.group("dbjobq", cls=DBJobQGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def dbjobq_group(ctx: click.Context) -> None:
    """DBJobQ on the project's database: inspect and manage jobs and schedules, run a worker.

    The database is DBJOBQ["DATABASE"] (default: DATABASES["default"]); every sub-command takes
    --help. Add --json to jobs, job, stats and schedules list for scripts.
    """
    try:
        settings = conf.get_settings()
        url = settings.engine_url()
    except ImproperlyConfigured as exc:
        raise click.ClickException(str(exc)) from None
    ctx.obj = DjangoCliState(
        url=url.render_as_string(hide_password=False),
        engine_options=dict(settings.engine_options),
        **settings.storage_options(),
    )
    # As runworker: the worker's option defaults are the DBJOBQ settings (shown by `worker --help`).
    defaults = {name: value for name, value in settings.worker.options().items() if value is not None}
    ctx.default_map = {**(ctx.default_map or {}), "worker": defaults}


@dbjobq_group.command("worker", short_help="Run a worker (the same as manage.py runworker).")
@click_worker_options
def worker_command(**options: Any) -> None:
    """Run a worker on the project's database until SIGTERM/SIGINT (or until drained, with --burst).

    Jobs of installed apps' jobs.py/tasks.py are discovered; options left out take their value from
    the DBJOBQ settings, as runworker does.
    """
    configure_logging(str(options["log_level"]), str(options.get("log_format") or "text"))
    try:
        stats = worker.run_worker(options)
    except DBJobQError as exc:  # the worker stopped on an error of its own: exit non-zero
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Worker stopped: {stats.completed} completed, {stats.failed} failed, {stats.retried} retried")


for _command in (
    core_jobs.enqueue,
    core_jobs.list_jobs,
    core_jobs.show_job,
    core_bulk.retry,
    core_bulk.cancel,
    core_bulk.purge,
    core_stats.stats,
    core_schedules.schedules,
    core_queues.queues,
):
    dbjobq_group.add_command(_command)
