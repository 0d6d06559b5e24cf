"""``python manage.py runworker``: a DBJobQ worker on the project's database."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand

from dbjobq.integration import add_argparse_worker_options, configure_logging

from ... import conf, worker


class Command(BaseCommand):
    """Run a worker; the options are the core CLI's (``dbjobq worker``), defaults from ``DBJOBQ``."""

    help = (
        "Run a DBJobQ worker on the project's database. Jobs of installed apps' jobs.py/tasks.py are "
        "discovered. SIGTERM or Ctrl-C stops it gracefully (running jobs finish, the rest go back to pending)."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_argparse_worker_options(parser)
        settings = conf.get_settings_unchecked()
        parser.set_defaults(
            concurrency=settings.concurrency,
            poll_interval=settings.poll_interval,
            schedule_poll_interval=settings.schedule_poll_interval,
            shutdown_timeout=settings.shutdown_timeout,
        )

    def handle(self, *args: Any, **options: Any) -> None:
        configure_logging(options["log_level"])
        if not options.get("queues"):
            queues = conf.get_settings().queues
            options["queues"] = list(queues) if queues else None
        stats = worker.run_worker(options)
        self.stdout.write(
            f"Worker stopped: {stats.completed} completed, {stats.failed} failed, {stats.retried} retried"
        )
