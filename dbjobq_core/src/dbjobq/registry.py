"""The ``@job`` decorator and the registry of job functions a worker is allowed to run."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from . import errors, flow

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

#: The attribute ``@job`` sets on the function it registers.
SPEC_ATTRIBUTE = "__dbjobq_job__"



@dataclass(frozen=True)
class JobSpec:
    """A registered job function and its defaults."""

    name: str
    func: Callable[..., Any]
    max_retries: int = 0
    priority: int = 0
    queue: str = "default"
    timeout: float | None = None
    retry_delay: float = 1.0
    retry_max_delay: float = 300.0
    #: The recurring schedule declared with ``@job(cron=…)`` or ``@job(every=…)``, if any.
    schedule: Any = None
    #: At most this many jobs of this type (per concurrency key) run at once across all workers.
    concurrency_limit: int | None = None
    #: The concurrency key of a job's data (jobs with different keys have separate limits).
    concurrency_key: Callable[[dict[str, Any]], Any] | None = None
    #: At most ``rate_limit.count`` starts of this type per window of ``rate_limit.period`` seconds.
    rate_limit: flow.RateLimit | None = None
    #: True for an ``async def`` function (awaited on the loop), False for a sync one (run in a thread);
    #: found once here rather than at every run.
    is_async: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "is_async", asyncio.iscoroutinefunction(self.func))

    @property
    def flow_controlled(self) -> bool:
        """True if jobs of this type are claimed under a concurrency or rate limit."""
        return self.concurrency_limit is not None or self.rate_limit is not None

    def flow_key(self, data: dict[str, Any]) -> str | None:
        """The ``flow_key`` stored with a job of this type: its concurrency key ("" without a key
        function), or ``None`` for a type without flow control."""
        if not self.flow_controlled:
            return None
        if self.concurrency_key is None:
            return ""
        return flow.key_text(self.concurrency_key(data), self.name)


_registry: dict[str, JobSpec] = {}
#: Bumped on every registration: a worker re-reads the job types it claims when this moves.
_generation = 0


def job(
    max_retries: int = 0,
    priority: int = 0,
    queue: str = "default",
    timeout: float | None = None,
    name: str | None = None,
    *,
    retry_delay: float = 1.0,
    retry_max_delay: float = 300.0,
    cron: str | None = None,
    every: float | timedelta | str | None = None,
    tz: str | None = None,
    concurrency_limit: int | None = None,
    concurrency_key: Callable[[dict[str, Any]], Any] | None = None,
    rate_limit: str | None = None,
) -> Callable[[F], F]:
    """Register a function, sync or async, as a job type.

    The job type is ``module.qualname`` (e.g. ``__main__.send_email``) unless ``name`` is given. The
    function stays callable as a plain function. ``max_retries=N`` allows N retries after the first
    attempt; retry ``n`` waits about ``retry_delay * 2**(n-1)`` seconds (with jitter, at most
    ``retry_max_delay``). ``timeout`` (seconds) stops an async job, or abandons a sync one, and counts
    the attempt as failed.

    ``cron="0 3 * * *"`` (with ``tz="Europe/Paris"``, else UTC) or ``every=`` (seconds, a timedelta or
    ``"15m"``) also declares a recurring schedule of it, with empty data, whose id is the job type:
    workers add it to the database when they start (see :mod:`dbjobq.declarations`).

    Flow control (docs/flow-control.md): ``concurrency_limit=N`` lets at most N jobs of this type run
    at once across all workers, per ``concurrency_key(data)`` when given (a function of the job's data
    returning a string or number); ``rate_limit="100/m"`` (``/s``, ``/m``, ``/h``) lets at most that
    many start per window across all workers. Jobs over a limit stay pending until a slot or window opens.
    """
    if max_retries < 0:
        raise ValueError("max_retries must be >= 0")
    if timeout is not None and timeout <= 0:
        raise ValueError("timeout must be a positive number of seconds")
    if retry_delay < 0 or retry_max_delay < 0:
        raise ValueError("retry_delay and retry_max_delay must be >= 0")
    if not queue:
        raise ValueError("queue must be a non-empty string")
    if concurrency_limit is not None and (
        not isinstance(concurrency_limit, int) or isinstance(concurrency_limit, bool) or concurrency_limit < 1
    ):
        raise ValueError(f"concurrency_limit must be an int >= 1, not {concurrency_limit!r}")
    if concurrency_key is not None and not callable(concurrency_key):
        raise TypeError("concurrency_key must be a function of the job's data, e.g. lambda data: data['user_id']")
    if concurrency_key is not None and concurrency_limit is None:
        raise ValueError("concurrency_key needs concurrency_limit: e.g. @job(concurrency_limit=1, concurrency_key=...)")
    rate = flow.parse_rate(rate_limit) if rate_limit is not None else None
    scheduled = cron is not None or every is not None or tz is not None
    if scheduled:  # a bad expression fails here, at the call, not when the function is defined
        from . import declarations  # it reads this registry

        where = name or "(this job's type)"
        declarations.declaration(where, where, cron=cron, every=every, tz=tz, source=f"@job() of {where}")

    def decorator(func: F) -> F:
        if not callable(func):
            raise TypeError("@job() decorates a function")
        job_name = name or f"{func.__module__}.{func.__qualname__}"
        declared = None
        source = f"@job() of {job_name}"
        if scheduled:
            from . import declarations

            declared = declarations.declaration(job_name, job_name, cron=cron, every=every, tz=tz, source=source)
        spec = JobSpec(
            job_name,
            func,
            max_retries,
            priority,
            queue,
            timeout,
            retry_delay,
            retry_max_delay,
            declared,
            concurrency_limit,
            concurrency_key,
            rate,
        )
        previous = _registry.get(job_name)
        if previous is not None and previous.func is not func:
            logger.debug("Job type %s registered again; the newest definition wins", job_name)
        if declared is not None or (previous is not None and previous.schedule is not None):
            from . import declarations

            # The newest definition wins here too; a clash with another declaration leaves all as it was.
            declarations.declare_source(source, [declared] if declared is not None else [])
        global _generation
        _registry[job_name] = spec
        _generation += 1
        setattr(func, SPEC_ATTRIBUTE, spec)
        return func

    return decorator


def job_name(func_or_name: Callable[..., Any] | str) -> str:
    """The job type for a registered function, or the given name."""
    if isinstance(func_or_name, str):
        if not func_or_name:
            raise ValueError("The job type must be a non-empty string")
        return func_or_name
    spec = getattr(func_or_name, SPEC_ATTRIBUTE, None)
    if isinstance(spec, JobSpec):
        return spec.name
    qualname = getattr(func_or_name, "__qualname__", repr(func_or_name))
    raise errors.JobNotRegisteredError(
        f"{getattr(func_or_name, '__module__', '?')}.{qualname} is not a job: decorate it with @job() "
        "or pass the job type as a string"
    )


def get_spec(name: str) -> JobSpec | None:
    """The registered spec for ``name``, or ``None``."""
    return _registry.get(name)


def resolve(name: str) -> JobSpec:
    """Find the function registered for a job type, or raise ``JobNotRegisteredError``.

    A stored job type is data: it is only looked up, never imported. The modules that register jobs
    are the ones the application imported or listed (``dbjobq worker --import``, settings, Django's
    discovery), so a row naming any other module cannot make a worker run that module's code.
    """
    spec = _registry.get(name)
    if spec is not None:
        return spec
    raise errors.JobNotRegisteredError(
        f"Unknown job type {name!r}: no function is registered under that name. Decorate it with "
        "@job() (or @job(name=...)) and make sure the worker imports its module, e.g. "
        "`dbjobq worker --import your.module`."
    )


def registered() -> dict[str, JobSpec]:
    """A copy of the registry (name -> spec)."""
    return dict(_registry)


def job_types() -> tuple[str, ...]:
    """The registered job types, sorted: what a worker of this process claims."""
    return tuple(sorted(_registry))


def generation() -> int:
    """A number that changes whenever a job type is registered."""
    return _generation
