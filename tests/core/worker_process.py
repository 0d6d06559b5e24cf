"""A worker in its own process, for the crash and multi-process tests.

Usage: python -m tests.core.worker_process URL '{"lease_timeout": 1, ...}' [--burst]
"""

from __future__ import annotations

import json
import logging
import sys

from dbjobq.cli.worker_options import run_worker_blocking
from dbjobq.storage import SQLAlchemyStorage
from tests.core import jobs  # noqa: F401  (registers the jobs)


def main() -> None:
    url, options = sys.argv[1], json.loads(sys.argv[2])
    logging.basicConfig(level=logging.INFO, format="%(process)d %(levelname)s %(name)s: %(message)s")
    burst = "--burst" in sys.argv[3:]
    run_worker_blocking(lambda: SQLAlchemyStorage(url), {**options, "burst": burst}, on_start=_tune(options))


def _tune(options: dict):  # type: ignore[no-untyped-def]
    def apply(worker):  # type: ignore[no-untyped-def]
        for name in ("heartbeat_interval", "lease_timeout", "maintenance_interval"):
            if name in options:
                setattr(worker, name, options[name])

    return apply


if __name__ == "__main__":
    main()
