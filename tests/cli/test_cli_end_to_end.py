"""The real ``dbjobq`` command in subprocesses, against each database: enqueue, drain, inspect, stop."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, Invoke, command

pytestmark = pytest.mark.slow


def test_cli_enqueue_burst_worker_then_jobs_shows_outcomes(run_cli: Cli, invoke: Invoke, queue_name: str) -> None:
    ok = run_cli("enqueue", "cli_jobs.hello", '{"name": "ann"}', "--queue", queue_name).stdout.strip()
    bad = run_cli("enqueue", "cli_jobs.boom", "--queue", queue_name, "--json")
    bad_id = json.loads(bad.stdout)["id"]

    drained = run_cli("worker", "--import", "cli_jobs", "--queue", queue_name, "--burst", "--poll-interval", "0.1")
    assert "Burst finished" in drained.stdout
    assert "1 completed, 1 failed" in drained.stdout

    listed = json.loads(run_cli("jobs", "--queue", queue_name, "--json").stdout)
    assert {job["id"]: job["status"] for job in listed} == {ok: "completed", bad_id: "failed"}
    assert next(job for job in listed if job["id"] == ok)["result"] == {"greeting": "hello ann"}

    # The rest reads what the processes wrote; in-process is as good and quicker.
    shown = invoke("job", bad_id).stdout
    assert "RuntimeError: kaboom" in shown
    assert "Traceback (most recent call last)" in shown
    figures = json.loads(invoke("stats", "--json").stdout)
    assert figures["counts"][queue_name] == {"completed": 1, "failed": 1}
    assert figures["finished_last_minute"] >= 2


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            output = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"worker exited early ({proc.returncode}): {output}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {timeout}s")
        time.sleep(0.05)


@pytest.mark.databases("sqlite")
@pytest.mark.parametrize("second_signal", [False, True], ids=["graceful", "second-signal"])
def test_cli_worker_stops_on_sigterm(
    run_cli: Cli, workdir: Path, db_url: str, queue_name: str, second_signal: bool
) -> None:
    seconds = 30 if second_signal else 1
    flag = workdir / "started.flag"
    data = json.dumps({"flag": str(flag), "seconds": seconds})
    job_id = run_cli("enqueue", "cli_jobs.nap", data, "--queue", queue_name).stdout.strip()
    worker = subprocess.Popen(
        [*command(), "--url", db_url, "worker", "-i", "cli_jobs", "-q", queue_name, "--poll-interval", "0.1"],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(flag, worker)
        worker.send_signal(signal.SIGTERM)
        if second_signal:
            time.sleep(0.3)  # let the first signal be handled before the second one arrives
            worker.send_signal(signal.SIGINT)
        _, stderr = worker.communicate(timeout=15)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0, stderr
    assert "Traceback" not in stderr
    job = json.loads(run_cli("job", job_id, "--json").stdout)
    if second_signal:
        assert "stopping now" in stderr
        assert job["status"] == "pending"  # released, not lost
        assert job["attempts"] == 0
    else:
        assert job["status"] == "completed"
        assert job["result"] == "rested"


@pytest.mark.databases("sqlite")
def test_cli_bad_inputs_are_one_line_in_a_real_process(run_cli: Cli) -> None:
    for args in (
        ["--url", "postgresql://nobody@127.0.0.1/x", "jobs"],
        ["--url", "sqlite+aiosqlite:////no/such/directory/jobs.db", "jobs"],
        ["enqueue", "cli_jobs.hello", "{not json"],
    ):
        proc = run_cli(*args, check=False)
        assert proc.returncode != 0, args
        assert proc.stderr.startswith("Error: "), (args, proc.stderr)
        assert proc.stderr.count("\n") == 1, (args, proc.stderr)
        assert proc.stdout == ""


@pytest.mark.databases("sqlite")
def test_cli_runs_as_python_module(workdir: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dbjobq.cli", "--version"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("dbjobq, version ")
