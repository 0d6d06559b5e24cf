"""DBJobQ for FastAPI: a lifespan, ``Depends(get_queue)`` and a jobs API router.

The library never creates the app::

    jobq = DBJobQ("sqlite+aiosqlite:///jobs.sqlite3", run_worker=True, dependencies=[Depends(require_admin)])
    app = FastAPI(lifespan=jobq.lifespan)
    app.include_router(jobq.router, prefix="/dbjobq")  # closed (403) without dependencies or public=True

    @app.post("/signup")
    async def signup(queue: QueueDep) -> dict[str, str]:
        return {"job_id": await queue.enqueue(send_welcome_email, {"to": "ada@example.com"})}
"""

from __future__ import annotations

from ._dependencies import STATE_KEY, QueueDep, get_queue
from ._extension import DBJobQ
from ._router import make_router
from ._schemas import ErrorOut, JobOut, JobPage, JobStats, StatusCounts

__all__ = [
    "STATE_KEY",
    "DBJobQ",
    "ErrorOut",
    "JobOut",
    "JobPage",
    "JobStats",
    "QueueDep",
    "StatusCounts",
    "get_queue",
    "make_router",
]
