"""Fixtures of the core tests: workers in subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Worker options for process tests: quick polls, short leases.
FAST = {"poll_interval": 0.05, "heartbeat_interval": 0.2, "lease_timeout": 2.0, "maintenance_interval": 0.2}

Spawn = Callable[..., "subprocess.Popen[bytes]"]


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawn]:
    """Start ``python -m tests.core.worker_process URL OPTIONS`` (logging to ``worker-N.log``); killed at the end."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(
        url: str,
        *,
        burst: bool = False,
        storage: dict[str, Any] | None = None,
        flow: bool = False,
        **options: float,
    ) -> subprocess.Popen[bytes]:
        """``storage``: SQLAlchemyStorage's keyword arguments (e.g. ``{"pgbouncer": True}``)."""
        args = [sys.executable, "-m", "tests.core.worker_process", url, json.dumps({**FAST, **options})]
        if storage:
            args += ["--storage", json.dumps(storage)]
        if flow:  # the flow-controlled jobs of tests.core.flow_jobs are registered too
            args.append("--flow")
        log = open(tmp_path / f"worker-{len(procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen([*args, *(["--burst"] if burst else [])], cwd=ROOT, stdout=log, stderr=log)
        log.close()
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
