"""The jobs API router: every endpoint, its errors, its guards (closed by default) and its OpenAPI schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Header, HTTPException
from sqlalchemy import update

from dbjobq import JobQueue, JobStatus
from dbjobq.serialization import MAX_DEPTH
from dbjobq.storage import SQLAlchemyStorage
from dbjobq.storage.schema import jobs as jobs_table
from dbjobq_fastapi import DBJobQ, make_router
from dbjobq_fastapi._router import MAX_OFFSET, STATS_COUNT_CAP
from tests.fastapi import jobs
from tests.fastapi.conftest import serve

UNKNOWN_ID = "00000000-0000-0000-0000-000000000000"


def require_user(x_token: Annotated[str | None, Header()] = None) -> None:
    """The app's own guard for reading jobs: a stand-in for real authentication."""
    if x_token is None:
        raise HTTPException(401, detail="Not authenticated")
    if x_token not in ("reader", "s3cret"):
        raise HTTPException(403, detail="Staff only")


def require_admin(x_token: Annotated[str | None, Header()] = None) -> None:
    """The app's own guard for retrying and cancelling."""
    if x_token is None:
        raise HTTPException(401, detail="Not authenticated")
    if x_token != "s3cret":
        raise HTTPException(403, detail="Admins only")


READER = {"X-Token": "reader"}
ADMIN = {"X-Token": "s3cret"}
CLOSED = "The DBJobQ jobs API is closed"
EMPTY_COUNTS = {"pending": 0, "running": 0, "completed": 0, "failed": 0, "cancelled": 0, "total": 0, "claimed": 0}


@pytest.fixture
async def jobq(clean_url: str) -> DBJobQ:
    return DBJobQ(clean_url, dependencies=[Depends(require_user)], mutation_dependencies=[Depends(require_admin)])


@pytest.fixture
async def client(jobq: DBJobQ) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a reader: it sends the reader's token unless a request says otherwise."""
    app = FastAPI(lifespan=jobq.lifespan)
    app.include_router(jobq.router, prefix="/dbjobq")
    async with serve(app) as client:
        client.headers.update(READER)
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
    assert (page["total"], page["limit"], page["offset"]) == (None, 50, 0)  # counted only on request
    assert (await client.get("/dbjobq/jobs", params={"count": True})).json()["total"] == 7
    first = page["items"][0]
    assert first["type"] == "tests.fastapi.jobs.greet" and first["data"] == {"name": "0"}
    assert first["status"] == "pending" and first["queue"] == "default" and first["attempts"] == 0
    assert "lease_token" not in first

    page = (await client.get("/dbjobq/jobs", params={"limit": 2, "offset": 1, "count": True})).json()
    assert [job["id"] for job in page["items"]] == greet_ids[1:3]
    assert (page["total"], page["limit"], page["offset"]) == (7, 2, 1)

    page = (await client.get("/dbjobq/jobs", params={"queue": "emails", "count": True})).json()
    assert [job["id"] for job in page["items"]] == [email_id] and page["total"] == 1

    page = (await client.get("/dbjobq/jobs", params={"status": "failed", "count": True})).json()
    assert [job["id"] for job in page["items"]] == [failed_id] and page["total"] == 1
    assert "RuntimeError: boom 1" in page["items"][0]["error"]

    page = (await client.get("/dbjobq/jobs", params={"status": "pending", "queue": "default", "count": True})).json()
    assert [job["id"] for job in page["items"]] == greet_ids and page["total"] == 5

    page = (await client.get("/dbjobq/jobs", params={"status": "running", "count": True})).json()
    assert page == {"items": [], "total": 0, "limit": 50, "offset": 0}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "done"}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": MAX_OFFSET + 1}, "offset"),
        ({"offset": 2**63}, "offset"),  # was a 500 (the database's integer overflowed)
        ({"count": "maybe"}, "count"),
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
    del client.headers["X-Token"]
    response = await client.post(f"/dbjobq/jobs/{job_id}/{action}")
    assert response.status_code == 401
    response = await client.post(f"/dbjobq/jobs/{job_id}/{action}", headers={"X-Token": "nope"})
    assert response.status_code == 403 and response.json() == {"detail": "Staff only"}
    response = await client.post(f"/dbjobq/jobs/{job_id}/{action}", headers=READER)
    assert response.status_code == 403 and response.json() == {"detail": "Admins only"}
    job = await jobq.queue.get_job(job_id)
    assert job is not None and job.status in (JobStatus.FAILED, JobStatus.PENDING)  # untouched
    # A reader reads.
    assert (await client.get(f"/dbjobq/jobs/{job_id}", headers=READER)).status_code == 200


