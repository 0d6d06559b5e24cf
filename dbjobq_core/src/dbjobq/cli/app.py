"""The assembled ``dbjobq`` command: the group from ``main`` with every sub-command attached."""

from __future__ import annotations

from typing import Any

from . import bulk, jobs, metrics, migrate, queues, schedules, stats, web, worker
from .main import cli

cli.add_command(worker.worker)
cli.add_command(jobs.enqueue)
cli.add_command(jobs.list_jobs)
cli.add_command(jobs.show_job)
cli.add_command(stats.stats)
cli.add_command(bulk.retry)
cli.add_command(bulk.cancel)
cli.add_command(bulk.purge)
cli.add_command(schedules.schedules)
cli.add_command(queues.queues)
cli.add_command(jobs.init_db)
cli.add_command(migrate.migrate)
cli.add_command(web.web)
cli.add_command(metrics.metrics)


def main(args: list[str] | None = None) -> Any:
    """Run the ``dbjobq`` command line (the console script's entry point)."""
    return cli.main(args=args, prog_name="dbjobq")
