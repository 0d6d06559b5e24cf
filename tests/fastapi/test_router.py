"""The jobs API router: every endpoint, its errors, its guard and its OpenAPI schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI, Header, HTTPException

from dbjobq import JobQueue, JobStatus
from dbjobq_fastapi import DBJobQ, make_router
from tests.fastapi import jobs
from tests.fastapi.conftest import serve

UNKNOWN_ID = "00000000-0000-0000-0000-000000000000"


def require_admin(x_admin_token: Annotated[str | None, Header()] = None) -> None:
    """The app's own guard: a stand-in for real authentication."""
    if x_admin_token is None:
        raise HTTPException(401, detail="Not authenticated")
    if x_admin_token != "s3cret":
        raise HTTPException(403, detail="Admins only")


ADMIN = {"X-Admin-Token": "s3cret"}


@pytest.fixture
async def jobq(clean_url: str) -> DBJobQ:
    return DBJobQ(clean_url, mutation_dependencies=[Depends(require_admin)])


@pytest.fixture
async def client(jobq: DBJobQ) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI(lifespan=jobq.lifespan)
    app.include_router(jobq.router, prefix="/dbjobq")
    async with serve(app) as client:
        yield client


async def failed_job(queue: JobQueue) -> str:
    """Enqueue a job that fails, run it by hand (first: top priority): it ends failed."""
    job_id = await queue.enqueue(jobs.explode, {"n": 1}, priority=100)
    claimed = await queue.dequeue()
    assert claimed is not None and claimed.id == job_id
    await queue.execute_job(claimed)
    return job_id


async def completed_job(queue: JobQueue) -> str:
    job_id = await queue.enqueue(jobs.greet, {"name": "ada"}, priority=100)
    claimed = await queue.dequeue()
    assert claimed is not None
    await queue.execute_job(claimed)
    return job_id


async def test_router_list_jobs_filters_and_paginates(client: httpx.AsyncClient, jobq: DBJobQ) -> None:
    greet_ids = [await jobq.queue.enqueue(jobs.greet, {"name": str(n)}) for n in range(5)]
    email_id = await jobq.queue.enqueue(jobs.send_email, {"to": "ada@example.com"})
    failed_id = await failed_job(jobq.queue)

    page = (await client.get("/dbjobq/jobs")).json()
    assert [job["id"] for job in page["items"]] == [*greet_ids, email_id, failed_id]
    assert (page["total"], page["limit"], page["offset"]) == (7, 50, 0)
    first = page["items"][0]
    assert first["type"] == "tests.fastapi.jobs.greet" and first["data"] == {"name": "0"}
    assert first["status"] == "pending" and first["queue"] == "default" and first["attempts"] == 0
    assert "lease_token" not in first

    page = (await client.get("/dbjobq/jobs", params={"limit": 2, "offset": 1})).json()
    assert [job["id"] for job in page["items"]] == greet_ids[1:3]
    assert (page["total"], page["limit"], page["offset"]) == (7, 2, 1)

    page = (await client.get("/dbjobq/jobs", params={"queue": "emails"})).json()
    assert [job["id"] for job in page["items"]] == [email_id] and page["total"] == 1

    page = (await client.get("/dbjobq/jobs", params={"status": "failed"})).json()
    assert [job["id"] for job in page["items"]] == [failed_id] and page["total"] == 1
    assert "RuntimeError: boom 1" in page["items"][0]["error"]

    page = (await client.get("/dbjobq/jobs", params={"status": "pending", "queue": "default"})).json()
    assert [job["id"] for job in page["items"]] == greet_ids and page["total"] == 5

    page = (await client.get("/dbjobq/jobs", params={"status": "running"})).json()
    assert page == {"items": [], "total": 0, "limit": 50, "offset": 0}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "done"}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
async def test_router_list_jobs_rejects_bad_parameters(
    client: httpx.AsyncClient, params: dict[str, object], field: str
) -> None:
    response = await client.get("/dbjobq/jobs", params=params)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", field]


async def test_router_get_job(client: httpx.AsyncClient, jobq: DBJobQ) -> None:
    job_id = await completed_job(jobq.queue)
    response = await client.get(f"/dbjobq/jobs/{job_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == job_id and body["status"] == "completed" and body["result"] == "hello ada"
    assert body["attempts"] == 1 and body["finished_at"] is not None


async def test_router_get_unknown_job_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/dbjobq/jobs/{UNKNOWN_ID}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"No job has id {UNKNOWN_ID!r}"}


async def test_router_retry_failed_job(client: httpx.AsyncClient, jobq: DBJobQ) -> None:
    job_id = await failed_job(jobq.queue)
    response = await client.post(f"/dbjobq/jobs/{job_id}/retry", headers=ADMIN)
    assert response.status_code == 200
    assert response.json()["status"] == "pending" and response.json()["attempts"] == 0
    job = await jobq.queue.get_job(job_id)
    assert job is not None and job.status == JobStatus.PENDING


async def test_router_retry_conflicts_and_unknown(client: httpx.AsyncClient, jobq: DBJobQ) -> None:
    job_id = await completed_job(jobq.queue)
    response = await client.post(f"/dbjobq/jobs/{job_id}/retry", headers=ADMIN)
    assert response.status_code == 409
    assert response.json()["detail"] == f"Job {job_id} is completed: only failed or cancelled jobs can be retried"
    response = await client.post(f"/dbjobq/jobs/{UNKNOWN_ID}/retry", headers=ADMIN)
    assert response.status_code == 404


