"""``python manage.py runworker``: a DBJobQ worker on the project's database."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from dbjobq import DBJobQError
from dbjobq.integration import add_argparse_worker_options, configure_logging

from ... import conf, worker


class Command(BaseCommand):
    """Run a worker; the options are the core CLI's (``dbjobq worker``), defaults from ``DBJOBQ``."""

    help = (
        "Run a DBJobQ worker on the project's database. Jobs of installed apps' jobs.py/tasks.py are "
        "discovered. SIGTERM or Ctrl-C stops it gracefully (running jobs finish, the rest go back to pending)."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        try:
            defaults = conf.get_settings_unchecked().worker.options()
        except ImproperlyConfigured:
            defaults = None  # the system checks report the bad value before the command runs
        add_argparse_worker_options(parser, defaults)

    def handle(self, *args: Any, **options: Any) -> None:
        configure_logging(options["log_level"], options.get("log_format") or "text")
        try:
            stats = worker.run_worker(options)
        except DBJobQError as exc:  # the worker stopped on an error of its own: exit non-zero
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Worker stopped: {stats.completed} completed, {stats.failed} failed, {stats.retried} retried"
        )
