"""`manage.py dbjobq …`: the core command line on the project's database (call_command and the shell)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connections

import dbjobq_django
from dbjobq_django.models import Job
from tests.django.conftest import insert_job, per_database

ROOT = Path(__file__).resolve().parents[2]


def dbjobq(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    call_command("dbjobq", *args)
    return capsys.readouterr().out


@per_database(transaction=True)
def test_cli_django_lists_and_manages_jobs_on_the_project_database(
    dbjobq: str, capsys: pytest.CaptureFixture[str]
) -> None:
    alias = dbjobq
    pending = dbjobq_django.enqueue("testapp.add", {"a": 1, "b": 2}, queue="emails")
    failed = [insert_job(alias, status="failed", error="boom", queue="emails") for _ in range(2)]

    listed = json.loads(_run(capsys, "jobs", "--queue", "emails", "--json"))
    assert {job["id"] for job in listed} == {pending, *failed}
    assert json.loads(_run(capsys, "job", pending, "--json"))["data"] == {"a": 1, "b": 2}
    assert json.loads(_run(capsys, "retry", "--queue", "emails", "--yes", "--json")) == {"matched": 2, "retried": 2}
    assert json.loads(_run(capsys, "cancel", pending, "--json")) == {"id": pending, "status": "cancelled"}
    statuses = dict(Job.objects.using(alias).values_list("id", "status"))
    assert statuses == {pending: "cancelled", **dict.fromkeys(failed, "pending")}
    assert json.loads(_run(capsys, "stats", "--json"))["counts"]["emails"] == {"cancelled": 1, "pending": 2}
    assert json.loads(_run(capsys, "purge", "--older-than", "7d", "--dry-run", "--json"))["would_delete"] == 0


@per_database(transaction=True, only=("sqlite",))
def test_cli_django_errors_are_command_errors(dbjobq: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(CommandError, match="No job has id 'nope'"):
        call_command("dbjobq", "job", "nope")
    with pytest.raises(CommandError, match="Give a JOB_ID, or select jobs"):
        call_command("dbjobq", "retry")
    assert "purge" in _run(capsys, "purge", "--help")


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    return dbjobq(capsys, *args)


@pytest.mark.slow
@pytest.mark.django_db(databases=["default"], transaction=True)
def test_cli_django_from_the_shell() -> None:
    job_id = dbjobq_django.enqueue("testapp.add", {"a": 1, "b": 2}, queue="shell")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.django.settings",
        "DBJOBQ_DJANGO_TEST_SQLITE": str(connections["default"].settings_dict["NAME"]),
        "PYTHONPATH": str(ROOT),
    }

    def manage(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "django", "dbjobq", *args],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, input=stdin,
        )

    listed = manage("jobs", "--queue", "shell", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [job["id"] for job in json.loads(listed.stdout)] == [job_id]
    refused = manage("cancel", "--queue", "shell", stdin="n\n")
    assert refused.returncode == 1
    assert "Cancel 1 pending or running job(s) on queue 'shell'? [y/N]" in refused.stderr
    assert refused.stderr.strip().endswith("Error: Not confirmed: nothing changed")
    cancelled = manage("cancel", "--queue", "shell", "--yes")
    assert cancelled.returncode == 0 and "1 job(s) cancelled" in cancelled.stdout
    usage = manage("purge")
    assert usage.returncode == 2
    assert "Error: Missing option '--older-than'" in usage.stderr
    assert "(see 'python -m django dbjobq purge --help')" in usage.stderr
    helped = manage("--help")
    assert helped.returncode == 0 and "retry" in helped.stdout and "schedules" in helped.stdout
    assert "init-db" not in helped.stdout  # Django's migrations own the tables


@per_database(transaction=True, only=("sqlite",))
def test_cli_django_worker_is_runworker(dbjobq: str, capsys: pytest.CaptureFixture[str]) -> None:
    job_id = dbjobq_django.enqueue("testapp.add", {"a": 2, "b": 2})
    out = _run(capsys, "worker", "--burst", "--log-level", "WARNING")
    assert "Worker stopped: 1 completed, 0 failed" in out
    assert Job.objects.using(dbjobq).get(id=job_id).status == "completed"
