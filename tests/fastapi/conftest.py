"""FastAPI test helpers: apps run as an ASGI server runs them, lifespan (and its state) included."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dbjobq.storage import SQLAlchemyStorage


@contextlib.asynccontextmanager
async def serve(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    """Run ``app``'s lifespan through the ASGI lifespan protocol (as uvicorn does, with lifespan state
    copied into each request's scope) and yield an httpx client talking to it.

    httpx's ASGITransport alone never runs a lifespan.
    """
    state: dict[str, Any] = {}
    to_app: asyncio.Queue[Message] = asyncio.Queue()
    from_app: asyncio.Queue[Message] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": state}
    task = asyncio.create_task(app(scope, to_app.get, from_app.put))
    await to_app.put({"type": "lifespan.startup"})
    if (await from_app.get())["type"] != "lifespan.startup.complete":
        await task  # re-raises what failed the start-up
        raise AssertionError("lifespan start-up failed")

    async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
        await app({**scope, "state": dict(state)}, receive, send)

    try:
        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        await to_app.put({"type": "lifespan.shutdown"})
        message = await from_app.get()
        await task
        assert message["type"] == "lifespan.shutdown.complete", message


@pytest.fixture
def clean_url(storage: SQLAlchemyStorage, db_url: str) -> str:
    """The current database's URL, its DBJobQ tables created and emptied."""
    return db_url
