"""DBJobQ(url, eager=True): jobs run as routes enqueue them, under an httpx test client."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import Depends, FastAPI

from dbjobq import JobQueue, testing
from dbjobq_fastapi import DBJobQ, get_queue
from tests.fastapi import jobs


def make_app(url: str, **options: object) -> tuple[FastAPI, DBJobQ]:
    jobq = DBJobQ(url, **options)  # type: ignore[arg-type]
    app = FastAPI(lifespan=jobq.lifespan)

    @app.post("/greet/{name}")
    async def greet(name: str, queue: Annotated[JobQueue, Depends(get_queue)]) -> dict[str, str]:
        return {"job": await queue.enqueue(jobs.greet, {"name": name})}

    @app.post("/explode")
    async def explode(queue: Annotated[JobQueue, Depends(get_queue)]) -> dict[str, str]:
        return {"job": await queue.enqueue(jobs.explode, {"n": 1}, max_retries=2)}

    return app, jobq


async def test_eager_runs_jobs_under_the_test_client(clean_url: str) -> None:
    app, jobq = make_app(clean_url, eager=True)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            job_id = (await client.post("/greet/ann")).json()["job"]
            failing = (await client.post("/explode")).json()["job"]
        job = await jobq.queue.get_job(job_id)
        assert job is not None and (job.status, job.result, job.attempts) == ("completed", "hello ann", 1)
        job = await jobq.queue.get_job(failing)
        assert job is not None and (job.status, job.attempts) == ("failed", 3)  # retries back to back


async def test_testing_helpers_with_the_apps_queue(clean_url: str) -> None:
    app, jobq = make_app(clean_url)
    async with jobq.lifespan(app):
        await jobq.queue.enqueue(jobs.greet, {"name": "bo"})
        job = await testing.assert_enqueued(jobq.queue, jobs.greet, {"name": "bo"}, status="pending")
        assert (await testing.run_due_jobs(jobq.queue)).completed == 1
        done = await jobq.queue.get_job(job.id)
        assert done is not None and done.result == "hello bo"
