"""Dashboard timings on a big table: 1,000,000 finished + 100,000 pending jobs on PostgreSQL.

    .venv/bin/python -m bench.dashboard            # fresh database, filled in SQL (about a minute)
    .venv/bin/python -m bench.dashboard --url postgresql+asyncpg://…/db   # an already filled one

Each page is requested through the standalone dashboard app in-process (httpx's ASGI transport), so
a timing is the server's whole answer: the queries and the rendering, without network. One warm-up
request, then ``--runs`` timed ones; the median and the slowest are printed. Not a test: numbers
depend on the machine, and the targets (< 300 ms) live here, not in the suite.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from bench import databases
from bench.dashboard_data import fill

PAGES = [
    ("overview", "/"),
    ("overview, live part", "/live"),
    ("jobs, first page", "/jobs"),
    ("jobs, failed", "/jobs?status=failed"),
    ("jobs, one queue", "/jobs?queue=emails"),
    ("queues", "/queues"),
]
TARGET_MS = 300.0


async def measure(url: str, runs: int) -> list[tuple[str, float, float]]:
    """(page, median ms, slowest ms) for each page."""
    import httpx

    from dbjobq import JobQueue
    from dbjobq.storage import SQLAlchemyStorage
    from dbjobq.web import create_app

    storage = SQLAlchemyStorage(url)
    await storage.initialize()
    results = []
    try:
        app = create_app(JobQueue(storage))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            older = (await client.get("/jobs")).text.split('rel="next"')[0].rsplit('href="', 1)[-1]
            pages = [*PAGES, ("jobs, next page", older.replace("&amp;", "&"))]
            for name, path in pages:
                (await client.get(path)).raise_for_status()  # warm-up: plans and pool
                times = []
                for _ in range(runs):
                    start = time.perf_counter()
                    (await client.get(path)).raise_for_status()
                    times.append((time.perf_counter() - start) * 1000)
                results.append((name, statistics.median(times), max(times)))
    finally:
        await storage.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an asyncpg URL of an already filled database (kept)")
    parser.add_argument("--finished", type=int, default=1_000_000)
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    url, made = args.url, None
    if url is None:
        made = databases.create("postgresql")
        url = made.replace("postgresql://", "postgresql+asyncpg://")
        print(f"Filling {args.finished:,} finished + {args.pending:,} pending jobs …", flush=True)
        print(f"  filled in {asyncio.run(fill(url, finished=args.finished, pending=args.pending)):.0f} s")
    try:
        print(f"{'page':<22} {'median ms':>10} {'slowest ms':>11}")
        for name, median, slowest in asyncio.run(measure(url, args.runs)):
            flag = "" if median < TARGET_MS else f"  (over {TARGET_MS:.0f} ms)"
            print(f"{name:<22} {median:>10.1f} {slowest:>11.1f}{flag}")
    finally:
        if made is not None:
            databases.drop(made)


if __name__ == "__main__":
    main()
