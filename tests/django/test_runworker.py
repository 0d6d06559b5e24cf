"""`manage.py runworker`: the core's worker options and runner, job discovery, ORM jobs, SIGTERM."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections

import dbjobq_django
from dbjobq import registry
from dbjobq_django.models import Job
from dbjobq_django.models import Worker as WorkerRow
from tests.django.conftest import per_database
from tests.django.testapp.models import Note

ROOT = Path(__file__).resolve().parents[2]


@per_database(transaction=True)
def test_runworker_burst_runs_jobs_including_orm(dbjobq: str) -> None:
    orm_job = dbjobq_django.enqueue("testapp.write_note", {"text": "written by a job", "using": dbjobq})
    async_job = dbjobq_django.enqueue("testapp.add", {"a": 20, "b": 22})
    failing = dbjobq_django.enqueue("testapp.boom", {"message": "expected failure"})
    other_queue = dbjobq_django.enqueue("testapp.add", {"a": 1, "b": 1}, queue="elsewhere")
    out = io.StringIO()

    call_command(
        "runworker", "--burst", "--concurrency", "2", "--queue", "default", "--log-level", "WARNING", stdout=out
    )

    jobs = {job.id: job for job in Job.objects.using(dbjobq).all()}
    assert jobs[orm_job].status == "completed", jobs[orm_job].error
    assert Note.objects.using(dbjobq).filter(text="written by a job").count() == 1
    assert jobs[async_job].status == "completed" and jobs[async_job].result == "42"
    assert jobs[failing].status == "failed"
    assert "RuntimeError: expected failure" in (jobs[failing].error or "")
    assert jobs[other_queue].status == "pending"  # not a served queue
    assert "2 completed, 1 failed" in out.getvalue()
    assert not WorkerRow.objects.using(dbjobq).exists()  # unregistered on the way out


@per_database(transaction=True)
def test_runworker_closes_job_connections_between_jobs(dbjobq: str) -> None:
    # One thread runs both jobs: the second finds the connection the first used already closed,
    # as Django closes a request's connection (CONN_MAX_AGE = 0) when the request ends.
    ids = [dbjobq_django.enqueue("testapp.connection_was_open", {"using": dbjobq}) for _ in range(2)]
    call_command("runworker", "--burst", "--concurrency", "1", "--log-level", "WARNING", stdout=io.StringIO())
    assert [Job.objects.using(dbjobq).get(id=i).result for i in ids] == ["false", "false"]


def test_runworker_discovers_jobs_and_wraps_sync_ones() -> None:
    from dbjobq_django.worker import discover_jobs, manage_connections

    discover_jobs()
    from tests.django.testapp import jobs

    manage_connections("testapp.write_note")
    wrapped = registry.get_spec("testapp.write_note")
    assert wrapped is not None and wrapped.func is not jobs.write_note
    assert getattr(wrapped.func, "__wrapped__", None) is jobs.write_note
    manage_connections("testapp.write_note")  # idempotent
    assert registry.get_spec("testapp.write_note") is wrapped
    manage_connections("testapp.add")  # async jobs are left alone
    add = registry.get_spec("testapp.add")
    assert add is not None and not hasattr(add.func, "__wrapped__")


def test_runworker_options_come_from_the_core(settings: Any) -> None:
    from django.core.management import load_command_class

    settings.DBJOBQ = {**settings.DBJOBQ, "CONCURRENCY": 3}
    command = load_command_class("dbjobq_django", "runworker")
    parser = command.create_parser("manage.py", "runworker")
    options = vars(parser.parse_args(["-q", "a", "--queue", "b", "--burst"]))
    assert options["concurrency"] == 3 and options["queues"] == ["a", "b"] and options["burst"] is True
    for flag in ("--poll-interval", "--schedule-poll-interval", "--shutdown-timeout", "--log-level"):
        assert flag in parser.format_help()


@pytest.mark.slow
@pytest.mark.django_db(databases=["default"], transaction=True)
def test_runworker_stops_gracefully_on_sigterm() -> None:
    database = str(connections["default"].settings_dict["NAME"])
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.django.settings",
        "DBJOBQ_DJANGO_TEST_SQLITE": database,
        "PYTHONPATH": str(ROOT),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "django", "runworker", "--poll-interval", "0.05", "--log-level", "INFO"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not WorkerRow.objects.exists():  # registered: it is running
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "SIGTERM received: stopping gracefully" in stderr
    assert "Worker stopped:" in stdout
    assert not WorkerRow.objects.exists()