async def test_router_cancel_pending_job(client: httpx.AsyncClient, jobq: DBJobQ) -> None:
    job_id = await jobq.queue.enqueue(jobs.greet, {"name": "x"})
    response = await client.post(f"/dbjobq/jobs/{job_id}/cancel", headers=ADMIN)
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    # Cancelled twice: a conflict. A cancelled job can be retried.
    response = await client.post(f"/dbjobq/jobs/{job_id}/cancel", headers=ADMIN)
    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"Job {job_id} is already cancelled: only pending or running jobs can be cancelled"
    )
    response = await client.post(f"/dbjobq/jobs/{job_id}/retry", headers=ADMIN)
    assert response.status_code == 200 and response.json()["status"] == "pending"


async def test_router_cancel_unknown_job_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post(f"/dbjobq/jobs/{UNKNOWN_ID}/cancel", headers=ADMIN)
    assert response.status_code == 404
    assert response.json() == {"detail": f"No job has id {UNKNOWN_ID!r}"}


@pytest.mark.parametrize("action", ["retry", "cancel"])
async def test_router_mutations_run_the_apps_guard(client: httpx.AsyncClient, jobq: DBJobQ, action: str) -> None:
    job_id = await failed_job(jobq.queue) if action == "retry" else await jobq.queue.enqueue(jobs.greet)
    response = await client.post(f"/dbjobq/jobs/{job_id}/{action}")
    assert response.status_code == 401
    response = await client.post(f"/dbjobq/jobs/{job_id}/{action}", headers={"X-Admin-Token": "nope"})
    assert response.status_code == 403
    job = await jobq.queue.get_job(job_id)
    assert job is not None and job.status in (JobStatus.FAILED, JobStatus.PENDING)  # untouched
    # Reads are not guarded by mutation_dependencies.
    assert (await client.get(f"/dbjobq/jobs/{job_id}")).status_code == 200


async def test_router_stats(client: httpx.AsyncClient, jobq: DBJobQ) -> None:
    empty = {"pending": 0, "running": 0, "completed": 0, "failed": 0, "cancelled": 0, "total": 0}
    assert (await client.get("/dbjobq/stats")).json() == {"queues": {}, "total": empty}
    await jobq.queue.enqueue(jobs.greet)
    await jobq.queue.enqueue(jobs.send_email, {"to": "a"})
    await jobq.queue.enqueue(jobs.send_email, {"to": "b"})
    await failed_job(jobq.queue)
    stats = (await client.get("/dbjobq/stats")).json()
    assert stats == {
        "queues": {
            "default": {**empty, "pending": 1, "failed": 1, "total": 2},
            "emails": {**empty, "pending": 2, "total": 2},
        },
        "total": {**empty, "pending": 3, "failed": 1, "total": 4},
    }


async def test_router_is_read_only_without_mutation_dependencies(clean_url: str) -> None:
    jobq = DBJobQ(clean_url)
    app = FastAPI(lifespan=jobq.lifespan)
    app.include_router(jobq.router)
    async with serve(app) as client:
        job_id = await jobq.queue.enqueue(jobs.greet)
        response = await client.post(f"/jobs/{job_id}/cancel")
        assert response.status_code == 403
        assert "mutation_dependencies=[Depends(" in response.json()["detail"]
        assert (await client.get(f"/jobs/{job_id}")).json()["status"] == "pending"


async def test_router_open_mutations_and_guarded_reads(clean_url: str) -> None:
    jobq = DBJobQ(clean_url)
    app = FastAPI(lifespan=jobq.lifespan)
    # An empty list opens mutations; include_router's dependencies guard every route.
    router = make_router(mutation_dependencies=[], prefix="/admin", tags=["admin"])
    app.include_router(router, dependencies=[Depends(require_admin)])
    async with serve(app) as client:
        job_id = await jobq.queue.enqueue(jobs.greet)
        assert (await client.get("/admin/jobs")).status_code == 401
        assert (await client.get("/admin/stats")).status_code == 401
        response = await client.post(f"/admin/jobs/{job_id}/cancel", headers=ADMIN)
        assert response.status_code == 200 and response.json()["status"] == "cancelled"


@pytest.mark.databases("sqlite")
async def test_router_openapi_schema(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert set(schema["paths"]) == {
        "/dbjobq/jobs",
        "/dbjobq/jobs/{job_id}",
        "/dbjobq/jobs/{job_id}/retry",
        "/dbjobq/jobs/{job_id}/cancel",
        "/dbjobq/stats",
    }
    assert {"JobOut", "JobPage", "JobStats", "StatusCounts", "ErrorOut", "JobStatus"} <= set(
        schema["components"]["schemas"]
    )
    assert schema["components"]["schemas"]["JobStatus"]["enum"] == [s.value for s in JobStatus]
    listing = schema["paths"]["/dbjobq/jobs"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"status", "queue", "limit", "offset"}
    ok = listing["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/JobPage"}
    retry = schema["paths"]["/dbjobq/jobs/{job_id}/retry"]["post"]
    assert {"200", "404", "409", "422"} <= set(retry["responses"])
    assert retry["tags"] == ["dbjobq"]


async def test_router_cancel_running_job(client: httpx.AsyncClient, jobq: DBJobQ) -> None:
    job_id = await jobq.queue.enqueue(jobs.greet)
    claimed = await jobq.queue.dequeue()
    assert claimed is not None and claimed.id == job_id
    response = await client.post(f"/dbjobq/jobs/{job_id}/cancel", headers=ADMIN)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    await jobq.queue.execute_job(claimed)  # the late outcome is rejected: the job stays cancelled
    assert (await client.get(f"/dbjobq/jobs/{job_id}")).json()["status"] == "cancelled"
