"""A worker in its own process, for the crash and multi-process tests.

Usage: python -m tests.core.worker_process URL '{"lease_timeout": 1, ...}' [--burst] [--flow]
[--storage '{"pgbouncer": true}'] (``--flow``: the flow-controlled jobs of tests.core.flow_jobs too)
"""

from __future__ import annotations

import json
import logging
import sys

from dbjobq.runner import run_worker_blocking
from dbjobq.storage import SQLAlchemyStorage
from dbjobq.worker import WorkerConfig
from tests.core import jobs  # noqa: F401  (registers the jobs)


def main() -> None:
    url, options = sys.argv[1], json.loads(sys.argv[2])
    logging.basicConfig(level=logging.INFO, format="%(process)d %(levelname)s %(name)s: %(message)s")
    burst = "--burst" in sys.argv[3:]
    if "--flow" in sys.argv[3:]:
        from dbjobq import registry
        from tests.core import flow_jobs

        registry._registry.update(flow_jobs.SPECS)
    extra = sys.argv[3:]
    storage_options = json.loads(extra[extra.index("--storage") + 1]) if "--storage" in extra else {}
    run_worker_blocking(
        lambda: SQLAlchemyStorage(url, **storage_options), {"burst": burst}, config=WorkerConfig.from_options(options)
    )


if __name__ == "__main__":
    main()