async def test_router_stats(client: httpx.AsyncClient, jobq: DBJobQ) -> None:
    empty = EMPTY_COUNTS
    assert (await client.get("/dbjobq/stats")).json() == {"queues": {}, "total": empty, "capped": {}}
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
        "capped": {},
    }


async def test_router_stats_show_jobs_claimed_ahead(client: httpx.AsyncClient, jobq: DBJobQ) -> None:
    # Three jobs claimed by a worker; two of them wait in its buffer past a heartbeat (started_at emptied).
    await jobq.queue.enqueue_many(jobs.send_email, [{"to": "a"}, {"to": "b"}], queue="emails")
    await jobq.queue.enqueue(jobs.greet)
    storage = jobq.queue.storage
    claimed = await storage.claim_jobs(10, worker_id="w", lease_timeout=60)
    assert len(claimed) == 3
    emails = [(j.id, j.lease_token or "") for j in claimed if j.queue == "emails"]
    assert len(await storage.mark_unstarted(emails)) == 2
    stats = (await client.get("/dbjobq/stats")).json()
    assert stats["queues"]["emails"] == {**EMPTY_COUNTS, "running": 2, "total": 2, "claimed": 2}
    assert stats["queues"]["default"] == {**EMPTY_COUNTS, "running": 1, "total": 1}
    assert stats["total"] == {**EMPTY_COUNTS, "running": 3, "total": 3, "claimed": 2}
    # Once started they are running only.
    await storage.mark_started(emails)
    stats = (await client.get("/dbjobq/stats")).json()
    assert stats["total"] == {**EMPTY_COUNTS, "running": 3, "total": 3}


async def test_router_stats_list_capped_counts(client: httpx.AsyncClient, jobq: DBJobQ) -> None:
    # Past 1,000 cancelled jobs in a queue the count stops and says so; pending stays exact.
    await jobq.queue.enqueue_many(jobs.greet, [{}] * (STATS_COUNT_CAP + 5))
    assert await jobq.queue.cancel_jobs("pending") == STATS_COUNT_CAP + 5
    await jobq.queue.enqueue(jobs.greet)
    stats = (await client.get("/dbjobq/stats")).json()
    assert stats["capped"] == {"default": ["cancelled"]}
    assert stats["queues"]["default"]["pending"] == 1
    assert stats["queues"]["default"]["cancelled"] >= STATS_COUNT_CAP


async def test_router_is_closed_by_default(clean_url: str) -> None:
    jobq = DBJobQ(clean_url)
    app = FastAPI(lifespan=jobq.lifespan)
    app.include_router(jobq.router)
    async with serve(app) as client:
        job_id = await jobq.queue.enqueue(jobs.send_email, {"to": "ada@example.com", "card": "4111 1111"})
        for method, path in [
            ("GET", "/jobs"),
            ("GET", f"/jobs/{job_id}"),
            ("GET", "/stats"),
            ("POST", f"/jobs/{job_id}/retry"),
            ("POST", f"/jobs/{job_id}/cancel"),
        ]:
            response = await client.request(method, path, headers=ADMIN)
            assert response.status_code == 403, (method, path)
            detail = response.json()["detail"]
            assert CLOSED in detail and "dependencies=[Depends(" in detail and "public=True" in detail
            assert "ada@example.com" not in response.text
        job = await jobq.queue.get_job(job_id)
        assert job is not None and job.status == JobStatus.PENDING


async def test_router_public_opens_reads_but_not_mutations(clean_url: str) -> None:
    jobq = DBJobQ(clean_url, public=True)
    app = FastAPI(lifespan=jobq.lifespan)
    app.include_router(jobq.router)
    async with serve(app) as client:
        job_id = await jobq.queue.enqueue(jobs.greet)
        assert (await client.get(f"/jobs/{job_id}")).json()["status"] == "pending"
        assert (await client.get("/jobs")).status_code == 200 and (await client.get("/stats")).status_code == 200
        response = await client.post(f"/jobs/{job_id}/cancel")
        assert response.status_code == 403
        assert "mutation_dependencies=[Depends(" in response.json()["detail"]
        assert (await client.get(f"/jobs/{job_id}")).json()["status"] == "pending"


async def test_router_include_router_guard_alone_does_not_open_it(clean_url: str) -> None:
    # Guards given to include_router run, but the router stays closed until make_router is told.
    jobq = DBJobQ(clean_url)
    app = FastAPI(lifespan=jobq.lifespan)
    app.include_router(make_router(), prefix="/admin", dependencies=[Depends(require_admin)])
    async with serve(app) as client:
        assert (await client.get("/admin/jobs")).status_code == 401
        response = await client.get("/admin/jobs", headers=ADMIN)
        assert response.status_code == 403 and CLOSED in response.json()["detail"]


