"""The worker's command-line options, defined once and shared by `dbjobq worker`, Django's
`manage.py runworker` and `flask dbjobq worker` (click and argparse faces of the same list)."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from ..queue import JobQueue
from ..storage.base import BaseStorage
from ..worker import Worker, WorkerStats
from .terminal import EscapingFormatter

F = TypeVar("F", bound=Callable[..., Any])

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True)
class Option:
    """One worker option: its flags, destination keyword, type, default and help."""

    flags: tuple[str, ...]
    dest: str
    help: str
    type: type | None = None
    default: Any = None
    multiple: bool = False
    is_flag: bool = False
    choices: tuple[str, ...] | None = None


WORKER_OPTIONS: tuple[Option, ...] = (
    Option(("--concurrency", "-c"), "concurrency", "Jobs run at the same time.", int, 10),
    Option(("--queue", "-q"), "queues", "Serve only this queue (repeat for several; default: all).", str,
           multiple=True),
    Option(("--burst",), "burst", "Exit once no due job is left.", is_flag=True, default=False),
    Option(("--poll-interval",), "poll_interval", "Seconds between polls when no wake-up arrives.", float,
           1.0),
    Option(("--schedule-poll-interval",), "schedule_poll_interval", "Seconds between schedule checks.",
           float, 60.0),
    Option(("--shutdown-timeout",), "shutdown_timeout",
           "Seconds running jobs get to finish on stop before they go back to pending.", float, 30.0),
    Option(("--log-level",), "log_level", "Logging level.", str, "INFO", choices=LOG_LEVELS),
)


def click_worker_options(func: F) -> F:
    """Decorate a click command with every worker option."""
    for option in reversed(WORKER_OPTIONS):
        kwargs: dict[str, Any] = {"help": option.help, "show_default": True}
        if option.is_flag:
            kwargs.update(is_flag=True, default=option.default)
        elif option.multiple:
            kwargs.update(multiple=True, type=option.type)
        elif option.choices:
            kwargs.update(type=click.Choice(option.choices, case_sensitive=False), default=option.default)
        else:
            kwargs.update(type=option.type, default=option.default)
        func = click.option(*option.flags, option.dest, **kwargs)(func)
    return func


def add_argparse_worker_options(parser: argparse.ArgumentParser) -> None:
    """Add every worker option to an argparse parser (Django management commands)."""
    for option in WORKER_OPTIONS:
        if option.is_flag:
            parser.add_argument(*option.flags, dest=option.dest, action="store_true", help=option.help)
        elif option.multiple:
            parser.add_argument(*option.flags, dest=option.dest, action="append", type=option.type or str,
                                default=None, help=option.help)
        else:
            parser.add_argument(*option.flags, dest=option.dest, type=option.type or str,
                                default=option.default, choices=option.choices,
                                help=f"{option.help} (default: {option.default})")


def worker_kwargs(options: Mapping[str, Any]) -> dict[str, Any]:
    """The Worker keyword arguments among parsed options (``burst`` and ``log_level`` excluded)."""
    names = {o.dest for o in WORKER_OPTIONS} - {"burst", "log_level"}
    kwargs = {name: options[name] for name in names if options.get(name) is not None}
    kwargs["queues"] = list(kwargs.get("queues") or []) or None
    return kwargs


def configure_logging(level: str) -> None:
    """Log to stderr at ``level`` (only command-line entry points call this), control characters in
    messages escaped: a job's exception text reaches the operator's terminal through the log."""
    handler = logging.StreamHandler()
    handler.setFormatter(EscapingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])


def run_worker_blocking(
    make_storage: Callable[[], BaseStorage],
    options: Mapping[str, Any],
    *,
    on_start: Callable[[Worker], None] | None = None,
) -> WorkerStats:
    """Open the storage, run a worker with ``options`` until signalled (or drained, with burst), close.

    ``on_start`` receives the worker before it starts, e.g. to add hooks.
    """

    async def main() -> WorkerStats:
        storage = make_storage()
        await storage.initialize()
        try:
            worker = Worker(JobQueue(storage), **worker_kwargs(options))
            if on_start is not None:
                on_start(worker)
            await worker.run(burst=bool(options.get("burst")))
            return worker.stats
        finally:
            await storage.close()

    return asyncio.run(main())
