"""The Flask extension: ``DBJobQ(app)`` or ``DBJobQ()`` + ``init_app(app)``, with sync and async faces."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask, current_app, has_app_context

from dbjobq import Job, JobQueue, JobStatus
from dbjobq.integration import declarations, trace_context, use_trace_context
from dbjobq.models import EnqueueOptions

from . import _cli, _config
from ._state import EXTENSION_KEY, DBJobQState, state_of

if TYPE_CHECKING:
    from typing_extensions import Unpack

T = TypeVar("T")

JobRef = Callable[..., Any] | str


class DBJobQ:
    """DBJobQ for Flask: enqueue and manage jobs from sync views (and async ones), plus ``flask dbjobq``.

    ``DBJobQ(app)`` or, with an app factory, ``jobq = DBJobQ()`` then ``jobq.init_app(app)``. Keyword
    ``options`` are defaults for every app's config, named like the keys without their prefix
    (``DBJobQ(database_url=...)`` for ``DBJOBQ_DATABASE_URL``); an app's own config wins.

    Methods act on the current app (``flask.current_app``). The sync face (``enqueue``, ``get_job``, ...)
    is safe from any thread: each app's storage and connection pool live on one event loop in a daemon
    thread, and calls are handed to it. The async face (``aenqueue``, ...) does the same for
    ``async def`` views.
    """

    def __init__(self, app: Flask | None = None, **options: Any) -> None:
        self._defaults = _config.check_options(options)
        if app is not None:
            self.init_app(app)

    def __repr__(self) -> str:
        return "<DBJobQ>"

    # -- set-up ---------------------------------------------------------------------------------
    def init_app(self, app: Flask) -> None:
        """Read and validate ``app``'s ``DBJOBQ_*`` config, store the state and add ``flask dbjobq``."""
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(
                f"DBJobQ is already set up on app {app.name!r}: call init_app() (or DBJobQ(app)) once per app"
            )
        _config.apply_defaults(app, self._defaults)
        settings = _config.load_settings(app)
        # Workers started in this process (`flask dbjobq worker`) sync the declared schedules.
        declarations.declare_source(f"DBJOBQ_SCHEDULES of app {app.name!r}", settings.schedules)
        app.extensions[EXTENSION_KEY] = DBJobQState(app.name, settings)
        app.cli.add_command(_cli.dbjobq_group)
        if settings.dashboard_url_prefix is not None:
            from . import _dashboard

            _dashboard.register(app, settings.dashboard_url_prefix)

    def get_state(self, app: Flask | None = None) -> DBJobQState:
        """The state of ``app`` (default: the current app); raises with a fix if it is not set up."""
        if app is None:
            if not has_app_context():
                raise RuntimeError(
                    "DBJobQ needs an application context: call it during a request or CLI command, "
                    "or inside `with app.app_context():`"
                )
            app = current_app._get_current_object()  # type: ignore[attr-defined]
        return state_of(app)

    def close(self, app: Flask | None = None) -> None:
        """Close the app's storage and stop its loop thread (also done at exit). Later calls raise."""
        self.get_state(app).close()

    @property
    def queue(self) -> JobQueue:
        """The current app's async JobQueue, which lives on the app's loop thread.

        Await its methods only on that loop, i.e. through :meth:`run` / :meth:`arun`
        (``jobq.run(lambda q: q.purge(older_than=3600))``): its pooled connections belong to that loop.
        """
        return self.get_state().queue

    def run(self, func: Callable[[JobQueue], Awaitable[T]]) -> T:
        """Run ``await func(queue)`` on the app's loop thread and return its result (sync, any thread).

        ``func`` runs outside any app context (the caller's context variables are not carried over),
        except with ``DBJOBQ_EAGER``: then it runs in a fresh context of the app, as the jobs it runs
        would under ``flask dbjobq worker``.
        """
        state = self.get_state()
        return state.call(_eager_context(state, func))

    async def arun(self, func: Callable[[JobQueue], Awaitable[T]]) -> T:
        """Await ``func(queue)`` run on the app's loop thread (from an ``async def`` view)."""
        state = self.get_state()
        return await state.acall(_eager_context(state, func))

    # -- sync face ------------------------------------------------------------------------------
    def enqueue(
        self,
        func_or_name: JobRef,
        data: dict[str, Any] | None = None,
        **options: Unpack[EnqueueOptions],
    ) -> str:
        """Add a job and return its id: :meth:`dbjobq.JobQueue.enqueue`, from sync code (the caller's
        OpenTelemetry trace context goes with it to the loop thread)."""
        carried = trace_context()

        async def call(q: JobQueue) -> str:
            with use_trace_context(carried):
                return await q.enqueue(func_or_name, data, **options)

        return self.run(call)

    def enqueue_many(
        self,
        func_or_name: JobRef,
        items: Iterable[dict[str, Any] | None],
        *,
        unique_keys: Callable[[dict[str, Any]], str | None] | Sequence[str | None] | None = None,
        **options: Unpack[EnqueueOptions],
    ) -> list[str]:
        """Add one job per data dict in bulk and return the ids: :meth:`dbjobq.JobQueue.enqueue_many`."""
        batch = list(items)
        carried = trace_context()

        async def call(q: JobQueue) -> list[str]:
            with use_trace_context(carried):
                return await q.enqueue_many(func_or_name, batch, unique_keys=unique_keys, **options)

        return self.run(call)

    def get_job(self, job_id: str) -> Job | None:
        """The job with that id, or ``None``."""
        return self.run(lambda q: q.get_job(job_id))

    def list_jobs(
        self,
        status: JobStatus | str | None = None,
        limit: int | None = None,
        offset: int = 0,
        queue: str | None = None,
    ) -> list[Job]:
        """Jobs in creation order, optionally filtered by status and queue."""
        return self.run(lambda q: q.list_jobs(status, limit, offset, queue))

    def cancel_job(self, job_id: str) -> bool:
        """Cancel a pending or running job; False if it already finished (unknown id: JobNotFoundError)."""
        return self.run(lambda q: q.cancel_job(job_id))

    def retry_job(self, job_id: str) -> bool:
        """Run a failed or cancelled job again; False if it is neither (unknown id: JobNotFoundError)."""
        return self.run(lambda q: q.retry_job(job_id))

    # -- async face (async def views) ------------------------------------------------------------
    async def aenqueue(
        self,
        func_or_name: JobRef,
        data: dict[str, Any] | None = None,
        **options: Unpack[EnqueueOptions],
    ) -> str:
        """Async :meth:`enqueue`."""
        carried = trace_context()

        async def call(q: JobQueue) -> str:
            with use_trace_context(carried):
                return await q.enqueue(func_or_name, data, **options)

        return await self.arun(call)

    async def aenqueue_many(
        self,
        func_or_name: JobRef,
        items: Iterable[dict[str, Any] | None],
        *,
        unique_keys: Callable[[dict[str, Any]], str | None] | Sequence[str | None] | None = None,
        **options: Unpack[EnqueueOptions],
    ) -> list[str]:
        """Async :meth:`enqueue_many`."""
        batch = list(items)
        carried = trace_context()

        async def call(q: JobQueue) -> list[str]:
            with use_trace_context(carried):
                return await q.enqueue_many(func_or_name, batch, unique_keys=unique_keys, **options)

        return await self.arun(call)

    async def aget_job(self, job_id: str) -> Job | None:
        """Async :meth:`get_job`."""
        return await self.arun(lambda q: q.get_job(job_id))

    async def alist_jobs(
        self,
        status: JobStatus | str | None = None,
        limit: int | None = None,
        offset: int = 0,
        queue: str | None = None,
    ) -> list[Job]:
        """Async :meth:`list_jobs`."""
        return await self.arun(lambda q: q.list_jobs(status, limit, offset, queue))

    async def acancel_job(self, job_id: str) -> bool:
        """Async :meth:`cancel_job`."""
        return await self.arun(lambda q: q.cancel_job(job_id))

    async def aretry_job(self, job_id: str) -> bool:
        """Async :meth:`retry_job`."""
        return await self.arun(lambda q: q.retry_job(job_id))



def _eager_context(state: DBJobQState, func: Callable[[JobQueue], Awaitable[T]]) -> Callable[[JobQueue], Awaitable[T]]:
    """``func`` run inside a new app context of the current app when jobs run eagerly (they expect one)."""
    if not state.settings.eager:
        return func
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    async def in_app_context(queue: JobQueue) -> T:
        with app.app_context():
            return await func(queue)

    return in_app_context
