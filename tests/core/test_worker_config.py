"""WorkerConfig: one table of worker options, read by Worker, the command lines and the adapters."""

from __future__ import annotations

import argparse
import inspect
import re
from datetime import timedelta
from pathlib import Path

import pytest

from dbjobq import ConfigurationError, JobQueue, Worker
from dbjobq.errors import InvalidOptionError
from dbjobq.runner import WORKER_OPTIONS, add_argparse_worker_options, worker_kwargs
from dbjobq.storage import SQLAlchemyStorage
from dbjobq.worker import WorkerConfig
from dbjobq.worker.config import option_names, setting_names

ROOT = Path(__file__).resolve().parents[2]


def _queue() -> JobQueue:
    return JobQueue(SQLAlchemyStorage("sqlite+aiosqlite:///:memory:"))


def test_worker_config_defaults_are_the_workers() -> None:
    defaults = WorkerConfig()
    parameters = inspect.signature(Worker).parameters
    for name in option_names():
        assert parameters[name].default == getattr(defaults, name), name
    assert set(parameters) - {"queue"} == set(option_names())
    worker = Worker(_queue())
    assert worker.config == defaults
    assert (defaults.concurrency, defaults.poll_interval, defaults.lease_timeout) == (10, 1.0, 30.0)


def test_worker_config_normalises_values() -> None:
    config = WorkerConfig(queues=["a", "b"], retention=timedelta(hours=1), failed_retention=None)  # type: ignore[arg-type]
    assert config.queues == ("a", "b") and config.retention == 3600.0 and config.failed_retention is None
    assert WorkerConfig(queues=[]).queues is None  # type: ignore[arg-type]
    assert Worker(_queue(), queues=["mail"]).queues == ["mail"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"concurrency": 0}, "concurrency must be a positive integer, not 0"),
        ({"concurrency": True}, "concurrency must be a positive integer"),
        ({"poll_interval": 0}, "poll_interval must be a positive number of seconds"),
        ({"poll_interval": float("nan")}, "poll_interval must be a positive number"),
        ({"shutdown_timeout": -1}, "shutdown_timeout must be a number of seconds >= 0"),
        ({"queues": "mail"}, r"queues must be a list of names \(queue names, e.g. \[\"mail\"\]\)"),
        ({"queues": ["ok", ""]}, "queues must be a list of names"),
        ({"prefetch": -1}, "prefetch must be an integer >= 0"),
        ({"retention": "7d"}, "retention must be seconds, a timedelta or None"),
        ({"heartbeat_interval": 30, "lease_timeout": 10}, "heartbeat_interval .* must be shorter than lease_timeout"),
        ({"wrap_sync": 42}, "wrap_sync must be a callable"),
        ({"name": "  "}, "name must be a non-empty string"),
    ],
)
def test_worker_config_rejects_bad_values(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        WorkerConfig.from_options(options)
    with pytest.raises(ValueError, match=message):  # ConfigurationError is a ValueError: Worker(...) raises it
        Worker(_queue(), **options)  # type: ignore[arg-type]


def test_worker_config_unknown_option_suggests_the_closest() -> None:
    typo = r"Unknown worker option concurency \(did you mean concurrency\?\)"
    with pytest.raises(InvalidOptionError, match=typo) as info:
        WorkerConfig.from_options({"concurency": 4})
    assert info.value.option == "concurency"
    label = lambda name: f"DBJOBQ_{name.upper()}"  # noqa: E731
    with pytest.raises(ConfigurationError, match=r"DBJOBQ_LEASE_TIMOUT \(did you mean DBJOBQ_LEASE_TIMEOUT\?\)"):
        WorkerConfig.from_options({"lease_timout": 4}, label=label)
    with pytest.raises(ConfigurationError, match=r"DBJOBQ_HEARTBEAT_INTERVAL .* shorter than DBJOBQ_LEASE_TIMEOUT"):
        WorkerConfig.from_options({"heartbeat_interval": 40}, label=label)


def test_worker_config_from_options_layers_over_a_base() -> None:
    base = WorkerConfig(concurrency=3, queues=("mail",))
    config = WorkerConfig.from_options({"poll_interval": 0.5}, base=base)
    assert (config.concurrency, config.queues, config.poll_interval) == (3, ("mail",), 0.5)
    assert set(config.settings()) == set(setting_names())
    assert "name" not in setting_names() and "wrap_sync" not in setting_names()  # per process, per code


def test_worker_config_is_what_the_command_line_offers() -> None:
    flags = {option.dest for option in WORKER_OPTIONS} - {"burst", "log_level", "log_format"}
    assert flags <= set(option_names())
    assert {"concurrency", "queues", "lease_timeout", "heartbeat_interval", "prefetch", "name"} <= flags
    parser = argparse.ArgumentParser()
    add_argparse_worker_options(parser, {"concurrency": 3, "queues": ("mail",)})
    assert "(default: 3)" in parser.format_help() and "(default: mail)" in parser.format_help()
    parsed = vars(parser.parse_args(["--lease-timeout", "12", "-q", "a", "-q", "b"]))
    given = worker_kwargs(parsed)
    assert (given["concurrency"], given["lease_timeout"], given["queues"]) == (3, 12.0, ("a", "b"))
    assert "prefetch" not in given and "burst" not in given  # not given: None; not a worker option


def test_worker_config_docs_table_matches_the_defaults() -> None:
    """docs/workers.md lists every option of Worker(...) with WorkerConfig's default."""
    text = (ROOT / "docs" / "workers.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]+) \|", text, re.M))
    assert set(option_names()) <= set(rows)
    for name in option_names():
        shown = rows[name].strip()
        default = getattr(WorkerConfig(), name)
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            assert shown == f"`{default!r}`" or shown.startswith(("7 days", "30 days")), (name, shown)
