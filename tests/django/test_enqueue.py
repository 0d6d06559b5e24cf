"""Enqueueing from Django: sync joins the ORM transaction, async goes through the core queue."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.exceptions import SynchronousOnlyOperation
from django.db import connections, transaction
from django.test import Client

import dbjobq_django
from dbjobq import JobStatus, PayloadTooLargeError, job
from dbjobq.storage import SQLAlchemyStorage
from dbjobq_django.models import Job
from tests.django.conftest import per_database
from tests.waiting import wait_until


@job(name="tests.django.defaults", priority=7, max_retries=2, queue="mail")
def defaults_job(data: dict[str, Any]) -> None:
    """A job with decorator defaults."""


@per_database(transaction=True)
def test_enqueue_rolled_back_transaction_leaves_no_job(dbjobq: str) -> None:
    with pytest.raises(RuntimeError), transaction.atomic(using=dbjobq):
        job_id = dbjobq_django.enqueue("testapp.add", {"a": 1, "b": 2})
        assert Job.objects.using(dbjobq).filter(id=job_id).exists()  # visible inside the transaction
        raise RuntimeError("roll back")
    assert not Job.objects.using(dbjobq).filter(id=job_id).exists()


@per_database(transaction=True)
def test_enqueue_committed_transaction_keeps_job(dbjobq: str) -> None:
    with transaction.atomic(using=dbjobq):
        job_id = dbjobq_django.enqueue(defaults_job, {"to": "a@example.com"}, delay=60)
    # Read back through the core, as a worker would.
    stored = asyncio.run(_core_get(job_id))
    assert stored is not None
    assert stored.status is JobStatus.PENDING
    assert stored.type == "tests.django.defaults"
    assert stored.data == {"to": "a@example.com"}
    assert (stored.queue, stored.priority, stored.max_retries, stored.attempts) == ("mail", 7, 2, 0)
    assert stored.execute_at and stored.created_at
    assert 59 < (stored.execute_at - stored.created_at).total_seconds() < 61


async def _core_get(job_id: str) -> Any:
    return await dbjobq_django.get_queue().get_job(job_id)


@per_database(transaction=True)
def test_enqueue_options_override_defaults(dbjobq: str) -> None:
    job_id = dbjobq_django.enqueue(defaults_job, None, priority=1, max_retries=0, queue="other")
    row = Job.objects.using(dbjobq).get(id=job_id)
    assert (row.queue, row.priority, row.max_retries, row.data) == ("other", 1, 0, "{}")


def test_enqueue_rejects_bad_input_before_writing() -> None:
    with pytest.raises(TypeError, match="JSON"):
        dbjobq_django.enqueue("testapp.add", {"when": object()})
    with pytest.raises(ValueError, match="delay"):
        dbjobq_django.enqueue("testapp.add", delay=-1)


async def test_enqueue_sync_in_async_code_points_to_aenqueue() -> None:
    with pytest.raises(SynchronousOnlyOperation, match="aenqueue"):
        dbjobq_django.enqueue("testapp.add")


@per_database(transaction=True)
def test_enqueue_async_view_uses_aenqueue(dbjobq: str) -> None:
    response = Client().get("/aenqueue/")
    assert response.status_code == 200
    row = Job.objects.using(dbjobq).get(id=response.json()["job_id"])
    assert (row.type, row.status, row.data) == ("testapp.add", "pending", '{"a":2,"b":3}')


@per_database(transaction=True)
def test_enqueue_sync_view_in_transaction(dbjobq: str) -> None:
    client = Client()
    assert client.get("/enqueue/?fail=1").status_code == 400
    assert Job.objects.using(dbjobq).count() == 0
    job_id = client.get("/enqueue/").json()["job_id"]
    assert Job.objects.using(dbjobq).filter(id=job_id, status="pending").exists()


@per_database(transaction=True, only=("postgresql",))
async def test_enqueue_notifies_workers_on_commit_only(dbjobq: str) -> None:
    notified: list[int] = []
    storage = SQLAlchemyStorage(dbjobq_django.get_settings().engine_url())
    await storage.initialize()
    subscription = await storage.listen(lambda: notified.append(1))
    assert subscription is not None
    try:

        def rolled_back_then_committed() -> None:
            try:
                with pytest.raises(RuntimeError), transaction.atomic(using=dbjobq):
                    dbjobq_django.enqueue("testapp.add")
                    raise RuntimeError("roll back")
                with transaction.atomic(using=dbjobq):
                    dbjobq_django.enqueue("testapp.add")
            finally:
                connections[dbjobq].close()  # this thread's connection, or the test database stays busy

        await sync_to_async(rolled_back_then_committed)()
        # Notifications arrive in commit order: once the committed one is here, a notification from
        # the rolled-back insert would have arrived before it.
        await wait_until(lambda: asyncio.sleep(0, result=bool(notified)), timeout=5)
        assert notified == [1]
    finally:
        await subscription.close()
        await storage.close()


@per_database(transaction=True)
def test_enqueue_unique_key_through_the_orm(dbjobq: str) -> None:
    with transaction.atomic(using=dbjobq):
        first = dbjobq_django.enqueue("testapp.add", {"a": 1, "b": 2}, unique_key="invoice-42")
        # Held inside the same transaction; the savepoint keeps the transaction usable afterwards.
        assert dbjobq_django.enqueue("testapp.add", {"a": 5, "b": 5}, unique_key="invoice-42") == first
        other = dbjobq_django.enqueue("testapp.add", {}, unique_key="invoice-43")
    with pytest.raises(RuntimeError), transaction.atomic(using=dbjobq):
        gone = dbjobq_django.enqueue("testapp.add", {}, unique_key="rolled-back")
        raise RuntimeError("roll back")
    assert Job.objects.using(dbjobq).count() == 2 and other != first
    row = Job.objects.using(dbjobq).get(id=first)
    assert (row.unique_key, row.data) == ("invoice-42", '{"a":1,"b":2}')
    # The core sees the ORM's key, and the ORM the core's.
    assert asyncio.run(dbjobq_django.get_queue().enqueue("testapp.add", {}, unique_key="invoice-42")) == first
    assert dbjobq_django.enqueue("testapp.add", {}, unique_key="rolled-back") != gone


@per_database(transaction=True, only=("postgresql", "mysql"))
@pytest.mark.parametrize("skew", [60.0, -60.0])
def test_enqueue_due_time_follows_the_database_clock(dbjobq: str, skew: float, monkeypatch: pytest.MonkeyPatch) -> None:
    """A web server whose clock is a minute off: the ORM's rows are stamped and dated by the database."""
    import time

    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + skew)
    now_job = dbjobq_django.enqueue("testapp.add", {"a": 1, "b": 2})
    later_job = dbjobq_django.enqueue("testapp.add", {"a": 1, "b": 2}, delay=30)
    monkeypatch.undo()
    with connections[dbjobq].cursor() as cursor:
        cursor.execute("SELECT " + _now_sql(dbjobq))
        (db_now,) = cursor.fetchone()
    at_once, delayed = (Job.objects.using(dbjobq).get(id=i) for i in (now_job, later_job))
    assert abs(at_once.created_at - float(db_now)) < 5 and at_once.execute_at == at_once.created_at
    assert delayed.execute_at - delayed.created_at == pytest.approx(30, abs=0.01)


