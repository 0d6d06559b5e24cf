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


def test_runworker_discovers_jobs_and_leaves_the_registry_alone() -> None:
    from dbjobq_django.worker import discover_jobs, with_fresh_connections, worker_config

    discover_jobs()
    from tests.django.testapp import jobs

    # Django's connection handling reaches sync jobs through the worker's wrap_sync seam: the
    # registered functions stay the application's own.
    spec = registry.get_spec("testapp.write_note")
    assert spec is not None and spec.func is jobs.write_note
    assert worker_config().wrap_sync is with_fresh_connections
    assert with_fresh_connections(lambda: 42) == 42


def test_runworker_options_come_from_the_core(settings: Any) -> None:
    from django.core.management import load_command_class

    settings.DBJOBQ = {**settings.DBJOBQ, "CONCURRENCY": 3}
    command = load_command_class("dbjobq_django", "runworker")
    parser = command.create_parser("manage.py", "runworker")
    options = vars(parser.parse_args(["-q", "a", "--queue", "b", "--burst"]))
    assert options["concurrency"] == 3 and options["queues"] == ["a", "b"] and options["burst"] is True
    for flag in ("--poll-interval", "--schedule-poll-interval", "--shutdown-timeout", "--log-level"):
        assert flag in parser.format_help()


def test_runworker_help_shows_the_defaults_the_settings_give(settings: Any) -> None:
    from django.core.management import load_command_class

    settings.DBJOBQ = {**settings.DBJOBQ, "CONCURRENCY": 3, "QUEUES": ["mail", "sms"], "LEASE_TIMEOUT": 12.5}
    parser = load_command_class("dbjobq_django", "runworker").create_parser("manage.py", "runworker")
    help_text = " ".join(parser.format_help().split())
    assert "Jobs run at the same time. (default: 3)" in help_text
    assert "(default: mail, sms)" in help_text
    assert "then the job is recovered. (default: 12.5)" in help_text
    options = vars(parser.parse_args([]))
    assert options["concurrency"] == 3 and options["lease_timeout"] == 12.5 and options["queues"] is None


def test_runworker_worker_takes_every_setting(settings: Any) -> None:
    from dbjobq_django.worker import worker_config

    settings.DBJOBQ = {**settings.DBJOBQ, "QUEUES": ["mail"], "RETENTION": 60, "HEARTBEAT_INTERVAL": 1.5}
    config = worker_config()
    assert (config.queues, config.retention, config.heartbeat_interval) == (("mail",), 60.0, 1.5)


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
