"""The worker's metrics: jobs finished, their duration and wait, and the size of claim batches.

They live in one registry per process (:data:`WORKER_REGISTRY` once created), shared by every worker
of the process, and are served by ``dbjobq worker --metrics-port`` and by the ``/metrics`` of an app
whose embedded worker records them.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from typing import Any

from ..models import Job

logger = logging.getLogger(__name__)

_DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
_WAIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
_BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)

_lock = threading.Lock()
_instance: WorkerMetrics | None = None


def available() -> bool:
    """True when prometheus-client is installed (``pip install 'dbjobq[metrics]'``)."""
    return importlib.util.find_spec("prometheus_client") is not None


class WorkerMetrics:
    """The process's worker-side metrics (one instance: :func:`worker_metrics`)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        #: The registry holding them (not prometheus-client's global one: the app's stays its own).
        self.registry = CollectorRegistry()
        self.finished = Counter(
            "dbjobq_jobs_finished",
            "Job runs finished by this process's workers, by outcome: completed, failed (for good) or retried.",
            ["queue", "type", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "dbjobq_job_duration_seconds",
            "How long job runs took.",
            ["queue", "type"],
            buckets=_DURATION_BUCKETS,
            registry=self.registry,
        )
        self.wait = Histogram(
            "dbjobq_job_wait_seconds",
            "How long jobs waited from due to started.",
            ["queue"],
            buckets=_WAIT_BUCKETS,
            registry=self.registry,
        )
        self.batch = Histogram(
            "dbjobq_claim_batch_size",
            "Jobs claimed per claim round trip that found any.",
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )

        # The labelled children, looked up once per label set: prometheus-client's ``labels()`` costs
        # microseconds a call, several per job on the worker's hot path.
        self._waits: dict[str, Any] = {}
        self._finished: dict[tuple[str, str, str], Any] = {}
        self._durations: dict[tuple[str, str], Any] = {}

    def job_started(self, job: Job) -> None:
        """Record how long ``job`` waited between falling due and starting."""
        if job.started_at is not None and job.execute_at is not None:
            wait = self._waits.get(job.queue)
            if wait is None:
                wait = self._waits[job.queue] = self.wait.labels(job.queue)
            wait.observe(max(0.0, (job.started_at - job.execute_at).total_seconds()))

    def job_finished(self, job: Job, status: str, duration: float) -> None:
        """Record a finished run: ``status`` is ``completed``, ``failed`` or ``retried``."""
        key = (job.queue, job.type, status)
        finished = self._finished.get(key)
        if finished is None:
            finished = self._finished[key] = self.finished.labels(*key)
        finished.inc()
        histogram = self._durations.get(key[:2])
        if histogram is None:
            histogram = self._durations[(job.queue, job.type)] = self.duration.labels(job.queue, job.type)
        histogram.observe(duration)

    def claimed(self, count: int) -> None:
        """Record a claim round trip that found ``count`` jobs (0 is not recorded)."""
        if count:
            self.batch.observe(count)


def worker_metrics() -> WorkerMetrics | None:
    """The process's worker metrics, created on first use; ``None`` without prometheus-client."""
    global _instance
    if _instance is None:
        if not available():
            return None
        with _lock:
            if _instance is None:
                _instance = WorkerMetrics()
    return _instance


def existing_worker_metrics() -> WorkerMetrics | None:
    """The process's worker metrics if a worker of this process records them, else ``None``."""
    return _instance


def serve_worker_metrics(host: str, port: int) -> Any:
    """Serve the worker metrics over HTTP on ``host:port`` (a thread); return the server (``.shutdown()``)."""
    metrics = worker_metrics()
    if metrics is None:
        from ..errors import ConfigurationError

        raise ConfigurationError("--metrics-port needs prometheus-client: pip install 'dbjobq[metrics]'")
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=host, registry=metrics.registry)
    logger.info("Serving worker metrics on http://%s:%d/metrics", host, server.server_port,
                extra={"action": "metrics_serving"})
    return server
