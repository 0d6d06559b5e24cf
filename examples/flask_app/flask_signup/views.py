"""Views: a sync view and an async view enqueue jobs; two more inspect and retry them.

A job id is not a secret (ids are time-ordered): the inspecting views answer only for the jobs this
browser session started, and 404 for any other id.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, request, session

from dbjobq import Job

from . import jobq
from .jobs import build_report, send_welcome_email

bp = Blueprint("signup", __name__)

#: How many of its job ids a session remembers (the session is a signed cookie: keep it small).
REMEMBERED_JOBS = 20


def remember(job_id: str) -> None:
    """Record in the (signed) session cookie that this visitor started the job."""
    session["jobs"] = [*session.get("jobs", []), job_id][-REMEMBERED_JOBS:]


def own_job(job_id: str) -> Job:
    """The job, if this session started it; else 404 (someone else's job looks like no job at all)."""
    job = jobq.get_job(job_id) if job_id in session.get("jobs", []) else None
    if job is None:
        abort(404)
    return job


@bp.post("/signup")
def signup() -> Any:
    """Sync view: the usual Flask case. The job is written before the response goes out."""
    email = (request.get_json(silent=True) or {}).get("email")
    if not email:
        abort(400, "email is required")
    job_id = jobq.enqueue(send_welcome_email, {"email": email})
    remember(job_id)
    return jsonify(job_id=job_id), 202


@bp.post("/reports")
async def report() -> Any:
    """Async view: the same extension, through its async face."""
    job_id = await jobq.aenqueue(build_report, request.get_json(silent=True) or {}, priority=5)
    remember(job_id)
    return jsonify(job_id=job_id), 202


@bp.get("/jobs/<job_id>")
def job_status(job_id: str) -> Any:
    """The status and result of a job this session started."""
    job = own_job(job_id)
    return jsonify(id=job.id, type=job.type, status=str(job.status), result=job.result, error=job.error)


@bp.post("/jobs/<job_id>/retry")
def retry(job_id: str) -> Any:
    """Retry a failed or cancelled job this session started."""
    return jsonify(retried=jobq.retry_job(own_job(job_id).id))
