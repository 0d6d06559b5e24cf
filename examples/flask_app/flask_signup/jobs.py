"""The app's jobs. The worker imports this module through create_app(), so they are registered."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from flask import current_app

from dbjobq import job

logger = logging.getLogger(__name__)


@job(max_retries=3, queue="mail")
def send_welcome_email(data: dict[str, Any]) -> str:
    """A sync job (runs in the worker's thread pool): pretend to send an email."""
    sender = current_app.config.get("MAIL_SENDER", "hello@example.com")  # jobs run in the app context
    logger.info("Sending welcome email from %s to %s", sender, data["email"])
    return f"sent to {data['email']}"


@job(timeout=60)
async def build_report(data: dict[str, Any]) -> dict[str, Any]:
    """An async job (runs on the worker's event loop)."""
    await asyncio.sleep(0.01)
    return {"user_count": int(data.get("users", 0)), "kind": data.get("kind", "daily")}
