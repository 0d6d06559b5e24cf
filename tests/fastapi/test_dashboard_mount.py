"""The mounted FastAPI dashboard is closed by default: every page refused until the app passes its guard."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException

from dbjobq_fastapi import DBJobQ
from tests.fastapi.conftest import serve


def require_admin(x_token: Annotated[str | None, Header()] = None) -> None:
    if x_token != "admin":
        raise HTTPException(status_code=401, detail="who are you?")


async def test_fastapi_dashboard_is_closed_without_dependencies(clean_url: str) -> None:
    jobq = DBJobQ(clean_url)
    app = FastAPI(lifespan=jobq.lifespan)
    app.mount("/jobs", jobq.dashboard())
    async with serve(app) as client:
        job_id = await jobq.queue.enqueue("tests.fastapi.nothing", {})
        for path in ("/jobs/", "/jobs/jobs", f"/jobs/jobs/{job_id}", "/jobs/queues"):
            assert (await client.get(path)).status_code == 403, path
        assert (await client.post("/jobs/jobs/cancel", data={"id": job_id})).status_code == 403
        job = await jobq.queue.get_job(job_id)
        assert job is not None and job.status == "pending"


async def test_fastapi_dashboard_runs_the_apps_guard(clean_url: str) -> None:
    jobq = DBJobQ(clean_url)
    app = FastAPI(lifespan=jobq.lifespan)
    app.mount("/jobs", jobq.dashboard(dependencies=[Depends(require_admin)]))
    async with serve(app) as client:
        job_id = await jobq.queue.enqueue("tests.fastapi.nothing", {})
        assert (await client.get(f"/jobs/jobs/{job_id}")).status_code == 401
        page = await client.get(f"/jobs/jobs/{job_id}", headers={"X-Token": "admin"})
        assert page.status_code == 200 and job_id in page.text


async def test_fastapi_dashboard_public_opens_pages(clean_url: str) -> None:
    jobq = DBJobQ(clean_url)
    app = FastAPI(lifespan=jobq.lifespan)
    app.mount("/jobs", jobq.dashboard(public=True))
    async with serve(app) as client:
        assert (await client.get("/jobs/")).status_code == 200


async def test_fastapi_dashboard_metrics_follow_the_pages_rules(clean_url: str) -> None:
    from tests.metrics_text import value

    jobq = DBJobQ(clean_url)
    app = FastAPI(lifespan=jobq.lifespan)
    app.mount("/closed", jobq.dashboard())
    app.mount("/jobs", jobq.dashboard(dependencies=[Depends(require_admin)]))
    async with serve(app) as client:
        await jobq.queue.enqueue_many("tests.fastapi.nothing", [{}, {}], queue="metered")
        assert (await client.get("/closed/metrics")).status_code == 403
        assert (await client.get("/jobs/metrics")).status_code == 401
        scraped = await client.get("/jobs/metrics", headers={"X-Token": "admin"})
        assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
        pending = await jobq.queue.count_jobs("pending", queue="metered")
        assert value(scraped.text, "dbjobq_jobs", queue="metered", status="pending") == pending == 2


async def test_fastapi_dashboard_metrics_include_the_embedded_workers(clean_url: str) -> None:
    import uuid

    from tests.metrics_text import value
    from tests.waiting import wait_until

    name = f"embedded-{uuid.uuid4().hex[:8]}"  # the process's worker counters outlive one test
    jobq = DBJobQ(clean_url, run_worker=True, poll_interval=0.05)
    app = FastAPI(lifespan=jobq.lifespan)
    app.mount("/jobs", jobq.dashboard(public=True))
    async with serve(app) as client:
        job_id = await jobq.queue.enqueue("tests.fastapi.jobs.greet", {"name": "ada"}, queue=name)

        async def completed() -> bool:
            job = await jobq.queue.get_job(job_id)
            return job is not None and job.status == "completed"

        await wait_until(completed)

        async def counted() -> float | None:
            text = (await client.get("/jobs/metrics")).text
            return value(text, "dbjobq_jobs_finished_total", queue=name, type="tests.fastapi.jobs.greet",
                         status="completed")

        assert await wait_until(counted) == 1
