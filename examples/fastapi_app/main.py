"""The example app: ``uvicorn examples.fastapi_app.main:app`` (see README.md beside this file).

Settings come from the environment: ``DBJOBQ_DATABASE_URL`` (default: a SQLite file here),
``DBJOBQ_RUN_WORKER`` (``1``: run a worker inside the app, the default; ``0``: run workers as separate
processes), ``ADMIN_TOKEN`` (the ``X-Admin-Token`` that opens the jobs API; unset: it stays closed) and
``USER_TOKENS`` (``token=name,…``: the bearer tokens of the users who may request reports).

A job id is not a secret (ids are time-ordered): a user sees a report job only if the job says they
asked for it.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
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
bearer = HTTPBearer(auto_error=False)


class AdminGuard:
    """A dependency that lets in only requests carrying ``X-Admin-Token: <token>`` (no token: no one)."""

    def __init__(self, token: str | None) -> None:
        self.token = token

    def __call__(self, given: Annotated[str | None, Depends(admin_token_header)]) -> None:
        if given is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="Send the X-Admin-Token header")
        if self.token is None or not secrets.compare_digest(given, self.token):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="Wrong admin token")


def current_user(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> str:
    """The user behind ``Authorization: Bearer <token>`` (the app's ``user_tokens``).

    A stand-in for your own authentication (sessions, OAuth2, …): what matters is that each request
    carries a user the app trusts, and that jobs record which user asked for them.
    """
    tokens: dict[str, str] = request.app.state.user_tokens
    for token, user in tokens.items():
        if credentials is not None and secrets.compare_digest(credentials.credentials, token):
            return user
    raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="Sign in: send Authorization: Bearer <token>")


#: Declare ``user: UserDep`` in a route to require a signed-in user and receive their name.
UserDep = Annotated[str, Depends(current_user)]


def parse_user_tokens(text: str) -> dict[str, str]:
    """``token=name,token2=name2`` (the ``USER_TOKENS`` variable) as a mapping."""
    pairs = (item.split("=", 1) for item in text.split(",") if "=" in item)
    return {token.strip(): name.strip() for token, name in pairs if token.strip()}


def create_app(
    url: str | None = None,
    *,
    run_worker: bool | None = None,
    admin_token: str | None = None,
    user_tokens: dict[str, str] | None = None,
    **worker_options: Any,
) -> FastAPI:
    """Build the app; arguments left out come from the environment."""
    url = url or os.environ.get("DBJOBQ_DATABASE_URL", DEFAULT_URL)
    if run_worker is None:
        run_worker = os.environ.get("DBJOBQ_RUN_WORKER", "1") != "0"
    require_admin = AdminGuard(admin_token or os.environ.get("ADMIN_TOKEN"))
    # The jobs API is closed unless guarded: only admins read it, and only they retry or cancel.
    jobq = DBJobQ(
        url,
        run_worker=run_worker,
        dependencies=[Depends(require_admin)],
        mutation_dependencies=[Depends(require_admin)],
        **worker_options,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        # Runs inside DBJobQ's lifespan (see jobq.wrap below): the queue is ready here.
        pending = await jobq.queue.list_jobs(status="pending")
        logger.info("App started: %d job(s) waiting", len(pending))
        yield {"started_with_pending": len(pending)}
        logger.info("App stopping")

    app = FastAPI(title="DBJobQ FastAPI example", lifespan=jobq.wrap(lifespan))
    app.state.user_tokens = (
        user_tokens if user_tokens is not None else parse_user_tokens(os.environ.get("USER_TOKENS", ""))
    )
    app.include_router(jobq.router, prefix="/admin/dbjobq")

    @app.post("/signup", status_code=status.HTTP_202_ACCEPTED)
    async def signup(body: Signup, queue: QueueDep) -> dict[str, str]:
        """Register a user; the welcome email goes out in the background (nothing to poll: an anonymous
        caller is shown no job)."""
        await queue.enqueue(jobs.send_welcome_email, {"email": body.email})
        return {"status": "accepted"}

    @app.post("/reports", status_code=status.HTTP_202_ACCEPTED)
    async def request_report(body: ReportRequest, user: UserDep, queue: QueueDep) -> Accepted:
        """Build a report in the background; the job records who asked for it."""
        job_id = await queue.enqueue(jobs.build_report, {"numbers": body.numbers, "owner": user})
        return Accepted(job_id=job_id, status_url=f"/reports/{job_id}")

    @app.get("/reports/{job_id}")
    async def report_status(job_id: str, user: UserDep, queue: QueueDep) -> dict[str, Any]:
        """A user's own report: its status and, once done, its result. Another user's report, or any
        other job, is "not found": a job id is not a secret, and knowing one proves nothing."""
        job = await queue.get_job(job_id)
        if job is None or job.data.get("owner") != user:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="No such report")
        return {"status": job.status.value, "result": job.result}

    return app


app = create_app()
