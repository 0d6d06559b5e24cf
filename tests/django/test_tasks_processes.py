"""Django Tasks with real `manage.py runworker` processes: a worker killed mid-task, and three workers
sharing a thousand tasks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connections, transaction

from dbjobq_django.models import Job
from dbjobq_django.tasks import WorkerLost, compat
from tests.django.conftest import per_database
from tests.django.testapp import tasks

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.processes]


def start_worker(alias: str, *args: str) -> subprocess.Popen[str]:
    """`python -m django runworker ARGS` on this test's database ``alias``."""
    name = str(connections[alias].settings_dict["NAME"])
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.django.settings", "PYTHONPATH": str(ROOT)}
    if alias == "default":
        env["DBJOBQ_DJANGO_TEST_SQLITE"] = name
    else:
        env["DBJOBQ_DJANGO_TEST_DATABASE"] = f"{alias}={name}"
    return subprocess.Popen(
        [sys.executable, "-m", "django", "runworker", "--log-level", "WARNING", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.communicate(timeout=30)[1]
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def wait_for(check: object, what: str, timeout: float, *processes: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        for process in processes:
            assert process.poll() is None, f"a worker exited early: {process.communicate()[1][-3000:]}"
        assert time.monotonic() < deadline, f"{what} within {timeout}s"
        time.sleep(0.05)


@per_database(transaction=True)
def test_tasks_worker_killed_mid_task_is_retried_and_succeeds(dbjobq: str, tmp_path: Path) -> None:
    marker = tmp_path / "started"
    result = tasks.hang_first_attempt.enqueue(str(marker))
    first = start_worker(dbjobq, "--concurrency", "1")
    try:
        wait_for(marker.exists, "the task started", 60, first)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
    finally:
        stop(first)
    result.refresh()
    assert result.status == compat.RUNNING  # its worker is gone, its lease is not: what django-tasks-db keeps forever
    # The lease (30 s by default) runs out: moved into the past here instead of waiting for it.
    Job.objects.using(dbjobq).filter(id=result.id).update(lease_expires_at=1.0)
    second = start_worker(dbjobq, "--concurrency", "1")
    try:

        def finished() -> bool:
            result.refresh()
            return result.is_finished

        wait_for(finished, "the task finished on the second worker", 60, second)
    finally:
        stop(second)
    assert result.status == compat.SUCCESSFUL, result.errors
    assert result.return_value == "recovered on attempt 2" and result.attempts == 2
    assert [e.exception_class for e in result.errors] == [WorkerLost]


@per_database(transaction=True)
def test_tasks_three_workers_run_each_of_1000_tasks_once(dbjobq: str, tmp_path: Path) -> None:
    runs = tmp_path / "runs.txt"
    with transaction.atomic(using=dbjobq):
        results = [tasks.record_run.enqueue(str(runs), str(i)) for i in range(1000)]
    workers = [start_worker(dbjobq, "--burst", "--concurrency", "10") for _ in range(3)]
    errors = [stop_after_burst(worker) for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), errors
    counts = Counter(runs.read_text().split())
    assert len(counts) == 1000 and set(counts.values()) == {1}, [k for k, n in counts.items() if n > 1][:10]
    finished = Job.objects.using(dbjobq).filter(id__in=[r.id for r in results])
    assert finished.filter(status="completed", attempts=1).count() == 1000


def stop_after_burst(process: subprocess.Popen[str]) -> str:
    try:
        return process.communicate(timeout=300)[1]
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
