"""Job functions for the Flask tests."""

from __future__ import annotations

from typing import Any

from flask import current_app

from dbjobq import job


@job()
def add(data: dict[str, Any]) -> int:
    """Add two numbers."""
    return int(data["a"]) + int(data["b"])


@job()
async def app_name(data: dict[str, Any]) -> str:
    """The name of the app whose worker runs this job (jobs run inside the app context)."""
    return str(current_app.name)


@job()
def boom(data: dict[str, Any]) -> None:
    """Always fails."""
    raise RuntimeError("boom")


@job()
def sync_app_name(data: dict[str, Any]) -> str:
    """The same from a sync job, which runs in a thread."""
    return str(current_app.name)
