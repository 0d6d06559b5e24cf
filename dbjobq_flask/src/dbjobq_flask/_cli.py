"""``flask dbjobq``: the core ``dbjobq`` command line, bound to the app's database, with the worker.

``flask dbjobq worker`` reuses the core CLI's worker options and runner; the other sub-commands
(``init-db``, ``migrate``, ``jobs``, ``job``, ``enqueue``, ``retry``, ``cancel``, ``purge``, ``stats``,
``schedules``) are the core's own commands, given the app's database instead of ``--url``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from dbjobq.integration import (
    USER_ERRORS,
    CliState,
    click_worker_options,
    configure_logging,
    import_modules,
    one_line,
    run_worker_blocking,
)
from dbjobq.integration import bulk_commands as core_bulk
from dbjobq.integration import jobs_commands as core_jobs
from dbjobq.integration import migrate_commands as core_migrate
from dbjobq.integration import queues_commands as core_queues
from dbjobq.integration import schedules_commands as core_schedules
from dbjobq.integration import stats_commands as core_stats
from dbjobq.storage import SQLAlchemyStorage

from ._state import DBJobQState, state_of


@dataclass(frozen=True)
class AppCliState(CliState):
    """The core CLI's state for the app's database (with its DBJOBQ_ENGINE_OPTIONS)."""

    app_state: DBJobQState | None = None

    def storage(self) -> SQLAlchemyStorage:
        """A new, uninitialised storage for the app's database."""
        assert self.app_state is not None
        return self.app_state.new_storage()


class DBJobQAppGroup(AppGroup):
    """Flask's command group, with expected errors shown as one line (as ``dbjobq`` does)."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the sub-command, turning bad input or an unreachable database into one ``Error:`` line."""
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            raise click.ClickException(one_line(exc)) from exc


@click.group("dbjobq", cls=DBJobQAppGroup)
@with_appcontext
@click.pass_context
def dbjobq_group(ctx: click.Context) -> None:
    """DBJobQ on this app's database: run a worker, inspect and manage jobs and schedules."""
    state = _state()
    ctx.obj = AppCliState(url=state.settings.database_url, app_state=state)
    # The worker's option defaults are the app's DBJOBQ_* config: `worker --help` shows them, and
    # options left out on the command line take them.
    worker_defaults = {name: value for name, value in state.settings.worker.options().items() if value is not None}
    ctx.default_map = {**(ctx.default_map or {}), "worker": worker_defaults}


def _state() -> DBJobQState:
    try:
        return state_of(current_app._get_current_object())  # type: ignore[attr-defined]
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None


@dbjobq_group.command("worker", short_help="Run a worker on the app's database.")
@click_worker_options
@click.option("--import", "imports", multiple=True, metavar="MODULE",
              help="Import MODULE first so its @job functions are registered "
                   "(repeatable; adds to DBJOBQ_IMPORTS).")
def worker_command(imports: tuple[str, ...], **options: Any) -> None:
    """Run a worker on the app's database until SIGTERM/SIGINT (or until drained, with --burst).

    Options left out on the command line take their value from the app's DBJOBQ_* config. Jobs run
    inside this command's application context.
    """
    state = _state()
    configure_logging(options["log_level"], options.get("log_format") or "text")
    # Flask's own command line already made the app's directory importable.
    import_modules((*state.settings.imports, *imports), from_cwd=False, source="DBJOBQ_IMPORTS / --import")
    stats = run_worker_blocking(state.new_storage, options, config=state.settings.worker)
    click.echo(
        f"Worker stopped: {stats.completed} completed, {stats.failed} failed, {stats.retried} retried.",
        err=True,
    )


for _command in (
    core_jobs.init_db,
    core_migrate.migrate,
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
