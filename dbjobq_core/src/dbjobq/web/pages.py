"""The dashboard's pages (GET): overview, jobs, one job, schedules, workers, queues."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..models import FINISHED_STATUSES, JobStatus, QueueStats
from . import controls
from .http import WebResponse
from .render import throughput_chart

if TYPE_CHECKING:
    from .dashboard import Context

#: A worker whose heartbeat is older than this is shown as not alive (the default lease is 30 s).
ALIVE_SECONDS = 60.0

STATUSES = [s.value for s in JobStatus]

#: Messages a redirect may ask for (``?notice=…``): fixed texts, so no request can write on the page.
NOTICES = {
    "retried": "Job sent back to pending.",
    "not_retried": "Only failed or cancelled jobs can be retried.",
    "cancelled": "Job cancelled.",
    "not_cancelled": "Only pending or running jobs can be cancelled.",
    "deleted": "Job deleted.",
    "not_deleted": "Only finished jobs can be deleted: cancel it first.",
    "retried_many": "{n} failed job(s) sent back to pending.",
    "enabled": "Schedule enabled.",
    "disabled": "Schedule disabled.",
    "ran": "Schedule run now: job {job} enqueued.",
    "schedule_deleted": "Schedule deleted.",
    "paused": "Queue paused: its jobs stay pending until it is resumed.",
    "resumed": "Queue resumed.",
    "not_found": "No job has id {job}.",
}


def notice(query: Mapping[str, str]) -> str | None:
    """The text of the notice a redirect asked for, or ``None``."""
    text = NOTICES.get(query.get("notice", ""))
    if text is None:
        return None
    count = query.get("n", "")
    return text.format(n=int(count) if count.isdigit() else 0, job=query.get("job", "")[:64])


async def overview(ctx: Context) -> WebResponse:
    """Counts per queue and status, oldest waits, workers, and the self-refreshing throughput chart."""
    return ctx.page("overview.html", active="overview", **await _live(ctx))


async def overview_live(ctx: Context) -> WebResponse:
    """The overview's live part alone, which the page fetches again every few seconds."""
    return ctx.page("_live.html", **await _live(ctx))


async def _live(ctx: Context) -> dict[str, Any]:
    queue = ctx.queue
    now = await ctx.queue.now()
    stats = await queue.queue_stats(ctx.dashboard.count_cap)
    workers = await queue.list_workers()
    totals = {status: sum(s.counts.get(status, 0) for s in stats) for status in STATUSES}
    capped = {status for s in stats for status in s.capped}
    return {
        "now": now,
        "stats": stats,
        "statuses": STATUSES,
        "totals": totals,
        "capped_totals": capped,
        "claimed_total": sum(s.claimed for s in stats),
        "count_cap": ctx.dashboard.count_cap,
        "alive": sum(1 for w in workers if now - w.last_heartbeat < ALIVE_SECONDS),
        "workers_known": len(workers),
        "chart": throughput_chart(await queue.throughput(60, now=now)),
    }


async def jobs(ctx: Context) -> WebResponse:
    """Jobs newest first, filtered by status, queue and type, paged by id; an id goes to its page."""
    query = ctx.request.query
    wanted_id = query.get("id", "").strip()
    if wanted_id:
        if await ctx.queue.get_job(wanted_id) is not None:
            return WebResponse(status=303, location=ctx.url(f"/jobs/{wanted_id}"))
        return WebResponse(status=303, location=ctx.url("/jobs", notice="not_found", job=wanted_id))
    status = query.get("status") or None
    if status is not None and status not in STATUSES:
        return ctx.page("error.html", status=400, status_code=400, active="jobs",
                        message=f"Unknown status: choose one of {', '.join(STATUSES)}.")
    queue_name, job_type = query.get("queue") or None, query.get("type") or None
    before, after = query.get("before") or None, query.get("after") or None
    size = ctx.dashboard.page_size
    found = await ctx.queue.page_jobs(
        status, queue=queue_name, job_type=job_type, before=before, after=None if before else after, limit=size + 1
    )
    if after and not before:
        has_newer, has_older = len(found) > size, True
        found = found[-size:]
    else:
        has_newer, has_older = before is not None, len(found) > size
        found = found[:size]
    filters = {"status": status, "queue": queue_name, "type": job_type}
    return ctx.page(
        "jobs.html",
        active="jobs",
        jobs=found,
        filters=filters,
        statuses=STATUSES,
        queues=[s.name for s in await ctx.queue.queue_stats(1)],
        newer_url=ctx.url("/jobs", after=found[0].id, **filters) if has_newer and found else None,
        older_url=ctx.url("/jobs", before=found[-1].id, **filters) if has_older and found else None,
        retry_all_url=ctx.url("/jobs/retry-failed", queue=queue_name, type=job_type) if status == "failed" else None,
        now=await ctx.queue.now(),
    )


async def confirm_retry_failed(ctx: Context) -> WebResponse:
    """How many failed jobs "retry all" would send back, before it runs."""
    queue_name = ctx.request.query.get("queue") or None
    job_type = ctx.request.query.get("type") or None
    count = await ctx.queue.count_jobs(JobStatus.FAILED, queue=queue_name, job_type=job_type)
    return ctx.page(
        "confirm_retry.html", active="jobs", count=count, queue_name=queue_name, job_type=job_type,
        back_url=ctx.url("/jobs", status="failed", queue=queue_name, type=job_type),
    )


async def job(ctx: Context) -> WebResponse:
    """One job: payload, result, error and traceback, attempts, every time, worker, and its actions."""
    found = await ctx.queue.get_job(ctx.params["job_id"])
    if found is None:
        return ctx.page("error.html", status=404, status_code=404, active="jobs", message="No job has that id.")
    return ctx.page(
        "job.html",
        active="jobs",
        job=found,
        now=await ctx.queue.now(),
        can_retry=found.status in (JobStatus.FAILED, JobStatus.CANCELLED),
        can_cancel=found.status in (JobStatus.PENDING, JobStatus.RUNNING),
        can_delete=found.status in FINISHED_STATUSES,
    )


async def schedules(ctx: Context) -> WebResponse:
    """Every schedule with its next and last run, and Enable/Disable, Run now, Delete."""
    found = await ctx.queue.list_schedules()
    return ctx.page("schedules.html", active="schedules", schedules=found, now=await ctx.queue.now())


async def workers(ctx: Context) -> WebResponse:
    """Registered workers: host, pid, queues, concurrency, last heartbeat, and the jobs they run."""
    now = await ctx.queue.now()
    running: dict[str, list[Any]] = {}
    for found in await ctx.queue.page_jobs(JobStatus.RUNNING, limit=1000):
        running.setdefault(found.worker_id or "", []).append(found)
    return ctx.page(
        "workers.html", active="workers", workers=await ctx.queue.list_workers(), running=running,
        now=now, alive_seconds=ALIVE_SECONDS,
    )


async def queues(ctx: Context) -> WebResponse:
    """Each queue's depth (pending, due or not), running jobs (and those claimed ahead, not started) and
    oldest wait; Pause/Resume when the queue supports queue controls."""
    stats: list[QueueStats] = await ctx.queue.queue_stats(ctx.dashboard.count_cap)
    paused = await controls.paused_queues(ctx.queue)
    return ctx.page(
        "queues.html", active="queues", stats=stats, now=await ctx.queue.now(),
        controls=controls.available(ctx.queue), paused=paused,
    )
