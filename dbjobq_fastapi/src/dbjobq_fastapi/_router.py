"""The jobs API: list, inspect, retry and cancel jobs, and count them by queue and status.

Closed by default: job data, results and tracebacks are nobody's business but the app's. Every route
answers 403 until the app passes its own guard (``dependencies``) or says ``public=True``; retry and
cancel need ``mutation_dependencies`` as well. Everything goes through :class:`~dbjobq.JobQueue`.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, params
from fastapi import status as http

from dbjobq import JobNotFoundError, JobQueue, JobStatus

from ._dependencies import QueueDep
from ._schemas import ErrorOut, JobOut, JobPage, JobStats

#: Page size of ``GET /jobs`` when ``limit`` is not given, and the largest ``limit`` accepted.
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
#: The largest ``offset`` accepted: the database reads every row it skips, so deep pages would let
#: any caller make each request scan the table. Narrow the listing with ``status``/``queue`` instead.
MAX_OFFSET = 10_000
#: ``GET /stats`` counts a finished status of a queue up to this many jobs (then lists it in ``capped``).
STATS_COUNT_CAP = 1_000

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    http.HTTP_404_NOT_FOUND: {"model": ErrorOut, "description": "No job has that id."}
}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    http.HTTP_409_CONFLICT: {"model": ErrorOut, "description": "The job's status does not allow this."}
}

JobId = Annotated[str, Path(description="The job id.")]


async def _job_or_404(jobq: JobQueue, job_id: str) -> JobOut:
    job = await jobq.get_job(job_id)
    if job is None:
        raise HTTPException(http.HTTP_404_NOT_FOUND, detail=f"No job has id {job_id!r}")
    return JobOut.from_job(job)


async def list_jobs(
    jobq: QueueDep,
    status: Annotated[JobStatus | None, Query(description="Only jobs with this status.")] = None,
    queue: Annotated[str | None, Query(description="Only jobs of this queue.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size.")] = DEFAULT_PAGE_SIZE,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description=f"Jobs to skip (at most {MAX_OFFSET}).")] = 0,
    count: Annotated[
        bool, Query(description="Also count the jobs matching the filters over all pages (`total`); costs a scan.")
    ] = False,
) -> JobPage:
    """Jobs in creation order (by id), filtered by status and queue, one page at a time."""
    jobs = await jobq.list_jobs(status=status, limit=limit, offset=offset, queue=queue)
    total = await jobq.count_jobs(status, queue=queue) if count else None
    return JobPage(items=[JobOut.from_job(job) for job in jobs], total=total, limit=limit, offset=offset)


async def get_job(jobq: QueueDep, job_id: JobId) -> JobOut:
    """One job by id."""
    return await _job_or_404(jobq, job_id)


async def retry_job(jobq: QueueDep, job_id: JobId) -> JobOut:
    """Send a failed or cancelled job back to pending, due now, with its attempts reset."""
    try:
        retried = await jobq.retry_job(job_id)
    except JobNotFoundError:
        retried = False
    job = await _job_or_404(jobq, job_id)
    if not retried:
        raise HTTPException(
            http.HTTP_409_CONFLICT,
            detail=f"Job {job_id} is {job.status.value}: only failed or cancelled jobs can be retried",
        )
    return job


async def cancel_job(jobq: QueueDep, job_id: JobId) -> JobOut:
    """Cancel a pending or running job (a running job's late outcome is then discarded)."""
    try:
        cancelled = await jobq.cancel_job(job_id)
    except JobNotFoundError:
        cancelled = False
    job = await _job_or_404(jobq, job_id)
    if not cancelled:
        raise HTTPException(
            http.HTTP_409_CONFLICT,
            detail=f"Job {job_id} is already {job.status.value}: only pending or running jobs can be cancelled",
        )
    return job


async def job_stats(jobq: QueueDep) -> JobStats:
    """Job counts by queue and status, and the running jobs claimed ahead: pending and running exact, a
    finished status capped at 1,000 per queue (listed in ``capped``), so the answer stays cheap on any
    table size. One statement per 20 queues, as ``job_counts()``."""
    return JobStats.from_queue_stats(await jobq.queue_stats(count_cap=STATS_COUNT_CAP))


def api_closed() -> None:
    """Refuse every route of a router built with neither ``dependencies`` nor ``public=True``."""
    raise HTTPException(
        http.HTTP_403_FORBIDDEN,
        detail=(
            "The DBJobQ jobs API is closed: build it with dependencies=[Depends(your_auth_check)] "
            "(DBJobQ(..., dependencies=...) or make_router(dependencies=...)) to let your users in, "
            "or public=True to let every caller read jobs"
        ),
    )


def mutations_disabled() -> None:
    """Refuse retry and cancel on a router built without ``mutation_dependencies``."""
    raise HTTPException(
        http.HTTP_403_FORBIDDEN,
        detail=(
            "Retrying and cancelling jobs is disabled: build the router with "
            "mutation_dependencies=[Depends(your_auth_check)] (or [] to allow every caller)"
        ),
    )


def make_router(
    *,
    dependencies: Sequence[params.Depends] | None = None,
    mutation_dependencies: Sequence[params.Depends] | None = None,
    public: bool = False,
    prefix: str = "",
    tags: list[str | Enum] | None = None,
) -> APIRouter:
    """A router with the jobs API: ``GET /jobs``, ``GET /jobs/{job_id}``, ``POST /jobs/{job_id}/retry``,
    ``POST /jobs/{job_id}/cancel`` and ``GET /stats``.

    Closed by default: every route answers 403 until ``dependencies`` guard them all, e.g.
    ``[Depends(require_staff)]`` (your dependency raising ``HTTPException(401/403)``), or ``public=True``
    opens them to every caller (a public status page, or a router your gateway guards). Retry and
    cancel also need ``mutation_dependencies`` (``[Depends(require_admin)]``; an empty list adds no
    guard beyond ``dependencies``). Guards given to ``include_router`` run too, but do not open it.
    """
    guard = list(dependencies or [])
    if not guard and not public:
        guard = [Depends(api_closed)]
    router = APIRouter(prefix=prefix, tags=tags or ["dbjobq"], dependencies=guard)
    disabled = [Depends(mutations_disabled)]
    mutation_guard = disabled if mutation_dependencies is None else list(mutation_dependencies)
    router.add_api_route("/jobs", list_jobs, methods=["GET"], summary="List jobs")
    router.add_api_route("/jobs/{job_id}", get_job, methods=["GET"], summary="Get a job", responses=_NOT_FOUND)
    router.add_api_route(
        "/jobs/{job_id}/retry",
        retry_job,
        methods=["POST"],
        summary="Retry a failed or cancelled job",
        responses={**_NOT_FOUND, **_CONFLICT},
        dependencies=mutation_guard,
    )
    router.add_api_route(
        "/jobs/{job_id}/cancel",
        cancel_job,
        methods=["POST"],
        summary="Cancel a pending or running job",
        responses={**_NOT_FOUND, **_CONFLICT},
        dependencies=mutation_guard,
    )
    router.add_api_route("/stats", job_stats, methods=["GET"], summary="Job counts by queue and status")
    return router
