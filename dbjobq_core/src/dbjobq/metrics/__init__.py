"""Prometheus metrics (the ``metrics`` extra, prometheus-client): database gauges read from the claim and
status indexes, and the worker's own counters and histograms.

Nothing here imports prometheus-client until metrics are used: without it, workers record nothing
and cost nothing (:func:`available` is False), and ``/metrics`` answers that the extra is missing.
"""

from __future__ import annotations

from .database import DatabaseMetrics, render_metrics
from .worker import WorkerMetrics, available, existing_worker_metrics, serve_worker_metrics, worker_metrics

#: The content type of Prometheus' text format.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

__all__ = [
    "CONTENT_TYPE",
    "DatabaseMetrics",
    "WorkerMetrics",
    "available",
    "existing_worker_metrics",
    "render_metrics",
    "serve_worker_metrics",
    "worker_metrics",
]
