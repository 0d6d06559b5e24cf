"""examples/django_project runs: a view enqueues in its transaction, the worker runs the job, the admin shows it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "django_project"

SCENARIO = r"""
import json, os
import django
django.setup()
from django.core.management import call_command
from django.test import Client
from django.contrib.auth.models import User

call_command("migrate", verbosity=0)
call_command("check", fail_level="WARNING")
client = Client()
placed = client.post("/orders/", {"email": "ada@example.com"})
assert placed.status_code == 201, placed.content
order, job_id = placed.json()["order"], placed.json()["job_id"]
assert client.post("/orders/", {"email": "not-an-email"}).status_code == 400  # rolled back: no order, no job
receipt = client.post(f"/orders/{order}/receipt/").json()["job_id"]
assert client.get(f"/jobs/{job_id}/").json()["status"] == "pending"

User.objects.create_superuser("admin", "admin@example.com", "pw")
client.login(username="admin", password="pw")
page = client.get("/admin/dbjobq/job/").content.decode()
assert job_id in page and "shop.jobs.confirm_order" in page and "Pending" in page

call_command("runworker", "--burst", "--log-level", "WARNING")

from shop.models import Order
from dbjobq_django.models import Job
assert Order.objects.get(pk=order).status == "confirmed"
assert Order.objects.count() == 1 and Job.objects.count() == 2
assert client.get(f"/jobs/{job_id}/").json() == {"id": job_id, "status": "completed",
                                                 "result": {"order": order, "status": "confirmed"}}
assert client.get(f"/jobs/{receipt}/").json()["result"] == "receipt sent to ada@example.com"
assert Client().get(f"/jobs/{job_id}/").status_code == 404  # another visitor: a job id is not a secret
detail = client.get(f"/admin/dbjobq/job/{job_id}/change/").content.decode()
assert "Completed" in detail and "&quot;status&quot;: &quot;confirmed&quot;" in detail
print("example ok")
"""


@pytest.mark.slow
def test_example_project_enqueues_runs_and_shows_jobs(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SHOP_DATABASE": str(tmp_path / "shop.sqlite3"),
        "PYTHONPATH": str(EXAMPLE),
    }
    done = subprocess.run(
        [sys.executable, "-c", SCENARIO], cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "example ok" in done.stdout


@pytest.mark.slow
def test_example_project_tests_pass(tmp_path: Path) -> None:
    env = {**os.environ, "SHOP_DATABASE": str(tmp_path / "shop.sqlite3"), "PYTHONPATH": str(EXAMPLE)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, "manage.py", "test", "shop", "--noinput"],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "OK" in done.stderr
