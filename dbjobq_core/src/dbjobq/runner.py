"""Running a worker from a command: the options every worker command shares, and the blocking runner.

``dbjobq worker``, Django's ``manage.py runworker`` and ``flask dbjobq worker`` take the same options
(click and argparse faces of :class:`~dbjobq.worker.WorkerConfig`, built here) and run through
:func:`run_worker_blocking`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from .queue import JobQueue
from .storage.base import BaseStorage
from .worker import Worker, WorkerConfig, WorkerStats
from .worker import config as worker_config

F = TypeVar("F", bound=Callable[..., Any])

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")

_TYPES: dict[str, type] = {
    "concurrency": int, "prefetch": int, "error_limit": int, "queues": str, "name": str, "metrics_port": int,
    "metrics_host": str,
}


@dataclass(frozen=True)
class Option:
    """One worker command option: its flags, destination keyword, type, default and help."""

    flags: tuple[str, ...]
    dest: str
    help: str
    type: type | None = None
    default: Any = None
    multiple: bool = False
    is_flag: bool = False
    choices: tuple[str, ...] | None = None


def _config_options() -> tuple[Option, ...]:
    """The :class:`WorkerConfig` options that have command-line flags, in declaration order."""
    return tuple(
        Option(
            flags,
            name,
            worker_config.option_help(name),
            _TYPES.get(name, float),
            worker_config.default(name),
            multiple=name == "queues",
        )
        for name in worker_config.option_names()
        if (flags := worker_config.option_flags(name))
    )


#: Every option of the worker commands: the command-line options of WorkerConfig, ``--burst`` and
#: ``--log-level``.
WORKER_OPTIONS: tuple[Option, ...] = (
    *_config_options(),
    Option(("--burst",), "burst", "Exit once no due job is left.", is_flag=True, default=False),
    Option(("--log-level",), "log_level", "Logging level.", str, "INFO", choices=LOG_LEVELS),
    Option(
        ("--log-format",), "log_format", "Log lines: human-readable text, or one JSON object per line.", str, "text",
        choices=LOG_FORMATS,
    ),
)


def click_worker_options(func: F) -> F:
    """Decorate a click command with every worker option (defaults shown; a ``default_map`` wins)."""
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
            if option.default is None:
                kwargs["show_default"] = False
        func = click.option(*option.flags, option.dest, **kwargs)(func)
    return func


def add_argparse_worker_options(parser: argparse.ArgumentParser, defaults: Mapping[str, Any] | None = None) -> None:
    """Add every worker option to an argparse parser (Django management commands).

    ``defaults`` (option name -> value, e.g. from the project's settings) replace the core's defaults,
    and the help shows them.
    """
    defaults = defaults or {}
    for option in WORKER_OPTIONS:
        value = defaults.get(option.dest, option.default)
        if option.is_flag:
            parser.add_argument(*option.flags, dest=option.dest, action="store_true", help=option.help)
        elif option.multiple:
            # No argparse default: "append" would add the given queues to it.
            parser.add_argument(*option.flags, dest=option.dest, action="append", type=option.type or str,
                                default=None, help=f"{option.help} (default: {_show(value, 'all')})")
        else:
            parser.add_argument(*option.flags, dest=option.dest, type=option.type or str, default=value,
                                choices=option.choices, help=f"{option.help} (default: {_show(value, 'auto')})")


def _show(value: Any, none: str) -> str:
    if value is None:
        return none
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or none
    return str(value)


def worker_kwargs(options: Mapping[str, Any]) -> dict[str, Any]:
    """The worker options given among parsed command options (``None`` and no queues: not given)."""
    names = set(worker_config.option_names())
    kwargs = {name: value for name, value in options.items() if name in names and value is not None}
    if "queues" in kwargs:
        kwargs["queues"] = tuple(kwargs["queues"])
        if not kwargs["queues"]:
            del kwargs["queues"]
    return kwargs


def configure_logging(level: str, log_format: str = "text") -> None:
    """Log to stderr at ``level`` (only command-line entry points call this): human-readable lines with
    control characters escaped (a job's exception text reaches the operator's terminal through the
    log), or with ``log_format="json"`` one JSON object per line (:mod:`dbjobq.log_json`)."""
    from .cli.terminal import EscapingFormatter  # here: dbjobq.cli imports this module
    from .log_json import JsonFormatter

    handler = logging.StreamHandler()
    if log_format.lower() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(EscapingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])


def run_worker_blocking(
    make_storage: Callable[[], BaseStorage],
    options: Mapping[str, Any],
    *,
    config: WorkerConfig | None = None,
    on_start: Callable[[Worker], None] | None = None,
) -> WorkerStats:
    """Open the storage, run a worker until signalled (or drained, with ``burst``), close the storage.

    The worker's options are ``config`` (e.g. from the project's settings; default: the defaults)
    overridden by the command's parsed ``options``. ``on_start`` receives the worker before it starts,
    e.g. to add hooks. Raises :class:`~dbjobq.errors.WorkerError` if the worker stopped on an error.
    """
    worker_options = WorkerConfig.from_options(worker_kwargs(options), base=config)

    async def main() -> WorkerStats:
        storage = make_storage()
        await storage.initialize()
        try:
            worker = Worker.from_config(JobQueue(storage), worker_options)
            if on_start is not None:
                on_start(worker)
            await worker.run(burst=bool(options.get("burst")))
            return worker.stats
        finally:
            await storage.close()

    return asyncio.run(main())
