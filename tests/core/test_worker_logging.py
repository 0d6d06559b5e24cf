"""What the worker says at INFO: its start (job types, queues), one line per finished job, its stop."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest

from dbjobq import JobQueue, Worker
from dbjobq.logs import log_through_host
from tests.core import jobs


def _actions(caplog: pytest.LogCaptureFixture, action: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "action", None) == action]


async def test_worker_logs_its_start_and_every_finished_job(
    queue: JobQueue, caplog: pytest.LogCaptureFixture
) -> None:
    ok = await queue.enqueue(jobs.add, {"a": 1, "b": 2})
    bad = await queue.enqueue(jobs.always_fails, {"n": 7}, max_retries=1)
    with caplog.at_level(logging.INFO, logger="dbjobq"):
        worker = Worker(queue, poll_interval=0.05, queues=["default"])
        await asyncio.wait_for(worker.run(burst=True), timeout=30)

    [started] = _actions(caplog, "worker_started")
    assert started.levelname == "INFO"
    assert "queues: default" in started.getMessage() and "tests.core.jobs.always_fails" in started.getMessage()
    assert "tests.core.jobs.add" in started.job_types and started.queues == ["default"]  # type: ignore[attr-defined]

    [completed] = _actions(caplog, "job_completed")
    assert completed.levelname == "INFO"
    assert completed.getMessage().startswith(f"Job {ok} (tests.core.jobs.add) completed in ")
    assert completed.getMessage().endswith("(attempt 1/1)")
    fields = {k: getattr(completed, k) for k in ("job_id", "job_type", "attempt", "outcome")}
    assert fields == {"job_id": ok, "job_type": "tests.core.jobs.add", "attempt": 1, "outcome": "completed"}
    assert completed.duration >= 0  # type: ignore[attr-defined]

    [retried] = _actions(caplog, "job_retried")
    assert retried.levelname == "WARNING" and retried.job_id == bad  # type: ignore[attr-defined]
    assert "(attempt 1/2), retrying in " in retried.getMessage()
    [failed] = _actions(caplog, "job_failed")
    assert failed.levelname == "ERROR" and failed.outcome == "failed"  # type: ignore[attr-defined]
    message = failed.getMessage()
    assert f"Job {bad} (tests.core.jobs.always_fails) failed in " in message
    assert "(attempt 2/2, no retries left): RuntimeError: boom 7" in message
    assert "Traceback (most recent call last)" in message and "always_fails" in message  # with its traceback

    [stopped] = _actions(caplog, "worker_stopped")
    assert "1 completed, 1 failed, 1 retried" in stopped.getMessage()


def only_server_logging(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """Logging as uvicorn sets it up: its own loggers with a handler, nothing on the root logger.

    Called in the test itself: pytest adds its capture handlers to the root logger after fixtures run.
    """
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
    server = logging.getLogger("uvicorn")
    monkeypatch.setattr(server, "handlers", [handler])
    monkeypatch.setattr(server, "propagate", False)
    monkeypatch.setattr(server, "level", logging.INFO)
    monkeypatch.setattr(logging.getLogger("uvicorn.error"), "level", logging.INFO)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    return stream


def test_worker_logs_through_the_server_when_nothing_else_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    server_logging = only_server_logging(monkeypatch)
    library = logging.getLogger("dbjobq")
    undo = log_through_host(["gunicorn.error", "uvicorn.error"])
    try:
        assert library.propagate and library.level == logging.INFO
        logging.getLogger("dbjobq.worker.running").info("Job 1 (x) completed in 0.001s (attempt 1/1)")
        logging.getLogger("dbjobq.worker.running").debug("not at the server's level")
        assert server_logging.getvalue() == "INFO:     Job 1 (x) completed in 0.001s (attempt 1/1)\n"
        # Once the application configures the root logger, that configuration takes over.
        root_stream = io.StringIO()
        logging.getLogger().addHandler(logging.StreamHandler(root_stream))
        logging.getLogger("dbjobq.worker.running").warning("via the root")
        assert "via the root" in root_stream.getvalue() and "via the root" not in server_logging.getvalue()
    finally:
        undo()
        logging.getLogger().handlers.clear()
    assert library.level == logging.NOTSET and not library.handlers  # undone


def test_worker_logging_configured_by_the_app_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    only_server_logging(monkeypatch)
    monkeypatch.setattr(logging.getLogger("dbjobq"), "level", logging.WARNING)
    log_through_host(["uvicorn.error"])()
    assert logging.getLogger("dbjobq").handlers == []
    monkeypatch.setattr(logging.getLogger("dbjobq"), "level", logging.NOTSET)
    log_through_host(["no.such.server"])()  # no host logger with handlers: nothing to do
    assert logging.getLogger("dbjobq").handlers == []
