"""The dashboard's actions (POST), each a JobQueue call followed by a redirect that names the outcome.

CSRF and authorization are checked before any of these runs (``Dashboard.handle``). The target comes
from the form (``id`` or ``name``), never from the URL, so ids holding any character are safe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import JobNotFoundError, ScheduleNotFoundError
from . import controls
from .http import WebResponse

if TYPE_CHECKING:
    from .dashboard import Context


def _target(ctx: Context, key: str = "id") -> str:
    return ctx.request.form.get(key, "").strip()


async def retry_job(ctx: Context) -> WebResponse:
    """Retry: a failed or cancelled job goes back to pending."""
    job_id = _target(ctx)
    try:
        done = await ctx.queue.retry_job(job_id)
    except JobNotFoundError:
        return _missing(ctx, job_id)
    return ctx.redirect(f"/jobs/{job_id}", notice="retried" if done else "not_retried")


async def cancel_job(ctx: Context) -> WebResponse:
    """Cancel: a pending or running job is cancelled (a running one's late outcome is discarded)."""
    job_id = _target(ctx)
    try:
        done = await ctx.queue.cancel_job(job_id)
    except JobNotFoundError:
        return _missing(ctx, job_id)
    return ctx.redirect(f"/jobs/{job_id}", notice="cancelled" if done else "not_cancelled")


async def delete_job(ctx: Context) -> WebResponse:
    """Delete: a finished job is removed; then back to the jobs list."""
    job_id = _target(ctx)
    try:
        done = await ctx.queue.delete_job(job_id)
    except JobNotFoundError:
        return _missing(ctx, job_id)
    if not done:
        return ctx.redirect(f"/jobs/{job_id}", notice="not_deleted")
    return WebResponse(status=303, location=ctx.url("/jobs", notice="deleted"))


async def retry_failed(ctx: Context) -> WebResponse:
    """Retry all failed jobs matching the filter (queue, type) the confirmation page showed."""
    queue_name = _target(ctx, "queue") or None
    job_type = _target(ctx, "type") or None
    count = await ctx.queue.retry_failed_jobs(queue=queue_name, job_type=job_type)
    return WebResponse(
        status=303, location=ctx.url("/jobs", queue=queue_name, type=job_type, notice="retried_many", n=str(count))
    )


async def enable_schedule(ctx: Context) -> WebResponse:
    """Enable a schedule."""
    return await _set_enabled(ctx, True)


async def disable_schedule(ctx: Context) -> WebResponse:
    """Disable a schedule (no more runs until enabled)."""
    return await _set_enabled(ctx, False)


async def _set_enabled(ctx: Context, enabled: bool) -> WebResponse:
    try:
        await ctx.queue.set_schedule_enabled(_target(ctx), enabled)
    except ScheduleNotFoundError:
        return _schedule_missing(ctx)
    return ctx.redirect("/schedules", notice="enabled" if enabled else "disabled")


async def run_schedule(ctx: Context) -> WebResponse:
    """Run now: one extra job of the schedule, now; its next run is unchanged."""
    try:
        job_id = await ctx.queue.run_schedule_now(_target(ctx))
    except ScheduleNotFoundError:
        return _schedule_missing(ctx)
    return ctx.redirect("/schedules", notice="ran", job=job_id)


async def delete_schedule(ctx: Context) -> WebResponse:
    """Delete a schedule."""
    if not await ctx.queue.delete_schedule(_target(ctx)):
        return _schedule_missing(ctx)
    return ctx.redirect("/schedules", notice="schedule_deleted")


async def pause_queue(ctx: Context) -> WebResponse:
    """Pause a queue: workers stop claiming its jobs, which stay pending."""
    return await _set_paused(ctx, True)


async def resume_queue(ctx: Context) -> WebResponse:
    """Resume a paused queue."""
    return await _set_paused(ctx, False)


async def _set_paused(ctx: Context, paused: bool) -> WebResponse:
    from .dashboard import error_page

    if not controls.available(ctx.queue):
        return error_page(ctx, 404, "This version of DBJobQ cannot pause queues.")
    await controls.set_paused(ctx.queue, _target(ctx, "name"), paused)
    return ctx.redirect("/queues", notice="paused" if paused else "resumed")


def _missing(ctx: Context, job_id: str) -> WebResponse:
    return WebResponse(status=303, location=ctx.url("/jobs", notice="not_found", job=job_id))


def _schedule_missing(ctx: Context) -> WebResponse:
    from .dashboard import error_page

    return error_page(ctx, 404, "No schedule has that id.")
