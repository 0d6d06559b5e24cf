"""examples/fastapi_app: the app end to end, as a program, and with a worker in its own process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import dbjobq.cli
from dbjobq import JobQueue, JobStatus
from examples.fastapi_app.main import create_app
from tests.fastapi.conftest import serve
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
ADMIN = {"X-Admin-Token": "t0ken"}
ANN = {"Authorization": "Bearer ann-token"}
BOB = {"Authorization": "Bearer bob-token"}
USERS = {"ann-token": "ann", "bob-token": "bob"}


async def finished(client: httpx.AsyncClient, status_url: str) -> dict[str, object] | None:
    body: dict[str, object] = (await client.get(status_url, headers=ANN)).json()
    return body if body["status"] in ("completed", "failed") else None


async def test_example_jobs_complete_and_admin_api_is_guarded(clean_url: str) -> None:
    app = create_app(clean_url, run_worker=True, admin_token=ADMIN["X-Admin-Token"], user_tokens=USERS,
                     poll_interval=0.1)
    async with serve(app) as client:
        signup = await client.post("/signup", json={"email": "ada@example.com"})
        assert signup.status_code == 202 and signup.json() == {"status": "accepted"}
        report = await client.post("/reports", json={"numbers": [3, 1, 4]}, headers=ANN)
        assert report.status_code == 202

        body = await wait_until(lambda: finished(client, report.json()["status_url"]))
        assert body == {"status": "completed", "result": {"count": 3, "total": 8, "largest": 4}}

        assert (await client.get("/admin/dbjobq/jobs")).status_code == 401
        assert (await client.get("/admin/dbjobq/jobs", headers={"X-Admin-Token": "no"})).status_code == 403
        page = (await client.get("/admin/dbjobq/jobs", params={"queue": "emails"}, headers=ADMIN)).json()
        assert [job["data"] for job in page["items"]] == [{"email": "ada@example.com"}]
        job_id = report.json()["job_id"]
        assert (await client.post(f"/admin/dbjobq/jobs/{job_id}/retry")).status_code == 401
        assert (await client.post(f"/admin/dbjobq/jobs/{job_id}/retry", headers=ADMIN)).status_code == 409


async def test_example_shows_a_report_to_its_owner_only(clean_url: str) -> None:
    app = create_app(clean_url, run_worker=False, admin_token="x", user_tokens=USERS)
    async with serve(app) as client:
        report = (await client.post("/reports", json={"numbers": [1]}, headers=ANN)).json()
        assert (await client.get(report["status_url"], headers=ANN)).json() == {"status": "pending", "result": None}
        # Knowing the id is not enough: another user, or nobody, gets "not found" / "sign in".
        stolen = await client.get(report["status_url"], headers=BOB)
        assert stolen.status_code == 404 and "numbers" not in stolen.text
        assert (await client.get(report["status_url"])).status_code == 401
        assert (await client.post("/reports", json={"numbers": [1]})).status_code == 401
        # Other jobs are not reports of anyone's.
        await client.post("/signup", json={"email": "bo@example.com"})
        page = (await client.get("/admin/dbjobq/jobs", params={"queue": "emails"}, headers={"X-Admin-Token": "x"}))
        [email_job] = page.json()["items"]
        assert (await client.get(f"/reports/{email_job['id']}", headers=ANN)).status_code == 404


@pytest.mark.databases("sqlite")
async def test_example_rejects_bad_input(clean_url: str) -> None:
    app = create_app(clean_url, run_worker=False, admin_token="x", user_tokens=USERS)
    async with serve(app) as client:
        assert (await client.post("/signup", json={"email": "not an email"})).status_code == 422
        assert (await client.post("/reports", json={"numbers": []}, headers=ANN)).status_code == 422
        assert (await client.get("/reports/nope", headers=ANN)).status_code == 404


@pytest.mark.slow
def test_example_runs_as_a_program() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "examples.fastapi_app"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "'status': 'completed'" in result.stdout
    assert "as bob -> 404" in result.stdout
    assert "without the token -> 401" in result.stdout


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(dbjobq.cli, "main"), reason="the `dbjobq` command is not built yet")
async def test_example_with_a_separate_worker_process(clean_url: str, queue: JobQueue) -> None:
    app = create_app(clean_url, run_worker=False, admin_token="x")
    async with serve(app) as client:
        assert (await client.post("/signup", json={"email": "bo@example.com"})).status_code == 202
    [pending] = await queue.get_pending_jobs()
    job_id = pending.id
    # The production set-up of docs/fastapi.md: the web app enqueues, a `dbjobq worker` process runs.
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("dbjobq")),
        *("worker", "--burst", "--import", "examples.fastapi_app.jobs"),
        cwd=ROOT,
        env={**os.environ, "DBJOBQ_DATABASE_URL": clean_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, output.decode()
    job = await queue.get_job(job_id)
    assert job is not None and job.status == JobStatus.COMPLETED
