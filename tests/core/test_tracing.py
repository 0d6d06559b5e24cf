"""OpenTelemetry: enqueue stores the trace context in Job.meta; each run is a span of that trace, named
after the job type, with the messaging attributes; retries are new spans of the same trace."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from dbjobq import JobQueue, Worker, tracing
from tests.core import jobs
from tests.tracing import traceparent_of


async def test_tracing_run_is_a_span_of_the_enqueue_trace(queue: JobQueue, spans: InMemorySpanExporter) -> None:
    with trace.get_tracer("app").start_as_current_span("POST /signup") as request:
        job_id = await queue.enqueue(jobs.noop, {}, queue="mail")
    stored = await queue.get_job(job_id)
    assert stored is not None and stored.meta["traceparent"].startswith(traceparent_of(request) + "-")
    await asyncio.wait_for(Worker(queue, poll_interval=0.05).run(burst=True), timeout=30)
    [run] = [s for s in spans.get_finished_spans() if s.name == "tests.core.jobs.noop"]
    parent = request.get_span_context()
    assert run.context.trace_id == parent.trace_id and run.parent is not None
    assert run.parent.span_id == parent.span_id and run.kind == SpanKind.CONSUMER
    attributes = dict(run.attributes or {})
    assert attributes["messaging.system"] == "dbjobq" and attributes["messaging.operation.type"] == "process"
    assert attributes["messaging.message.id"] == job_id and attributes["messaging.destination.name"] == "mail"
    assert (attributes["dbjobq.job.attempt"], attributes["dbjobq.job.outcome"]) == (1, "completed")


async def test_tracing_retries_are_new_spans_of_the_same_trace(queue: JobQueue, spans: InMemorySpanExporter) -> None:
    with trace.get_tracer("app").start_as_current_span("nightly import") as origin:
        await queue.enqueue(jobs.always_fails, {})
    await asyncio.wait_for(Worker(queue, poll_interval=0.05).run(burst=True), timeout=30)
    runs = sorted(
        (s for s in spans.get_finished_spans() if s.name == "tests.core.jobs.always_fails"),
        key=lambda s: dict(s.attributes or {})["dbjobq.job.attempt"],
    )
    assert [dict(s.attributes or {})["dbjobq.job.outcome"] for s in runs] == ["retried", "retried", "failed"]
    assert {s.context.trace_id for s in runs} == {origin.get_span_context().trace_id}
    assert len({s.context.span_id for s in runs}) == 3
    assert all(s.status.status_code == StatusCode.ERROR and s.events for s in runs)


async def test_tracing_nothing_stored_without_a_provider_or_a_span(queue: JobQueue) -> None:
    job_id = await queue.enqueue(jobs.noop, {})
    job = await queue.get_job(job_id)
    assert job is not None and job.meta == {}


async def test_tracing_job_spans_nest_in_the_run(queue: JobQueue, spans: InMemorySpanExporter) -> None:
    job_id = await queue.enqueue(jobs.traced_child, {})  # no span at the enqueue site: the run is a root
    await asyncio.wait_for(Worker(queue, poll_interval=0.05).run(burst=True), timeout=30)
    finished = {s.name: s for s in spans.get_finished_spans()}
    run, child = finished["tests.core.jobs.traced_child"], finished["inside the job"]
    assert run.parent is None and child.parent is not None and child.parent.span_id == run.context.span_id
    assert (await queue.get_job(job_id)) is not None


def test_tracing_provider_named_by_the_environment_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no provider set in code, ``OTEL_PYTHON_TRACER_PROVIDER`` (read once) sends ``enabled()`` to
    opentelemetry's ``get_tracer_provider()``, which loads the provider it names; without it, no provider."""
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    monkeypatch.setattr(tracing, "_trace", None)  # read the environment again
    monkeypatch.delenv("OTEL_PYTHON_TRACER_PROVIDER", raising=False)
    assert not tracing.enabled()
    monkeypatch.setattr(tracing, "_trace", None)
    monkeypatch.setenv("OTEL_PYTHON_TRACER_PROVIDER", "sdk_tracer_provider")
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: TracerProvider())  # what loading it would return
    assert tracing.enabled()
