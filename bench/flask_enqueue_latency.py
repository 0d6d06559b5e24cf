"""Enqueue latency from Flask: a view through the test client and the sync face, vs. plain JobQueue.enqueue.

    python -m bench.flask_enqueue_latency [--url URL] [--n 2000] [--databases sqlite postgresql mysql]

Without ``--url``, each database gets a throw-away database (tests/databases.py helpers; SQLite in a
temporary directory). Prints p50/p95/p99 in milliseconds per database and path:

- ``JobQueue.enqueue``: ``await queue.enqueue(...)`` on the caller's own event loop (the floor);
- ``DBJobQ.enqueue (sync face)``: the same call from sync code, handed to the extension's loop thread;
- ``Flask view (test client)``: a POST to a view that calls ``jobq.enqueue`` (adds Flask/Werkzeug);
- ``8 threads, sync face``: the sync face under 8 concurrent threads (latency per call, plus jobs/s).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask, jsonify

from dbjobq import JobQueue
from dbjobq.storage import SQLAlchemyStorage
from dbjobq_flask import DBJobQ

JOB = "bench.noop"
WARMUP = 50
THREADS = 8
ROUNDS = 5


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    """p50, p95, p99 of ``samples`` (seconds) in milliseconds."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[94] * 1000, cuts[98] * 1000


def timed(call: Callable[[], object], n: int, warmup: int = WARMUP) -> list[float]:
    """Run ``call`` ``warmup`` times untimed, then ``n`` times; return each duration."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


class CoreBaseline:
    """Plain ``await JobQueue.enqueue`` on an event loop of its own, timed inside the coroutine."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.storage = SQLAlchemyStorage(url)
        self.loop.run_until_complete(self.storage.initialize())
        self.queue = JobQueue(self.storage)

    def chunk(self, n: int) -> list[float]:
        """Time ``n`` enqueues."""

        async def main() -> list[float]:
            samples = []
            for i in range(n):
                started = time.perf_counter()
                await self.queue.enqueue(JOB, {"i": i})
                samples.append(time.perf_counter() - started)
            return samples

        return self.loop.run_until_complete(main())

    def close(self) -> None:
        """Close the storage and the loop."""
        self.loop.run_until_complete(self.storage.close())
        self.loop.close()


def make_app(url: str, instance: str) -> tuple[Flask, DBJobQ]:
    """A Flask app with DBJobQ and one view that enqueues."""
    app = Flask("bench", instance_path=instance)
    app.config["DBJOBQ_DATABASE_URL"] = url
    jobq = DBJobQ(app)

    @app.post("/enqueue")
    def enqueue():  # type: ignore[no-untyped-def]
        return jsonify(id=jobq.enqueue(JOB, {"i": 1})), 201

    return app, jobq


def bench_threads(app: Flask, jobq: DBJobQ, n: int) -> tuple[list[float], float]:
    """The sync face called from ``THREADS`` threads at once: latencies and jobs per second."""
    per_thread = max(1, n // THREADS)
    samples: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        with app.app_context():
            mine = timed(lambda: jobq.enqueue(JOB, {"i": 1}), per_thread)
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return samples, THREADS * (per_thread + WARMUP) / (time.perf_counter() - started)


def run(name: str, url: str, n: int) -> None:
    """Benchmark one database and print its rows.

    The three single-caller paths run in alternating rounds, so that load changes on the machine
    (or the database warming up) affect them alike.
    """
    rows: dict[str, list[float]] = {"JobQueue.enqueue (await)": [], "DBJobQ.enqueue (sync face)": [],
                                    "Flask view (test client)": []}
    with tempfile.TemporaryDirectory(prefix="dbjobq-flask-bench-") as instance:
        core = CoreBaseline(url)
        app, jobq = make_app(url, instance)
        client = app.test_client()

        def post() -> None:
            response = client.post("/enqueue")
            assert response.status_code == 201, response.data

        try:
            core.chunk(WARMUP)
            with app.app_context():
                timed(lambda: jobq.enqueue(JOB, {"i": 1}), 0)
            timed(post, 0)
            per_round = max(1, n // ROUNDS)
            for _ in range(ROUNDS):
                rows["JobQueue.enqueue (await)"] += core.chunk(per_round)
                with app.app_context():
                    rows["DBJobQ.enqueue (sync face)"] += timed(lambda: jobq.enqueue(JOB, {"i": 1}), per_round, 0)
                rows["Flask view (test client)"] += timed(post, per_round, 0)
            threaded, rate = bench_threads(app, jobq, n)
        finally:
            jobq.close(app)
            core.close()
    for label, samples in rows.items():
        print(f"{name:<11} {label:<28} " + " ".join(f"{v:8.3f}" for v in percentiles(samples)))
    p50, p95, p99 = percentiles(threaded)
    print(f"{name:<11} {f'{THREADS} threads, sync face':<28} {p50:8.3f} {p95:8.3f} {p99:8.3f}  {rate:8.0f} jobs/s")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, create throw-away databases as needed, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--url", help="an async SQLAlchemy URL to use instead of throw-away databases")
    parser.add_argument("--n", type=int, default=2000, help="timed enqueues per path (default: 2000)")
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql", "mysql"],
                        choices=["sqlite", "postgresql", "mysql"])
    args = parser.parse_args(argv)

    print(f"{'database':<11} {'path':<28} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    if args.url:
        run(SQLAlchemyStorage(args.url).dialect, args.url, args.n)
        return 0
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.databases import create_database, drop_database

    for name in args.databases:
        if name == "sqlite":
            with tempfile.TemporaryDirectory(prefix="dbjobq-flask-bench-db-") as directory:
                run(name, f"sqlite+aiosqlite:///{directory}/bench.sqlite3", args.n)
            continue
        try:
            url = create_database(name)
        except Exception as exc:
            print(f"{name:<11} skipped: server not available ({exc!r})")
            continue
        try:
            run(name, url, args.n)
        finally:
            drop_database(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
