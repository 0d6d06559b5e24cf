"""The dashboard's rules over plain HTTP (the standalone app): CSRF, read-only, redirects, bulk retry,
queue controls, and the ``dbjobq web`` command."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from dbjobq import JobQueue
from dbjobq.cli import cli
from dbjobq.storage import SQLAlchemyStorage
from dbjobq.web import Dashboard, create_app

TOKEN = "http-test-token"


@pytest.fixture
async def jobq(tmp_path: Any) -> AsyncIterator[JobQueue]:
    storage = SQLAlchemyStorage(f"sqlite+aiosqlite:///{tmp_path / 'web.sqlite3'}")
    await storage.initialize()
    yield JobQueue(storage)
    await storage.close()


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def _failed(jobq: JobQueue, n: int, **options: Any) -> list[str]:
    ids = await jobq.enqueue_many("x.y", [{}] * n, **options)
    for job_id in ids:
        await jobq.cancel_job(job_id)
    from sqlalchemy import update

    from dbjobq.storage.schema import jobs

    async with jobq.storage.engine.begin() as conn:  # type: ignore[attr-defined]
        await conn.execute(update(jobs).where(jobs.c.id.in_(ids)).values(status="failed"))
    return ids


async def test_dashboard_http_read_only_without_token(jobq: JobQueue) -> None:
    job_id = (await _failed(jobq, 1))[0]
    async with _client(create_app(jobq)) as client:
        page = await client.get(f"/jobs/{job_id}")
        assert page.status_code == 200 and "Read-only" in page.text and ">Retry<" not in page.text
        refused = await client.post("/jobs/retry", data={"id": job_id, "csrf_token": client.cookies["dbjobq_csrf"]})
        assert refused.status_code == 403
    assert (await jobq.get_job(job_id)).status == "failed"  # type: ignore[union-attr]


async def test_dashboard_http_actions_need_the_csrf_token(jobq: JobQueue) -> None:
    job_id = (await _failed(jobq, 1))[0]
    async with _client(create_app(jobq, token=TOKEN)) as client:
        await client.get(f"/?token={TOKEN}")
        for form in ({"id": job_id}, {"id": job_id, "csrf_token": "x" * 43}):
            assert (await client.post("/jobs/retry", data=form)).status_code == 403
        assert (await jobq.get_job(job_id)).status == "failed"  # type: ignore[union-attr]
        done = await client.post("/jobs/retry", data={"id": job_id, "csrf_token": client.cookies["dbjobq_csrf"]})
        assert done.status_code == 303
    assert (await jobq.get_job(job_id)).status == "pending"  # type: ignore[union-attr]


async def test_dashboard_http_redirects_stay_on_the_dashboard(jobq: JobQueue) -> None:
    job_id = (await _failed(jobq, 1))[0]
    async with _client(create_app(jobq, token=TOKEN)) as client:
        await client.get(f"/?token={TOKEN}")
        await client.get("/")
        csrf = client.cookies["dbjobq_csrf"]
        answer = await client.post("/jobs/retry", data={"id": job_id, "csrf_token": csrf, "next": "//evil.example/"})
        assert answer.headers["location"].startswith(f"/jobs/{job_id}")
        assert (await client.get("/?token=wrong")).status_code == 403


async def test_dashboard_http_bulk_retry_shows_the_count_first(jobq: JobQueue) -> None:
    await _failed(jobq, 3, queue="mail")
    await _failed(jobq, 2, queue="other")
    async with _client(create_app(jobq, token=TOKEN)) as client:
        await client.get(f"/?token={TOKEN}")
        listing = await client.get("/jobs?status=failed&queue=mail")
        assert "Retry all failed jobs matching this filter" in listing.text
        confirm = await client.get("/jobs/retry-failed?queue=mail")
        assert re.search(r"send <b>3</b> failed job\(s\) of queue <b>mail</b>", confirm.text)
        done = await client.post(
            "/jobs/retry-failed", data={"queue": "mail", "type": "", "csrf_token": client.cookies["dbjobq_csrf"]}
        )
        assert "notice=retried_many" in done.headers["location"] and "n=3" in done.headers["location"]
    assert await jobq.count_jobs("failed") == 2


async def test_dashboard_http_pause_and_resume(jobq: JobQueue) -> None:
    await jobq.enqueue("x.y", queue="mail")
    async with _client(create_app(jobq)) as client:
        assert ">Pause<" not in (await client.get("/queues")).text  # read-only without a token
    async with _client(create_app(jobq, token=TOKEN)) as client:
        await client.get(f"/?token={TOKEN}")
        assert ">Pause<" in (await client.get("/queues")).text
        csrf = client.cookies["dbjobq_csrf"]
        await client.post("/queues/pause", data={"name": "mail", "csrf_token": csrf})
        assert await jobq.storage.paused_queues() == {"mail"}
        assert ">Resume<" in (await client.get("/queues")).text
        await client.post("/queues/resume", data={"name": "mail", "csrf_token": csrf})
        assert await jobq.storage.paused_queues() == set()


async def test_dashboard_http_job_page_shows_progress(jobq: JobQueue) -> None:
    job_id = await jobq.enqueue("x.y")
    [claimed] = await jobq.storage.claim_jobs(1, worker_id="w", lease_timeout=60)
    progress = {"fraction": 0.45, "message": "<b>"}
    await jobq.storage.set_job_meta(job_id, claimed.lease_token or "", {"progress": progress})
    async with _client(create_app(jobq)) as client:
        page = (await client.get(f"/jobs/{job_id}")).text
    assert 'id="job-progress"' in page and "45%" in page and "&lt;b&gt;" in page


async def test_dashboard_http_shows_jobs_claimed_ahead(jobq: JobQueue) -> None:
    await jobq.enqueue_many("x.y", [{}] * 3, queue="mail")
    claimed = await jobq.storage.claim_jobs(3, worker_id="w", lease_timeout=60)
    claims = [(job.id, job.lease_token or "") for job in claimed[:2]]
    assert len(await jobq.storage.mark_unstarted(claims)) == 2
    async with _client(create_app(jobq)) as client:
        overview, queues = (await client.get("/")).text, (await client.get("/queues")).text
        assert re.search(r'id="total-running">3</b><span class="muted" id="total-claimed">2 claimed ahead<', overview)
        assert re.search(r">3</a> <span [^>]*>\(2 claimed ahead\)</span></td>", overview)  # the queue's running cell
        assert re.search(r'<td class="num">3 <span [^>]*>\(2 claimed ahead\)</span></td>', queues)
        await jobq.storage.mark_started(claims)
        overview, queues = (await client.get("/")).text, (await client.get("/queues")).text
        assert "claimed ahead" not in overview and "claimed ahead" not in queues
        assert 'id="total-running">3<' in overview


async def test_dashboard_http_unknown_pages_and_bad_filters(jobq: JobQueue) -> None:
    async with _client(create_app(jobq, dashboard=Dashboard(page_size=2))) as client:
        assert (await client.get("/nope")).status_code == 404
        assert (await client.get("/jobs?status=bogus")).status_code == 400
        assert (await client.get("/jobs/missing-id")).status_code == 404
        missing = await client.get("/jobs?id=missing-id")
        assert missing.status_code == 303 and "notice=not_found" in missing.headers["location"]
        page = await client.get("/")
        assert page.headers["x-frame-options"] == "DENY"


def test_dashboard_http_cli_help_and_bad_token() -> None:
    runner = CliRunner()
    assert "--token" in runner.invoke(cli, ["web", "--help"]).output
    result = runner.invoke(cli, ["web", "--token", "short"])
    assert result.exit_code != 0 and "at least 8 characters" in result.output


async def test_dashboard_http_job_page_shows_flow_control(jobq: JobQueue) -> None:
    first = await jobq.enqueue("x.y", delay=3600, unique_key="invoice-<42>")
    waiting = await jobq.enqueue("x.y", depends_on=[first])
    async with _client(create_app(jobq)) as client:
        page = (await client.get(f"/jobs/{first}")).text
        assert 'id="job-unique-key"' in page and "invoice-&lt;42&gt;" in page
        page = (await client.get(f"/jobs/{waiting}")).text
        assert 'id="job-depends-on"' in page and f'/jobs/{first}"' in page
        assert ">waiting<" in page
        listing = (await client.get("/jobs?status=waiting")).text
        assert waiting in listing and first not in listing
