"""``Depends(get_queue)`` and ``QueueDep``: in routes, routers, other dependencies, sub-apps, websockets."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, WebSocket

from dbjobq import ConfigurationError, Job, JobQueue
from dbjobq_fastapi import DBJobQ, QueueDep, get_queue
from tests.fastapi import jobs
from tests.fastapi.conftest import serve


async def pending_emails(queue: QueueDep) -> list[Job]:
    """An app dependency built on get_queue."""
    return await queue.list_jobs(status="pending", queue="emails")


router = APIRouter(prefix="/emails")


@router.post("")
async def send(to: str, queue: Annotated[JobQueue, Depends(get_queue)]) -> dict[str, str]:
    return {"job_id": await queue.enqueue(jobs.send_email, {"to": to})}


@router.get("/pending")
async def pending(emails: Annotated[list[Job], Depends(pending_emails)]) -> list[str]:
    return [job.data["to"] for job in emails]


async def test_get_queue_in_routers_and_dependencies(clean_url: str) -> None:
    jobq = DBJobQ(clean_url)
    app = FastAPI(lifespan=jobq.lifespan)
    app.include_router(router)
    async with serve(app) as client:
        for to in ("ada@example.com", "bob@example.com"):
            assert (await client.post("/emails", params={"to": to})).status_code == 200
        assert (await client.get("/emails/pending")).json() == ["ada@example.com", "bob@example.com"]


async def test_get_queue_in_a_mounted_sub_application(clean_url: str) -> None:
    jobq = DBJobQ(clean_url)
    app = FastAPI(lifespan=jobq.lifespan)
    api = FastAPI()  # a mounted app's own lifespan never runs: the queue comes from the lifespan state
    api.include_router(router)
    app.mount("/api", api)
    async with serve(app) as client:
        assert (await client.post("/api/emails", params={"to": "cy@example.com"})).status_code == 200
        assert (await client.get("/api/emails/pending")).json() == ["cy@example.com"]


async def test_get_queue_without_the_lifespan_says_how_to_fix_it() -> None:
    app = FastAPI()
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)  # runs no lifespan
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        with pytest.raises(ConfigurationError, match=r"pass lifespan=jobq\.lifespan to FastAPI\(\.\.\.\)"):
            await client.get("/emails/pending")


@pytest.mark.databases("sqlite")
async def test_get_queue_accepts_a_websocket_connection(clean_url: str) -> None:
    jobq = DBJobQ(clean_url)
    app = FastAPI(lifespan=jobq.lifespan)
    async with jobq.lifespan(app):
        scope = {"type": "websocket", "path": "/ws", "headers": [], "app": app, "state": {}}
        websocket = WebSocket(scope, receive=_never, send=_never)
        assert get_queue(websocket) is jobq.queue


async def _never(*args: Any) -> Any:
    raise AssertionError("not called")
