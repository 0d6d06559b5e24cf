"""``dbjobq worker``: the worker's options from WorkerConfig, and a non-zero exit when the worker fails."""

from __future__ import annotations

import asyncio

import pytest

from dbjobq.worker.leases import Heartbeat
from tests.cli.conftest import Invoke


def test_cli_worker_exits_non_zero_when_a_loop_dies(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(self: Heartbeat, closing: asyncio.Event) -> None:
        raise RuntimeError("heartbeat exploded")

    monkeypatch.setattr(Heartbeat, "run", broken)
    result = invoke("worker", "--import", "cli_jobs", "--burst", "--poll-interval", "0.05", "--log-level", "ERROR")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: The worker's heartbeat loop died")
    assert "heartbeat exploded" in result.stderr


def test_cli_worker_help_lists_the_worker_options(invoke: Invoke) -> None:
    help_text = invoke("worker", "--help").stdout
    for flag in ("--concurrency", "--queue", "--lease-timeout", "--heartbeat-interval", "--prefetch", "--name"):
        assert flag in help_text
    assert "[default: 30.0]" in help_text
