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


@job(name="testapp.count_notes")
def count_notes(data: dict[str, Any]) -> int:
    """A sync job that reads what the enqueueing code wrote (in a test: inside the test's transaction)."""
    return Note.objects.using(data.get("using", "default")).filter(text=data["text"]).count()


@job(name="testapp.acount_notes")
async def acount_notes(data: dict[str, Any]) -> int:
    """The same from an async job, through sync_to_async."""
    from asgiref.sync import sync_to_async

    return await sync_to_async(count_notes)(data)


@job(name="testapp.flaky", max_retries=2)
def flaky(data: dict[str, Any]) -> str:
    """Fails until its Note count reaches ``succeed_at`` (each attempt writes one Note)."""
    using = data.get("using", "default")
    Note.objects.using(using).create(text=data["text"])
    attempts = Note.objects.using(using).filter(text=data["text"]).count()
    if attempts < data["succeed_at"]:
        raise RuntimeError(f"attempt {attempts} fails")
    return f"succeeded at attempt {attempts}"


@job(name="testapp.chain")
def chain(data: dict[str, Any]) -> str:
    """Enqueues another job (eagerly run jobs may enqueue too)."""
    import dbjobq_django

    return dbjobq_django.enqueue("testapp.add", {"a": data["a"], "b": 1})
