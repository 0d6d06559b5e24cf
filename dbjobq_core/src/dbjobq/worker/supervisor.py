"""The worker's side tasks, kept by name and supervised: a loop that dies stops the worker.

Each loop handles its own database errors (it logs them and tries again), so a loop that ends with an
exception has a bug or met something it cannot survive.
Running half-alive (say, claiming jobs without renewing their leases) would be worse than stopping:
the supervisor logs it and calls ``on_death``, and the worker stops with an error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

logger = logging.getLogger(__name__)


class SideTasks:
    """Named background tasks; ``on_death(name, exc)`` is called when one dies unexpectedly."""

    def __init__(self, on_death: Callable[[str, BaseException], None]) -> None:
        self._on_death = on_death
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._cancelled: set[str] = set()

    def __contains__(self, name: str) -> bool:
        return name in self._tasks

    def start(self, name: str, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` as the side task ``name``."""
        if name in self._tasks:
            coro.close()
            raise RuntimeError(f"A side task named {name!r} is already running")
        task = asyncio.get_running_loop().create_task(coro, name=f"dbjobq-{name}")
        self._tasks[name] = task
        task.add_done_callback(lambda done: self._done(name, done))

    def task(self, name: str) -> asyncio.Task[None]:
        """The side task ``name``."""
        return self._tasks[name]

    def _done(self, name: str, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            if name not in self._cancelled:  # e.g. the event loop closing under a running worker
                logger.warning("The worker's %s loop was cancelled", name, extra={"action": "loop_cancelled"})
            return
        error = task.exception()
        if error is None:
            return
        logger.error(
            "The worker's %s loop died; stopping the worker",
            name,
            exc_info=(type(error), error, error.__traceback__),
            extra={"action": "loop_died", "loop": name},
        )
        self._on_death(name, error)

    async def finish(self, *names: str, timeout: float) -> None:
        """Wait up to ``timeout`` s for the named tasks to end on their own, then cancel what remains.

        The loops end between two queries once told to: cancelling one mid-query would throw its
        connection away (and with it an in-memory SQLite database).
        """
        tasks = [self._tasks[name] for name in names if name in self._tasks]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        for name in names:
            if name in self._tasks and not self._tasks[name].done():
                logger.warning("The %s loop did not end within %gs; cancelling it", name, timeout)
                self.cancel(name)
        await asyncio.gather(*tasks, return_exceptions=True)

    def cancel(self, name: str) -> None:
        """Cancel the side task ``name`` (its end is then expected, not a death)."""
        if name in self._tasks:
            self._cancelled.add(name)
            self._tasks[name].cancel()
