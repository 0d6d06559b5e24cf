"""``dbjobq worker``: the worker's options from WorkerConfig, and a non-zero exit when the worker fails."""

from __future__ import annotations

import asyncio
from typing import Any

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


@pytest.mark.slow
def test_cli_worker_log_format_json(run_cli: Any, queue_name: str) -> None:
    import json

    done = run_cli("enqueue", "cli_jobs.hello", '{"name": "ada"}', "--queue", queue_name).stdout.strip()
    failed = run_cli("enqueue", "cli_jobs.boom", "--queue", queue_name).stdout.strip()
    proc = run_cli("worker", "--import", "cli_jobs", "--queue", queue_name, "--burst", "--log-format", "json")
    lines = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    assert lines and len(lines) == len([line for line in proc.stderr.splitlines() if line.strip()])
    by_job = {line.get("job_id"): line for line in lines if line.get("action") in ("job_completed", "job_failed")}
    ok, bad = by_job[done], by_job[failed]
    assert (ok["job_type"], ok["queue"], ok["attempt"], ok["outcome"]) == ("cli_jobs.hello", queue_name, 1, "completed")
    assert isinstance(ok["duration"], float) and ok["level"] == "INFO" and ok["time"].endswith("+00:00")
    assert (bad["outcome"], bad["level"]) == ("failed", "ERROR") and "kaboom" in bad["message"]
    human = run_cli("worker", "--import", "cli_jobs", "--queue", queue_name, "--burst").stderr
    assert not human.lstrip().startswith("{")  # the default stays human-readable
