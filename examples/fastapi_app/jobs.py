"""The example's jobs. A worker runs only what ``@job`` registered: it must import this module
(the app does; a separate worker gets ``--import examples.fastapi_app.jobs``)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from dbjobq import job

logger = logging.getLogger(__name__)


@job(max_retries=3, queue="emails", timeout=30)
async def send_welcome_email(data: dict[str, Any]) -> dict[str, str]:
    """Async job: runs on the worker's event loop (a real one would call an email API)."""
    await asyncio.sleep(0)
    logger.info("Welcome email sent to %s", data["email"])
    return {"sent_to": data["email"]}


@job(priority=5)
def build_report(data: dict[str, Any]) -> dict[str, int]:
    """Sync job: runs in the worker's thread pool, never blocking the app's event loop.

    ``data["owner"]`` names the user who asked for the report (the app shows it to them only).
    """
    numbers = [int(n) for n in data["numbers"]]
    return {"count": len(numbers), "total": sum(numbers), "largest": max(numbers, default=0)}
