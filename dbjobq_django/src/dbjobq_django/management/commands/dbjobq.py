"""``python manage.py dbjobq …``: the ``dbjobq`` command line on the project's database."""

from __future__ import annotations

import argparse
import os
from typing import Any

import click
from django.core.management.base import BaseCommand, CommandError

from dbjobq.integration import one_line

from ...cli import dbjobq_group

#: Django's own options, which ``manage.py`` reads before the command runs (not the command's).
_DJANGO_OPTIONS = ("--settings", "--pythonpath")


class Command(BaseCommand):
    """The core CLI's sub-commands (``jobs``, ``retry``, ``purge``, ``schedules`` …) on DBJobQ's database.

    From the shell the arguments go to the click group as they are (``manage.py dbjobq jobs --help``);
    ``call_command("dbjobq", "jobs", "--json")`` works too, failures raising ``CommandError``.
    """

    help = (
        "Inspect and manage DBJobQ jobs and schedules on the project's database: "
        "manage.py dbjobq jobs|job|enqueue|retry|cancel|purge|stats|schedules|worker (each takes --help)."
    )

    def run_from_argv(self, argv: list[str]) -> None:
        """Hand everything after ``dbjobq`` to the click group (it prints errors as one line)."""
        args = _without_django_options(argv[2:])
        program = os.path.basename(argv[0])
        prog = f"{'python -m django' if program == '__main__.py' else program} {argv[1]}"  # as Django names it
        dbjobq_group.main(args=args, prog_name=prog)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("args", nargs=argparse.REMAINDER, help="A sub-command and its arguments.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            dbjobq_group.main(args=list(args), prog_name="manage.py dbjobq", standalone_mode=False)
        except click.exceptions.Exit as exc:
            if exc.exit_code:
                raise CommandError(f"exit code {exc.exit_code}", returncode=exc.exit_code) from None
        except click.ClickException as exc:
            raise CommandError(one_line(exc), returncode=exc.exit_code) from None
        except click.Abort:
            raise CommandError("Aborted.") from None


def _without_django_options(args: list[str]) -> list[str]:
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _DJANGO_OPTIONS:
            skip = True  # "--settings proj.settings": its value follows
        elif not arg.startswith(tuple(f"{o}=" for o in _DJANGO_OPTIONS)):
            kept.append(arg)
    return kept
