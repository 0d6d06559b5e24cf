"""The embedded worker's log lines show under uvicorn, whose logging covers only its own loggers."""

from __future__ import annotations

import io
import logging

import pytest
from fastapi import FastAPI

from dbjobq import JobQueue, JobStatus
from dbjobq_fastapi import DBJobQ
from tests.fastapi import jobs
from tests.fastapi.conftest import serve
from tests.waiting import wait_until


def uvicorn_logging(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """Logging as ``uvicorn`` configures it (its LOGGING_CONFIG): handlers on its loggers, none on the root.

    Called in the test itself: pytest adds its capture handlers to the root logger after fixtures run.
    """
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
    server = logging.getLogger("uvicorn")
    monkeypatch.setattr(server, "handlers", [handler])
    monkeypatch.setattr(server, "level", logging.INFO)
    monkeypatch.setattr(server, "propagate", False)
    monkeypatch.setattr(logging.getLogger("uvicorn.error"), "level", logging.INFO)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # (pytest's own capture included)
    return stream


async def test_logging_embedded_worker_logs_through_uvicorn(clean_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    server = uvicorn_logging(monkeypatch)
    jobq = DBJobQ(clean_url, run_worker=True, poll_interval=0.1)
    async with serve(FastAPI(lifespan=jobq.lifespan)):
        queue: JobQueue = jobq.queue
        job_id = await queue.enqueue(jobs.greet, {"name": "ada"})

        async def completed() -> bool:
            job = await queue.get_job(job_id)
            return job is not None and job.status == JobStatus.COMPLETED

        await wait_until(completed)
        await wait_until(lambda: _contains(server, f"Job {job_id} (tests.fastapi.jobs.greet) completed in "))
    lines = server.getvalue().splitlines()
    assert any(line.startswith("INFO:     Worker ") and "tests.fastapi.jobs.greet" in line for line in lines)
    assert any(line.startswith("INFO:     Worker ") and " stopped: 1 completed" in line for line in lines)
    assert logging.getLogger("dbjobq").level == logging.NOTSET and not logging.getLogger("dbjobq").handlers


async def _contains(stream: io.StringIO, text: str) -> bool:
    return text in stream.getvalue()
