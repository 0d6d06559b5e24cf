"""A worker or an enqueuer in a process whose clock is wrong by a given number of seconds.

Usage: python -m tests.core.skewed_process SKEW worker URL '{"lease_timeout": 2, ...}'
       python -m tests.core.skewed_process SKEW enqueue URL JOB_TYPE '{"data": …, "delay": …}'
       python -m tests.core.skewed_process SKEW cli URL ARGS…   (the dbjobq command)

``time.time`` and ``time.time_ns`` are shifted by SKEW seconds before DBJobQ is imported, as on a
machine whose clock is off: whatever DBJobQ reads from them is off by that much. (DBJobQ reads the
wall clock through them only; ``datetime.now`` is not used for due times.)
"""

from __future__ import annotations

import sys
import time


def _skew(seconds: float) -> None:
    real_time, real_time_ns = time.time, time.time_ns
    time.time = lambda: real_time() + seconds  # type: ignore[assignment]
    time.time_ns = lambda: real_time_ns() + int(seconds * 1e9)  # type: ignore[assignment]


def main() -> None:
    _skew(float(sys.argv[1]))
    command, url = sys.argv[2], sys.argv[3]
    import asyncio
    import json
    import logging

    from dbjobq import JobQueue
    from dbjobq.runner import run_worker_blocking
    from dbjobq.storage import SQLAlchemyStorage
    from dbjobq.worker import WorkerConfig
    from tests.core import jobs  # noqa: F401  (registers the jobs)

    logging.basicConfig(level=logging.INFO, format="%(process)d %(levelname)s %(name)s: %(message)s")
    if command == "cli":
        from dbjobq.cli.main import cli

        cli.main(["--url", url, *sys.argv[4:]], prog_name="dbjobq")
        return
    if command == "worker":
        config = WorkerConfig.from_options(json.loads(sys.argv[4]))
        run_worker_blocking(lambda: SQLAlchemyStorage(url), {"burst": False}, config=config)
        return

    async def enqueue() -> None:
        async with SQLAlchemyStorage(url) as storage:
            options = json.loads(sys.argv[5])
            print(await JobQueue(storage).enqueue(sys.argv[4], options.get("data"), delay=options.get("delay")))

    asyncio.run(enqueue())


if __name__ == "__main__":
    main()
