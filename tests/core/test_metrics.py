"""Prometheus metrics: the worker's counters and histograms, and the database gauges served by the
dashboard, `dbjobq metrics` and `dbjobq worker --metrics-port`, checked against the database."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from prometheus_client import generate_latest

from dbjobq import JobQueue, JobStatus, Worker
from dbjobq.metrics import WorkerMetrics, existing_worker_metrics
from dbjobq.models import Job
from dbjobq.storage import SQLAlchemyStorage
from dbjobq.web import create_app
from tests.core import jobs
from tests.metrics_text import value
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def _queue_name() -> str:
    return f"m{uuid.uuid4().hex[:10]}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_metrics_worker_counts_match_the_database(queue: JobQueue) -> None:
    name = _queue_name()
    await queue.enqueue_many(jobs.noop, [{}] * 5, queue=name)
    await queue.enqueue(jobs.always_fails, {}, queue=name)  # two retries, then failed
    await asyncio.wait_for(Worker(queue, poll_interval=0.05, queues=[name]).run(burst=True), timeout=60)
    metrics = existing_worker_metrics()
    assert metrics is not None
    text = generate_latest(metrics.registry).decode()
    noop, fails = "tests.core.jobs.noop", "tests.core.jobs.always_fails"
    completed = await queue.count_jobs("completed", queue=name)
    assert completed == 5
    assert value(text, "dbjobq_jobs_finished_total", queue=name, type=noop, status="completed") == completed
    assert value(text, "dbjobq_jobs_finished_total", queue=name, type=fails, status="retried") == 2
    assert value(text, "dbjobq_jobs_finished_total", queue=name, type=fails, status="failed") == 1
    assert await queue.count_jobs("failed", queue=name) == 1
    assert value(text, "dbjobq_job_duration_seconds_count", queue=name, type=noop) == 5
    assert value(text, "dbjobq_job_wait_seconds_count", queue=name) == 8  # every run: 5 + 3 attempts
    batches = value(text, "dbjobq_claim_batch_size_count")
    assert batches is not None and batches >= 1


async def _seed(queue: JobQueue, storage: SQLAlchemyStorage, name: str) -> None:
    await queue.enqueue_many(jobs.noop, [{}] * 4, queue=name, run_at=time.time() - 30)
    await queue.enqueue(jobs.noop, {}, queue=name, delay=3600)  # pending, not due
    _started, buffered = await storage.claim_jobs(2, worker_id="w", lease_timeout=60, queues=[name])
    # One of the two waits in the worker's buffer past a heartbeat: running, claimed ahead, not started.
    assert await storage.mark_unstarted([(buffered.id, buffered.lease_token or "")]) == {buffered.id}
    await queue.pause_queue(name)


async def _check_gauges(text: str, queue: JobQueue, name: str) -> None:
    for status in ("pending", "running", "completed", "failed", "cancelled"):
        assert value(text, "dbjobq_jobs", queue=name, status=status) == await queue.count_jobs(status, queue=name)
    assert value(text, "dbjobq_jobs", queue=name, status="pending") == 3
    assert value(text, "dbjobq_jobs", queue=name, status="running") == 2
    assert value(text, "dbjobq_jobs_claimed_ahead", queue=name) == 1  # one of the two running
    [info] = [q for q in await queue.list_queues() if q.name == name]
    age = value(text, "dbjobq_queue_oldest_pending_age_seconds", queue=name)
    assert age is not None and info.oldest_pending_age is not None and 25 < age <= info.oldest_pending_age + 1
    assert value(text, "dbjobq_queue_paused", queue=name) == 1
    now = time.time()
    alive = sum(1 for w in await queue.list_workers() if now - w.last_heartbeat < 30)
    assert value(text, "dbjobq_workers_alive") == alive


async def test_metrics_dashboard_endpoint_matches_the_database(queue: JobQueue, storage: SQLAlchemyStorage) -> None:
    name = _queue_name()
    await _seed(queue, storage, name)
    transport = httpx.ASGITransport(app=create_app(queue))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        await _check_gauges(response.text, queue, name)
        await queue.enqueue(jobs.noop, {}, queue=name, run_at=time.time() - 30)
        cached = await client.get("/metrics")  # within the cache's few seconds: the same read
        assert value(cached.text, "dbjobq_jobs", queue=name, status="pending") == 3


@pytest.mark.slow
async def test_metrics_cli_serves_the_database_gauges(db_url: str, queue: JobQueue, storage: SQLAlchemyStorage) -> None:
    name = _queue_name()
    await _seed(queue, storage, name)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dbjobq.cli", "--url", db_url, "metrics", "--port", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = ""
        deadline = time.monotonic() + 30
        while "Metrics at" not in line and time.monotonic() < deadline:
            line = await asyncio.to_thread(proc.stdout.readline)
        url = line.split("Metrics at ", 1)[1].strip()
        async with httpx.AsyncClient() as client:
            text = (await client.get(url)).text
        await _check_gauges(text, queue, name)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 30)
        if proc.stdout is not None:
            proc.stdout.close()
    assert code == 0


@pytest.mark.slow
async def test_metrics_worker_process_serves_its_metrics(db_url: str, queue: JobQueue, spawn) -> None:
    name = _queue_name()
    port = _free_port()
    proc = spawn(db_url, metrics_port=port, queues=[name])
    await queue.enqueue_many(jobs.noop, [{}] * 4, queue=name)

    async def done() -> bool:
        return await queue.count_jobs("completed", queue=name) == 4

    await wait_until(done, timeout=60)

    async def scraped() -> str | None:
        try:
            async with httpx.AsyncClient() as client:
                text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
        except httpx.HTTPError:
            return None
        found = value(text, "dbjobq_jobs_finished_total", queue=name, type="tests.core.jobs.noop", status="completed")
        return text if found == 4 else None

    await wait_until(scraped, timeout=20)
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(proc.wait, 30) == 0


def test_metrics_and_tracing_are_not_imported_until_used() -> None:
    code = (
        "import sys, dbjobq, dbjobq.cli, dbjobq.web, dbjobq.worker, dbjobq.metrics, dbjobq.tracing\n"
        "from dbjobq import Worker, JobQueue\n"
        "from dbjobq.storage import SQLAlchemyStorage\n"
        "Worker(JobQueue(SQLAlchemyStorage('sqlite+aiosqlite:///:memory:')), metrics=False)\n"
        "assert 'prometheus_client' not in sys.modules, 'prometheus_client imported'\n"
        "assert not any(m.startswith('opentelemetry') for m in sys.modules), 'opentelemetry imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_metrics_grafana_dashboard_uses_the_metrics_that_exist() -> None:
    import json
    import re

    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    names = {re.sub(r"_(bucket|count|sum)$", "", n) for e in exprs for n in re.findall(r"dbjobq_[a-z_]+", e)}
    assert names == {
        "dbjobq_jobs", "dbjobq_queue_oldest_pending_age_seconds", "dbjobq_jobs_finished_total",
        "dbjobq_job_wait_seconds", "dbjobq_job_duration_seconds", "dbjobq_workers_alive", "dbjobq_queue_paused",
        "dbjobq_jobs_claimed_ahead",
    }
    monitoring = (ROOT / "docs" / "monitoring.md").read_text()
    assert all(name in monitoring for name in names)


def test_worker_metrics_expose_cumulative_buckets_sums_and_counts() -> None:
    """The worker counts in plain Python and prometheus-client reads the counts at scrape time: the
    exposition is what its own Counter and Histogram would show."""
    metrics = WorkerMetrics()
    due = datetime(2026, 1, 1, tzinfo=timezone.utc)
    job = Job(
        id="j", type="t.x", data={}, status=JobStatus.RUNNING, queue="q", execute_at=due,
        started_at=due + timedelta(seconds=0.02),
    )
    metrics.job_started(job)
    for duration in (0.003, 2.0):
        metrics.job_finished(job, "completed", duration)
    metrics.job_finished(job, "retried", 0.001)  # on a bound: counted in that bucket (le)
    metrics.claimed(7)
    metrics.claimed(0)  # not recorded
    text = generate_latest(metrics.registry).decode()
    assert value(text, "dbjobq_jobs_finished_total", queue="q", type="t.x", status="completed") == 2
    assert value(text, "dbjobq_jobs_finished_total", queue="q", type="t.x", status="retried") == 1
    duration = {"queue": "q", "type": "t.x"}
    assert value(text, "dbjobq_job_duration_seconds_bucket", le="0.001", **duration) == 1
    assert value(text, "dbjobq_job_duration_seconds_bucket", le="0.005", **duration) == 2
    assert value(text, "dbjobq_job_duration_seconds_bucket", le="1.0", **duration) == 2
    assert value(text, "dbjobq_job_duration_seconds_bucket", le="2.5", **duration) == 3
    assert value(text, "dbjobq_job_duration_seconds_bucket", le="+Inf", **duration) == 3
    assert value(text, "dbjobq_job_duration_seconds_count", **duration) == 3
    assert value(text, "dbjobq_job_duration_seconds_sum", **duration) == pytest.approx(2.004)
    assert value(text, "dbjobq_job_wait_seconds_bucket", le="0.01", queue="q") == 0
    assert value(text, "dbjobq_job_wait_seconds_bucket", le="0.025", queue="q") == 1
    assert value(text, "dbjobq_claim_batch_size_count") == 1
    assert value(text, "dbjobq_claim_batch_size_bucket", le="10.0") == 1
    assert value(text, "dbjobq_claim_batch_size_sum") == 7
