"""Observing a worker: callbacks for job started / succeeded / failed / retried, e.g. for metrics."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Literal, get_args

from .execution import RunResult
from .models import Job

logger = logging.getLogger(__name__)

JobEvent = Literal["job_started", "job_succeeded", "job_failed", "job_retried"]
JOB_EVENTS: tuple[str, ...] = get_args(JobEvent)

#: A hook receives the job and, except for ``job_started``, the result of the run.
Hook = Callable[[Job, RunResult | None], Awaitable[None] | None]


class Hooks:
    """Callbacks per event. A failing hook is logged and never affects the job."""

    def __init__(self) -> None:
        self._hooks: dict[str, list[Hook]] = {event: [] for event in JOB_EVENTS}

    def add(self, event: JobEvent, hook: Hook) -> None:
        """Call ``hook(job, result)`` on ``event``; ``hook`` may be sync or async."""
        if event not in self._hooks:
            raise ValueError(f"Unknown event {event!r}: expected one of {', '.join(JOB_EVENTS)}")
        self._hooks[event].append(hook)

    def remove(self, event: JobEvent, hook: Hook) -> None:
        """Stop calling ``hook`` on ``event``."""
        if hook in self._hooks.get(event, []):
            self._hooks[event].remove(hook)

    def __bool__(self) -> bool:
        return any(self._hooks.values())

    async def emit(self, event: JobEvent, job: Job, result: RunResult | None = None) -> None:
        """Call every hook for ``event``."""
        for hook in self._hooks[event]:
            try:
                returned = hook(job, result)
                if inspect.isawaitable(returned):
                    await returned
            except Exception:
                logger.exception("Hook %r for %s failed", hook, event, extra={"action": "hook_failed"})
