"""W3 and W4 with metrics and tracing off and on, side by side (issue 16): what observability costs.

``python -m bench.observability [--database postgresql] [--n 20000] [--latency-jobs 300] [--rounds 1]``

Variants, interleaved per round on fresh databases, each worker in a process of its own:

- ``off``: ``Worker(metrics=False, tracing=False)`` and no tracer provider: nothing recorded;
- ``metrics``: the worker records its Prometheus metrics (prometheus-client), no tracing;
- ``metrics+tracing``: the same, and an OpenTelemetry SDK tracer provider (batch processor, an
  exporter that drops the spans) in the enqueuing and the working process; jobs are enqueued inside
  a span, so each stores its trace context and each run is a span.

W3: one worker process drains ``n`` pre-enqueued no-op async jobs (jobs/s). W4: an idle worker in
another process, one enqueue every 20 ms, enqueue-to-start latency p50/p95/p99 (ms). Prints a table
and every run as JSON. Needs ``dbjobq[metrics,otel]`` and opentelemetry-sdk (the dev environment).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import databases

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("off", "metrics", "metrics+tracing")


# -- inside the measured processes ----------------------------------------------------------------
def _setup(variant: str) -> dict[str, Any]:
    """Worker options for ``variant``, and the tracer provider it wants (set globally)."""
    if variant == "metrics+tracing":
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

        class Drop(SpanExporter):
            def export(self, spans: Any) -> SpanExportResult:
                return SpanExportResult.SUCCESS

        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(Drop()))
        trace.set_tracer_provider(provider)
    return {"metrics": variant != "off", "tracing": variant == "metrics+tracing"}


LATENCIES: list[float] = []


def _register() -> Any:
    from dbjobq import job

    @job(name="bench.noop")
    async def noop(data: dict[str, Any]) -> None:
        if "t" in data:
            LATENCIES.append(time.time() - data["t"])

    return noop


def _async_url(url: str) -> str:
    scheme, rest = url.split("://", 1)
    drivers = {"postgresql": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite", "mysql": "mysql+aiomysql"}
    return f"{drivers[scheme]}://{rest}"


async def _fill(url: str, n: int, variant: str) -> None:
    from opentelemetry import trace

    from dbjobq import JobQueue
    from dbjobq.storage import SQLAlchemyStorage

    _setup(variant)
    noop = _register()
    async with SQLAlchemyStorage(_async_url(url)) as storage:
        queue = JobQueue(storage)
        with trace.get_tracer("bench").start_as_current_span("fill"):
            for start in range(0, n, 1000):
                await queue.enqueue_many(noop, [{}] * min(1000, n - start))


async def _drain(url: str, n: int, variant: str) -> dict[str, Any]:
    from dbjobq import JobQueue, Worker
    from dbjobq.storage import SQLAlchemyStorage

    options = _setup(variant)
    _register()
    async with SQLAlchemyStorage(_async_url(url)) as storage:
        worker = Worker(JobQueue(storage), **options)
        started = time.perf_counter()
        await worker.run(burst=True)
        elapsed = time.perf_counter() - started
    assert worker.stats.completed == n, worker.stats
    return {"rate": n / elapsed, "seconds": elapsed}


async def _idle_worker(url: str, variant: str, out: str) -> None:
    from dbjobq import JobQueue, Worker
    from dbjobq.storage import SQLAlchemyStorage

    options = _setup(variant)
    _register()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with SQLAlchemyStorage(_async_url(url)) as storage:
        worker = Worker(JobQueue(storage), **options)
        await worker.start()
        print("ready", flush=True)
        await stop.wait()
        await worker.stop()
    Path(out).write_text(json.dumps(LATENCIES))


async def _produce(url: str, n: int, interval: float, variant: str) -> None:
    from opentelemetry import trace

    from dbjobq import JobQueue
    from dbjobq.storage import SQLAlchemyStorage

    _setup(variant)
    noop = _register()
    async with SQLAlchemyStorage(_async_url(url)) as storage:
        queue = JobQueue(storage)
        await queue.enqueue(noop, {})  # warm-up
        await asyncio.sleep(0.5)
        tracer = trace.get_tracer("bench")
        start = time.perf_counter()
        for i in range(n):
            with tracer.start_as_current_span("request"):
                await queue.enqueue(noop, {"t": time.time()})
            await asyncio.sleep(max(0.0, start + (i + 1) * interval - time.perf_counter()))
        await asyncio.sleep(1.0)


def _child(argv: list[str]) -> None:
    command, url, variant, *rest = argv
    if command == "fill":
        asyncio.run(_fill(url, int(rest[0]), variant))
    elif command == "drain":
        print(json.dumps(asyncio.run(_drain(url, int(rest[0]), variant))))
    elif command == "idle":
        asyncio.run(_idle_worker(url, variant, rest[0]))
    elif command == "produce":
        asyncio.run(_produce(url, int(rest[0]), float(rest[1]), variant))


# -- the orchestration ----------------------------------------------------------------------------
def _run(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "bench.observability", "--child", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    return proc.stdout


def w3(url: str, n: int, variant: str) -> dict[str, Any]:
    _run("fill", url, variant, str(n))
    result = json.loads(_run("drain", url, variant, str(n)).splitlines()[-1])
    return {"workload": "W3", "variant": variant, "rate": round(result["rate"])}


def w4(url: str, jobs: int, variant: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "latencies.json")
        worker = subprocess.Popen([sys.executable, "-m", "bench.observability", "--child", "idle", url, variant, out],
                                  cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert worker.stdout is not None
        worker.stdout.readline()  # "ready"
        try:
            _run("produce", url, variant, str(jobs), "0.02")
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(60)
            worker.stdout.close()
        latencies = sorted(json.loads(Path(out).read_text()))
    q = statistics.quantiles(latencies, n=100)
    return {"workload": "W4", "variant": variant, "jobs": len(latencies),
            "p50_ms": round(q[49] * 1000, 2), "p95_ms": round(q[94] * 1000, 2), "p99_ms": round(q[98] * 1000, 2)}


def main() -> None:
    if "--child" in sys.argv:
        _child(sys.argv[sys.argv.index("--child") + 1 :])
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="postgresql")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--latency-jobs", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    runs: list[dict[str, Any]] = []
    for _ in range(args.rounds):
        for variant in VARIANTS:
            for workload in (w3, w4):
                url = databases.create(args.database)
                try:
                    size = args.n if workload is w3 else args.latency_jobs
                    runs.append(workload(url, size, variant))
                finally:
                    databases.drop(url)
                print(json.dumps(runs[-1]), flush=True)
    print(f"| variant ({args.database}) | W3 jobs/s | W4 p50 ms | W4 p95 ms | W4 p99 ms |")
    print("|---|---|---|---|---|")
    for variant in VARIANTS:
        w3s = [r["rate"] for r in runs if r["workload"] == "W3" and r["variant"] == variant]
        w4s = [r for r in runs if r["workload"] == "W4" and r["variant"] == variant]
        med = {k: round(statistics.median(r[k] for r in w4s), 1) for k in ("p50_ms", "p95_ms", "p99_ms")}
        print(f"| {variant} | {statistics.median(w3s):,.0f} | {med['p50_ms']} | {med['p95_ms']} | {med['p99_ms']} |")


if __name__ == "__main__":
    main()
