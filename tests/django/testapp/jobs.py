"""Jobs discovered by `runworker` (this module is imported by autodiscovery, not by the tests)."""

from __future__ import annotations

from typing import Any

from dbjobq import job

from .models import Note


@job(name="testapp.write_note")
def write_note(data: dict[str, Any]) -> int:
    """A sync job that uses the ORM (it runs in a worker thread)."""
    note = Note.objects.using(data.get("using", "default")).create(text=data["text"])
    return note.pk


@job(name="testapp.add")
async def add(data: dict[str, Any]) -> int:
    """An async job."""
    return int(data["a"]) + int(data["b"])


@job(name="testapp.boom")
def boom(data: dict[str, Any]) -> None:
    """A job that always fails."""
    raise RuntimeError(data.get("message", "boom"))


@job(name="testapp.connection_was_open")
def connection_was_open(data: dict[str, Any]) -> bool:
    """Whether this thread's Django connection was still open when the job started (then uses it)."""
    from django.db import connections

    connection = connections[data.get("using", "default")]
    was_open = connection.connection is not None
    Note.objects.using(connection.alias).count()
    return was_open
