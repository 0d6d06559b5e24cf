"""SIGTERM and SIGINT for a worker running in the foreground: the first stops it gracefully, the second now."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def stop_on_signals(stop: Callable[[float | None], Awaitable[None]]) -> Iterator[None]:
    """While inside, SIGTERM/SIGINT call ``stop(None)`` (graceful), and ``stop(0)`` when sent again.

    Does nothing outside the main thread or where the loop cannot handle signals.
    """
    loop = asyncio.get_running_loop()
    installed: list[int] = []
    stopping: list[asyncio.Future[None]] = []  # referenced, so the stop tasks are not collected

    def on_signal(signum: int) -> None:
        name = signal.Signals(signum).name
        if not stopping:
            logger.info(
                "%s received: stopping gracefully (send it again to stop now)", name, extra={"action": "signal"}
            )
            stopping.append(asyncio.ensure_future(stop(None)))
        else:
            logger.warning("%s received again: stopping now", name, extra={"action": "signal"})
            stopping.append(asyncio.ensure_future(stop(0)))

    for sig in STOP_SIGNALS:
        try:
            loop.add_signal_handler(sig, on_signal, int(sig))
            installed.append(int(sig))
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread, or not supported on this platform
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
