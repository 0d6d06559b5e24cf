"""Queue controls (pause/resume) on the queues page: ``JobQueue.pause_queue``, ``resume_queue``,
``list_queues`` (durable, seen by every worker).

A queue object without them (another JobQueue-like object a project hands the dashboard) gets the
queues page without Pause and Resume. This module is the one place that asks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def available(queue: Any) -> bool:
    """True when ``queue`` can pause and resume queues."""
    return all(callable(getattr(queue, name, None)) for name in ("pause_queue", "resume_queue", "list_queues"))


async def paused_queues(queue: Any) -> dict[str, bool]:
    """Queue name -> paused, from ``list_queues()`` (entries with ``name``/``paused`` as attributes
    or keys); empty without queue controls."""
    if not available(queue):
        return {}
    found: dict[str, bool] = {}
    for entry in await queue.list_queues():
        if isinstance(entry, Mapping):
            found[str(entry["name"])] = bool(entry.get("paused"))
        else:
            found[str(entry.name)] = bool(getattr(entry, "paused", False))
    return found


async def set_paused(queue: Any, name: str, paused: bool) -> None:
    """Pause or resume queue ``name``; ``NotImplementedError`` without queue controls."""
    if not available(queue):
        raise NotImplementedError("This JobQueue has no queue controls (pause_queue/resume_queue)")
    await (queue.pause_queue(name) if paused else queue.resume_queue(name))
