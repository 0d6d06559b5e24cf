"""Job functions the FastAPI tests enqueue."""

from __future__ import annotations

import asyncio
from typing import Any

from dbjobq import job

#: Events a test creates (on its own loop) to watch or hold a running job, by name.
EVENTS: dict[str, asyncio.Event] = {}


@job()
async def greet(data: dict[str, Any]) -> str:
    """Return a greeting."""
    return f"hello {data['name']}"


@job(queue="emails")
async def send_email(data: dict[str, Any]) -> str:
    """Pretend to send an email."""
    return f"sent to {data['to']}"


@job()
def explode(data: dict[str, Any]) -> None:
    """Always fail."""
    raise RuntimeError(f"boom {data.get('n')}")


@job()
async def slow(data: dict[str, Any]) -> str:
    """Signal ``started``, then wait for ``release`` (or up to ``seconds``)."""
    EVENTS["started"].set()
    release = EVENTS.get("release")
    if release is not None:
        await release.wait()
    return "done"
