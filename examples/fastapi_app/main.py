"""The example app: ``uvicorn examples.fastapi_app.main:app`` (see README.md beside this file).

Settings come from the environment: ``DBJOBQ_DATABASE_URL`` (default: a SQLite file here),
``DBJOBQ_RUN_WORKER`` (``1``: run a worker inside the app, the default; ``0``: run workers as separate
processes) and ``ADMIN_TOKEN`` (the ``X-Admin-Token`` that opens the jobs API; unset: it stays closed).
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field

from dbjobq_fastapi import DBJobQ, QueueDep

from . import jobs

logger = logging.getLogger(__name__)

DEFAULT_URL = "sqlite+aiosqlite:///fastapi_app.sqlite3"


class Signup(BaseModel):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)


class ReportRequest(BaseModel):
    numbers: list[int] = Field(min_length=1, max_length=10_000)


class Accepted(BaseModel):
    job_id: str
    status_url: str


admin_token_header = APIKeyHeader(name="X-Admin-Token", auto_error=False)


class AdminGuard:
    """A dependency that lets in only requests carrying ``X-Admin-Token: <token>`` (no token: no one)."""

    def __init__(self, token: str | None) -> None:
        self.token = token

    def __call__(self, given: Annotated[str | None, Depends(admin_token_header)]) -> None:
        if given is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="Send the X-Admin-Token header")
        if self.token is None or not secrets.compare_digest(given, self.token):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="Wrong admin token")


def create_app(
    url: str | None = None,
    *,
    run_worker: bool | None = None,
    admin_token: str | None = None,
    **worker_options: Any,
) -> FastAPI:
    """Build the app; arguments left out come from the environment."""
    url = url or os.environ.get("DBJOBQ_DATABASE_URL", DEFAULT_URL)
    if run_worker is None:
        run_worker = os.environ.get("DBJOBQ_RUN_WORKER", "1") != "0"
    require_admin = AdminGuard(admin_token or os.environ.get("ADMIN_TOKEN"))
    jobq = DBJobQ(url, run_worker=run_worker, mutation_dependencies=[Depends(require_admin)], **worker_options)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        # Runs inside DBJobQ's lifespan (see jobq.wrap below): the queue is ready here.
        pending = await jobq.queue.list_jobs(status="pending")
        logger.info("App started: %d job(s) waiting", len(pending))
        yield {"started_with_pending": len(pending)}
        logger.info("App stopping")

    app = FastAPI(title="DBJobQ FastAPI example", lifespan=jobq.wrap(lifespan))
    app.include_router(jobq.router, prefix="/admin/dbjobq", dependencies=[Depends(require_admin)])

    @app.post("/signup", status_code=status.HTTP_202_ACCEPTED)
    async def signup(body: Signup, queue: QueueDep) -> Accepted:
        """Register a user; the welcome email goes out in the background."""
        job_id = await queue.enqueue(jobs.send_welcome_email, {"email": body.email})
        return Accepted(job_id=job_id, status_url=f"/jobs/{job_id}")

    @app.post("/reports", status_code=status.HTTP_202_ACCEPTED)
    async def request_report(body: ReportRequest, queue: QueueDep) -> Accepted:
        """Build a report in the background."""
        job_id = await queue.enqueue(jobs.build_report, {"numbers": body.numbers})
        return Accepted(job_id=job_id, status_url=f"/jobs/{job_id}")

    @app.get("/jobs/{job_id}")
    async def job_status(job_id: str, queue: QueueDep) -> dict[str, Any]:
        """What a user may see of their job: its status and, once done, its result."""
        job = await queue.get_job(job_id)
        if job is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="No such job")
        return {"status": job.status.value, "result": job.result}

    return app


app = create_app()
