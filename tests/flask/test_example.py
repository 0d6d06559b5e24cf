"""examples/flask_app runs as its README says: views enqueue, `flask dbjobq worker --burst` runs the jobs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "flask_app"


@pytest.fixture
def example_app(flask_url: str, tmp_path: Path) -> Iterator[Flask]:
    sys.path.insert(0, str(EXAMPLE))
    try:
        import flask_signup

        app = flask_signup.create_app({"TESTING": True, "DBJOBQ_DATABASE_URL": flask_url,
                                       "DBJOBQ_POLL_INTERVAL": 0.1})
        yield app
        flask_signup.jobq.close(app)
    finally:
        sys.path.remove(str(EXAMPLE))


def test_example_views_and_worker(example_app: Flask) -> None:
    client = example_app.test_client()
    signup = client.post("/signup", json={"email": "ada@example.com"})
    assert signup.status_code == 202
    report = client.post("/reports", json={"users": 3})
    assert report.status_code == 202
    assert client.post("/signup", json={}).status_code == 400
    ids: list[Any] = [signup.json["job_id"], report.json["job_id"]]  # type: ignore[index]
    assert client.get(f"/jobs/{ids[0]}").json["status"] == "pending"  # type: ignore[index]

    result = example_app.test_cli_runner().invoke(args=["dbjobq", "worker", "--burst"])
    assert result.exit_code == 0, result.output
    email = client.get(f"/jobs/{ids[0]}").json
    assert email["status"] == "completed" and email["result"] == "sent to ada@example.com"  # type: ignore[index]
    assert client.get(f"/jobs/{ids[1]}").json["result"] == {"user_count": 3, "kind": "daily"}  # type: ignore[index]
    assert client.post(f"/jobs/{ids[0]}/retry").json == {"retried": False}
    assert client.get("/jobs/nope").status_code == 404
    # A job id is not a secret: another visitor (another session) cannot see or retry the job.
    stranger = example_app.test_client()
    assert stranger.get(f"/jobs/{ids[0]}").status_code == 404
    assert stranger.post(f"/jobs/{ids[0]}/retry").status_code == 404


@pytest.mark.slow
@pytest.mark.databases("sqlite")
def test_example_real_flask_command(flask_url: str, tmp_path: Path) -> None:
    flask = Path(sys.executable).parent / "flask"
    env = {**os.environ, "FLASK_DBJOBQ_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'example.db'}"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(flask), "--app", "flask_signup", "dbjobq", *args], cwd=EXAMPLE, env=env,
                              capture_output=True, text=True, timeout=60, check=False)

    code = (
        "import flask_signup; app = flask_signup.create_app()\n"
        "with app.app_context():\n"
        "    flask_signup.jobq.enqueue('flask_signup.jobs.send_welcome_email', {'email': 'x@y.z'})\n"
    )
    enqueue = subprocess.run([sys.executable, "-c", code], cwd=EXAMPLE, env=env, capture_output=True,
                             text=True, timeout=60, check=False)
    assert enqueue.returncode == 0, enqueue.stderr
    worker = run("worker", "--burst", "--poll-interval", "0.1")
    assert worker.returncode == 0, worker.stderr
    assert "1 completed" in worker.stderr
    jobs = run("jobs", "--status", "completed")
    assert "flask_signup.jobs.send_welcome_email" in jobs.stdout
