"""Flow-controlled jobs for the flow-control tests, kept out of the registry until a test asks.

A worker claims every flow-controlled type registered in its process apart from the others; importing
this module registers nothing for good (the ``flow_jobs`` fixture and ``flow_worker_process`` put
:data:`SPECS` in the registry), so the rest of the suite's workers claim as they always do.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

from dbjobq import Snooze, job
from dbjobq.registry import JobSpec, _registry


def _log(data: dict[str, Any], event: str) -> None:
    """Append one line (pid, job n, key, event, time) to the run log named in the data."""
    line = json.dumps(
        {"pid": os.getpid(), "n": data.get("n"), "key": data.get("key"), "event": event, "t": time.time()}
    )
    with open(data["log"], "a") as out:
        out.write(line + "\n")


@job(name="flow.limited", concurrency_limit=2)
async def limited(data: dict[str, Any]) -> None:
    _log(data, "start")
    await asyncio.sleep(data.get("sleep", 0.2))
    _log(data, "end")


@job(name="flow.per_key", concurrency_limit=1, concurrency_key=lambda data: data["key"])
async def per_key(data: dict[str, Any]) -> None:
    _log(data, "start")
    await asyncio.sleep(data.get("sleep", 0.05))
    _log(data, "end")


@job(name="flow.rated", rate_limit="20/s")
async def rated(data: dict[str, Any]) -> None:
    _log(data, "start")


@job(name="flow.free")
async def free(data: dict[str, Any]) -> None:
    _log(data, "start")


@job(name="flow.snoozer", max_retries=0)
async def snoozer(data: dict[str, Any]) -> str:
    marker = Path(data["marker"])
    if not marker.exists():
        marker.write_text("once")
        raise Snooze(data.get("seconds", 0.3))
    return "woke up"


NAMES = ("flow.limited", "flow.per_key", "flow.rated", "flow.snoozer")
#: The flow-controlled specs, out of the registry (``flow.free`` and ``flow.snoozer`` stay: no limits).
SPECS: dict[str, JobSpec] = {name: _registry.pop(name) for name in NAMES if _registry[name].flow_controlled}


def read_log(path: Path) -> list[dict[str, Any]]:
    """The run log's lines."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
