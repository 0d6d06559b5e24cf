"""Views: a sync view and an async view enqueue jobs; two more inspect and retry them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, request

from . import jobq
from .jobs import build_report, send_welcome_email

bp = Blueprint("signup", __name__)


@bp.post("/signup")
def signup() -> Any:
    """Sync view: the usual Flask case. The job is written before the response goes out."""
    email = (request.get_json(silent=True) or {}).get("email")
    if not email:
        abort(400, "email is required")
    job_id = jobq.enqueue(send_welcome_email, {"email": email})
    return jsonify(job_id=job_id), 202


@bp.post("/reports")
async def report() -> Any:
    """Async view: the same extension, through its async face."""
    job_id = await jobq.aenqueue(build_report, request.get_json(silent=True) or {}, priority=5)
    return jsonify(job_id=job_id), 202


@bp.get("/jobs/<job_id>")
def job_status(job_id: str) -> Any:
    """A job's status and result."""
    job = jobq.get_job(job_id)
    if job is None:
        abort(404)
    return jsonify(id=job.id, type=job.type, status=str(job.status), result=job.result, error=job.error)


@bp.post("/jobs/<job_id>/retry")
def retry(job_id: str) -> Any:
    """Retry a failed or cancelled job."""
    return jsonify(retried=jobq.retry_job(job_id))
