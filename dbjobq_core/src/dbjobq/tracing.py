"""OpenTelemetry tracing (the ``otel`` extra, opentelemetry-api): the enqueue site's trace context is
stored with the job (``Job.meta["traceparent"]``, W3C Trace Context) and each run is a span of that
trace, named after the job type, with the messaging semantic conventions' attributes.

Nothing is imported or done unless opentelemetry-api is installed and the application configured a
tracer provider (``trace.set_tracer_provider(...)``): without one there is nothing to record.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .execution import RunResult
    from .models import Job

#: ``messaging.system``: what the spans name as the messaging system.
SYSTEM = "dbjobq"
_installed: bool | None = None


def installed() -> bool:
    """True when opentelemetry-api is importable (checked once)."""
    global _installed
    if _installed is None:
        _installed = importlib.util.find_spec("opentelemetry") is not None and (
            importlib.util.find_spec("opentelemetry.trace") is not None
        )
    return _installed


_trace: Any = None  # opentelemetry.trace, once imported
_no_provider: tuple[type, ...] = ()
_provider_from_environment = False
_UNREAD = object()


def enabled() -> bool:
    """True when opentelemetry-api is installed and a real tracer provider is configured.

    Asked once per enqueue and once per job run, so it must cost next to nothing. The module and the
    classes meaning "no provider" are looked up once. ``trace.get_tracer_provider()`` reads the
    environment on every call while no provider is set (``OTEL_PYTHON_TRACER_PROVIDER``: ~2.5 µs,
    about a tenth of a no-op job's Python); here the global it returns is read directly, and the
    function is called only where it would do more than return that global (the environment names a
    provider, read once; or a future opentelemetry-api no longer keeps the global).
    """
    global _trace, _no_provider, _provider_from_environment
    if _trace is None:
        if not installed():
            return False
        import os

        from opentelemetry import trace

        _no_provider = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
        _provider_from_environment = "OTEL_PYTHON_TRACER_PROVIDER" in os.environ
        _trace = trace
    provider = getattr(_trace, "_TRACER_PROVIDER", _UNREAD)
    if provider is None and not _provider_from_environment:
        return False
    if provider is None or provider is _UNREAD:
        provider = _trace.get_tracer_provider()
    return not isinstance(provider, _no_provider)


def enqueue_meta() -> dict[str, Any] | None:
    """The current trace context as ``{"traceparent": …[, "tracestate": …]}``, or ``None`` (no tracing,
    or no span in progress at the enqueue site)."""
    if not enabled():
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return dict(carrier) if "traceparent" in carrier else None


def trace_context() -> Any:
    """The caller's OpenTelemetry context, to carry into work done on another thread or event loop
    (an adapter's loop thread); ``None`` when not tracing."""
    if not enabled():
        return None
    from opentelemetry import context

    return context.get_current()


@contextlib.contextmanager
def use_trace_context(carried: Any) -> Iterator[None]:
    """Make ``carried`` (from :func:`trace_context`) the current context inside the block."""
    if carried is None:
        yield
        return
    from opentelemetry import context

    token = context.attach(carried)
    try:
        yield
    finally:
        context.detach(token)


@contextlib.contextmanager
def run_span(job: Job) -> Iterator[Any]:
    """A CONSUMER span for one run of ``job``, named after its type and parented to the context stored
    at enqueue (a retry is another span of the same trace); yields it (``None`` when not tracing).
    Call :func:`end_run` with the run's result before leaving."""
    if not enabled():
        yield None
        return
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier = {key: str(job.meta[key]) for key in ("traceparent", "tracestate") if isinstance(job.meta.get(key), str)}
    parent = TraceContextTextMapPropagator().extract(carrier) if carrier else None
    tracer = trace.get_tracer("dbjobq")
    attributes: dict[str, Any] = {
        "messaging.system": SYSTEM,
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": job.queue,
        "messaging.message.id": job.id,
        "dbjobq.job.type": job.type,
        "dbjobq.job.attempt": job.attempts,
    }
    with tracer.start_as_current_span(
        job.type, context=parent, kind=trace.SpanKind.CONSUMER, attributes=attributes,
        record_exception=False, set_status_on_exception=False,
    ) as span:
        yield span


def end_run(span: Any, result: RunResult) -> None:
    """Record the run's outcome on its span: ``dbjobq.job.outcome`` (completed, retried, failed) and an
    error status with the exception for a failed run."""
    if span is None:
        return
    from opentelemetry.trace import Status, StatusCode

    status = result.outcome.status.value
    outcome = "retried" if status == "pending" else status
    span.set_attribute("dbjobq.job.outcome", outcome)
    if result.exception is not None:
        span.record_exception(result.exception)
        span.set_status(Status(StatusCode.ERROR, type(result.exception).__name__))
