"""PostgreSQL LISTEN on a dedicated connection: idle workers wake within milliseconds of a commit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .schema import NOTIFY_CHANNEL

logger = logging.getLogger(__name__)


class Subscription:
    """A live LISTEN on :data:`NOTIFY_CHANNEL`; ``alive`` turns False if the connection is lost."""

    def __init__(self, connection: AsyncConnection, driver_connection: Any, callback: Callable[..., None]) -> None:
        self._connection = connection
        self._driver = driver_connection
        self._callback = callback

    @classmethod
    async def open(cls, engine: AsyncEngine, on_notify: Callable[[], None]) -> Subscription:
        """Check a connection out of ``engine`` and LISTEN on it."""
        connection = await engine.connect()
        try:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection

            def callback(*_args: Any) -> None:
                on_notify()

            await driver.add_listener(NOTIFY_CHANNEL, callback)
        except BaseException:
            await connection.close()
            raise
        logger.debug("Listening on %s", NOTIFY_CHANNEL, extra={"action": "listen"})
        return cls(connection, driver, callback)

    @property
    def alive(self) -> bool:
        """False once the server closed the connection."""
        return not self._driver.is_closed()

    async def close(self) -> None:
        """Stop listening and give the connection back (discarding it if it broke)."""
        try:
            if self.alive:
                await self._driver.remove_listener(NOTIFY_CHANNEL, self._callback)
        except Exception:  # the connection is being thrown away anyway
            logger.debug("UNLISTEN failed", exc_info=True)
            await self._connection.invalidate()
        await self._connection.close()