async def test_router_make_router_keeps_its_names(clean_url: str) -> None:
    jobq = DBJobQ(clean_url)
    app = FastAPI(lifespan=jobq.lifespan)
    # dependencies guard every route; an empty mutation_dependencies adds no guard beyond them.
    router = make_router(
        dependencies=[Depends(require_admin)], mutation_dependencies=[], prefix="/admin", tags=["admin"]
    )
    app.include_router(router)
    async with serve(app) as client:
        job_id = await jobq.queue.enqueue(jobs.greet)
        assert (await client.get("/admin/jobs")).status_code == 401
        assert (await client.get("/admin/stats")).status_code == 401
        assert (await client.post(f"/admin/jobs/{job_id}/cancel")).status_code == 401
        assert (await client.get("/admin/stats", headers=ADMIN)).status_code == 200
        response = await client.post(f"/admin/jobs/{job_id}/cancel", headers=ADMIN)
        assert response.status_code == 200 and response.json()["status"] == "cancelled"


async def test_router_pages_in_id_order_not_created_at(client: httpx.AsyncClient, jobq: DBJobQ) -> None:
    ids = [await jobq.queue.enqueue(jobs.greet, {"name": str(n)}) for n in range(3)]
    storage = jobq.queue.storage
    assert isinstance(storage, SQLAlchemyStorage)
    # created_at is not indexed: listing sorts by the (time-ordered) id, whatever created_at says.
    async with storage.engine.begin() as conn:
        for n, job_id in enumerate(ids):
            await conn.execute(update(jobs_table).where(jobs_table.c.id == job_id).values(created_at=1000.0 - n))
    page = (await client.get("/dbjobq/jobs")).json()
    assert [job["id"] for job in page["items"]] == ids == sorted(ids)
    page = (await client.get("/dbjobq/jobs", params={"offset": MAX_OFFSET})).json()
    assert page["items"] == [] and page["offset"] == MAX_OFFSET


async def test_router_serialises_data_at_the_depth_limit(client: httpx.AsyncClient, jobq: DBJobQ) -> None:
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(MAX_DEPTH - 1):
        deep = {"a": deep}
    job_id = await jobq.queue.enqueue(jobs.greet, deep)
    assert (await client.get(f"/dbjobq/jobs/{job_id}")).json()["data"] == deep
    assert (await client.get("/dbjobq/jobs")).status_code == 200


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
    params = {p["name"] for p in listing["parameters"]}
    assert params == {"status", "queue", "limit", "offset", "count", "x-token"}  # x-token: the app's guard
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


async def test_router_lists_an_undecodable_row_as_such(client: httpx.AsyncClient, jobq: DBJobQ) -> None:
    """One row whose data is not JSON does not fail the page (issue 20 point 2): it is listed with the reason."""
    from dbjobq.storage.schema import jobs as jobs_table

    ids = [await jobq.queue.enqueue(jobs.greet, {"name": str(n)}) for n in range(3)]
    storage = jobq.queue.storage
    assert isinstance(storage, SQLAlchemyStorage)
    async with storage.engine.begin() as conn:
        await conn.execute(update(jobs_table).where(jobs_table.c.id == ids[1]).values(data="{not json"))
    response = await client.get("/dbjobq/jobs")
    assert response.status_code == 200
    items = {item["id"]: item for item in response.json()["items"]}
    assert list(items) == ids
    assert items[ids[1]]["data"] == {} and "its data is not valid JSON" in items[ids[1]]["error"]
    assert items[ids[2]]["data"] == {"name": "2"}
    single = await client.get(f"/dbjobq/jobs/{ids[1]}")
    assert single.status_code == 200 and "its data is not valid JSON" in single.json()["error"]


async def test_router_get_job_shows_its_progress(client: httpx.AsyncClient, jobq: DBJobQ) -> None:
    job_id = await jobq.queue.enqueue("x.long_report")
    assert (await client.get(f"/dbjobq/jobs/{job_id}")).json()["progress"] is None
    storage = jobq.queue.storage
    [claimed] = await storage.claim_jobs(1, worker_id="w", lease_timeout=60)
    assert claimed.lease_token is not None
    await storage.set_job_meta(job_id, claimed.lease_token, {"progress": {"fraction": 0.3, "message": "page 3"}})
    body = (await client.get(f"/dbjobq/jobs/{job_id}")).json()
    assert body["progress"] == {"fraction": 0.3, "message": "page 3"}
