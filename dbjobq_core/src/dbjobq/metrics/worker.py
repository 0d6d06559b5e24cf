"""The worker's metrics: jobs finished, their duration and wait, and the size of claim batches.

They live in one registry per process (:data:`WORKER_REGISTRY` once created), shared by every worker
of the process, and are served by ``dbjobq worker --metrics-port`` and by the ``/metrics`` of an app
whose embedded worker records them.
"""

from __future__ import annotations

import bisect
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


class _Histogram:
    """One label set's histogram: a count per bucket (the last one +Inf) and the sum of the values."""

    __slots__ = ("counts", "total")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * (buckets + 1)
        self.total = 0.0


class WorkerMetrics:
    """The process's worker-side metrics (one instance: :func:`worker_metrics`).

    The hot path counts in plain Python (a list slot and a float per observation, under one lock);
    prometheus-client reads the counts at scrape time through a custom collector (its documented
    "custom collectors" API). Its own Counter and Histogram cost several microseconds a job (a
    ``labels()`` lookup, a lock and a linear bucket search per observation): ~15 % of a no-op job.
    """

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry

        self._lock = threading.Lock()
        self._finished: dict[tuple[str, str, str], int] = {}  # (queue, type, status) -> runs
        self._durations: dict[tuple[str, str], _Histogram] = {}  # (queue, type)
        self._waits: dict[str, _Histogram] = {}  # queue
        self._batches = _Histogram(len(_BATCH_BUCKETS))
        #: The registry holding them (not prometheus-client's global one: the app's stays its own).
        self.registry = CollectorRegistry()
        self.registry.register(self)  # type: ignore[arg-type]  # a collector: collect() and describe()

    def job_started(self, job: Job) -> None:
        """Record how long ``job`` waited between falling due and starting."""
        if job.started_at is not None and job.execute_at is not None:
            wait = max(0.0, (job.started_at - job.execute_at).total_seconds())
            with self._lock:
                histogram = self._waits.get(job.queue)
                if histogram is None:
                    histogram = self._waits[job.queue] = _Histogram(len(_WAIT_BUCKETS))
                histogram.counts[bisect.bisect_left(_WAIT_BUCKETS, wait)] += 1
                histogram.total += wait

    def job_finished(self, job: Job, status: str, duration: float) -> None:
        """Record a finished run: ``status`` is ``completed``, ``failed`` or ``retried``."""
        key = (job.queue, job.type)
        with self._lock:
            finished = (job.queue, job.type, status)
            self._finished[finished] = self._finished.get(finished, 0) + 1
            histogram = self._durations.get(key)
            if histogram is None:
                histogram = self._durations[key] = _Histogram(len(_DURATION_BUCKETS))
            histogram.counts[bisect.bisect_left(_DURATION_BUCKETS, duration)] += 1
            histogram.total += duration

    def claimed(self, count: int) -> None:
        """Record a claim round trip that found ``count`` jobs (0 is not recorded)."""
        if count:
            with self._lock:
                self._batches.counts[bisect.bisect_left(_BATCH_BUCKETS, count)] += 1
                self._batches.total += count

    def describe(self) -> list[Any]:
        """The metric families, without values (for the registry's name checks)."""
        return self._families({}, {}, {}, None)

    def collect(self) -> list[Any]:
        """The metric families with their current values (prometheus-client calls this at scrape time)."""
        with self._lock:
            finished = dict(self._finished)
            durations = {key: _copy(h) for key, h in self._durations.items()}
            waits = {(queue,): _copy(h) for queue, h in self._waits.items()}
            batches = _copy(self._batches)
        return self._families(finished, durations, waits, batches)

    @staticmethod
    def _families(
        finished: dict[tuple[str, str, str], int],
        durations: dict[tuple[str, str], _Histogram],
        waits: dict[tuple[str], _Histogram],
        batches: _Histogram | None,
    ) -> list[Any]:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        runs = CounterMetricFamily(
            "dbjobq_jobs_finished",
            "Job runs finished by this process's workers, by outcome: completed, failed (for good) or retried.",
            labels=["queue", "type", "status"],
        )
        for run, count in finished.items():
            runs.add_metric(list(run), count)
        duration = HistogramMetricFamily(
            "dbjobq_job_duration_seconds", "How long job runs took.", labels=["queue", "type"]
        )
        for kind, histogram in durations.items():
            duration.add_metric(list(kind), _buckets(_DURATION_BUCKETS, histogram), histogram.total)
        wait = HistogramMetricFamily(
            "dbjobq_job_wait_seconds", "How long jobs waited from due to started.", labels=["queue"]
        )
        for queue, histogram in waits.items():
            wait.add_metric(list(queue), _buckets(_WAIT_BUCKETS, histogram), histogram.total)
        batch = HistogramMetricFamily("dbjobq_claim_batch_size", "Jobs claimed per claim round trip that found any.")
        if batches is not None:
            batch.add_metric([], _buckets(_BATCH_BUCKETS, batches), batches.total)
        return [runs, duration, wait, batch]


def _copy(histogram: _Histogram) -> _Histogram:
    copied = _Histogram(len(histogram.counts) - 1)
    copied.counts, copied.total = list(histogram.counts), histogram.total
    return copied


def _buckets(bounds: tuple[float, ...], histogram: _Histogram) -> list[tuple[str, float]]:
    """Prometheus' cumulative buckets (``le``), +Inf last."""
    from prometheus_client.utils import floatToGoString

    cumulative = 0
    out: list[tuple[str, float]] = []
    for bound, count in zip((*map(floatToGoString, bounds), "+Inf"), histogram.counts, strict=True):
        cumulative += count
        out.append((bound, cumulative))
    return out


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