def _now_sql(alias: str) -> str:
    if connections[alias].vendor == "postgresql":
        return "EXTRACT(EPOCH FROM clock_timestamp())"
    return "UNIX_TIMESTAMP(NOW(6))"


@per_database(transaction=True)
def test_enqueue_through_the_orm_carries_the_trace(dbjobq: str, spans: Any) -> None:
    from opentelemetry import trace

    from dbjobq import testing
    from tests.tracing import traceparent_of

    with trace.get_tracer("app").start_as_current_span("POST /orders") as request, transaction.atomic(using=dbjobq):
        job_id = dbjobq_django.enqueue(defaults_job, {"to": "a@example.com"})
    row = Job.objects.using(dbjobq).get(id=job_id)  # written by the ORM, in the view's transaction
    assert row.meta is not None and traceparent_of(request) in row.meta

    async def run() -> None:
        await testing.run_due_jobs(dbjobq_django.get_queue(), queues=["mail"])

    asyncio.run(run())
    [run_span] = [s for s in spans.get_finished_spans() if s.name == "tests.django.defaults"]
    assert run_span.context.trace_id == request.get_span_context().trace_id
    assert run_span.parent is not None and run_span.parent.span_id == request.get_span_context().span_id


@per_database(transaction=True)
def test_enqueue_large_data_through_the_orm(dbjobq: str) -> None:
    blob = "x" * (200 * 1024) + "\"'\\é"
    job_id = dbjobq_django.enqueue("testapp.add", {"blob": blob})
    stored = asyncio.run(_core_get(job_id))
    assert stored is not None and stored.data == {"blob": blob}
    if connections[dbjobq].vendor != "mysql":
        return
    # Past max_allowed_packet: the core's clear error, and nothing written.
    with pytest.raises(PayloadTooLargeError, match="max_allowed_packet"), transaction.atomic(using=dbjobq):
        dbjobq_django.enqueue("testapp.add", {"blob": "y" * 17 * 1024 * 1024})
    assert Job.objects.using(dbjobq).count() == 1


@per_database(transaction=True)
def test_enqueue_depends_on_through_the_orm(dbjobq: str) -> None:
    with transaction.atomic(using=dbjobq):
        first = dbjobq_django.enqueue("testapp.add", {"a": 1, "b": 2})
        # The dependency is read inside the same transaction: it exists, and it is pending.
        waiting = dbjobq_django.enqueue("testapp.add", {"a": 1, "b": 2}, depends_on=[first])
    assert Job.objects.using(dbjobq).get(id=waiting).status == "waiting"
    Job.objects.using(dbjobq).filter(id=first).update(status="failed")
    doomed = dbjobq_django.enqueue("testapp.add", {}, depends_on=[first])
    row = Job.objects.using(dbjobq).get(id=doomed)
    assert row.status == "failed" and first in (row.error or "") and row.finished_at is not None
    with pytest.raises(ValueError, match="do not exist"):
        dbjobq_django.enqueue("testapp.add", {}, depends_on=["nope"])
