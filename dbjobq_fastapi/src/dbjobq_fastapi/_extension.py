"""DBJobQ for FastAPI: a lifespan that opens the storage (and can run a worker), and a jobs router."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, params
from sqlalchemy.engine import URL
from starlette.applications import Starlette

from dbjobq import ConfigurationError, JobQueue, Worker
from dbjobq.integration import WorkerConfig, declarations, did_you_mean, log_through_host, mask_url
from dbjobq.storage import SQLAlchemyStorage

from . import _router
from ._dependencies import STATE_KEY

logger = logging.getLogger(__name__)

AppT = TypeVar("AppT", bound=Starlette)
UserLifespan = Callable[[AppT], AbstractAsyncContextManager[Mapping[str, Any] | None]]
CombinedLifespan = Callable[[AppT], AbstractAsyncContextManager[dict[str, Any]]]

#: DBJobQ(...)'s own keyword arguments; the others are worker options.
_OWN_OPTIONS = (
    "run_worker",
    "engine_options",
    "pgbouncer",
    "listen_url",
    "dependencies",
    "mutation_dependencies",
    "public",
    "eager",
    "schedules",
)

#: The servers whose loggers an embedded worker logs through when the app configured only theirs.
HOST_LOGGERS = ("uvicorn.error", "gunicorn.error", "hypercorn.error")


class DBJobQ:
    """DBJobQ in a FastAPI app: ``FastAPI(lifespan=jobq.lifespan)``, ``Depends(get_queue)``, ``jobq.router``.

    ``url`` is an async database URL (``sqlite+aiosqlite:///jobs.sqlite3``, ``postgresql+asyncpg://…``,
    ``mysql+aiomysql://…``); ``engine_options`` go to SQLAlchemy's ``create_async_engine``. With
    ``run_worker=True`` the lifespan also runs a :class:`~dbjobq.Worker` inside the app, built with
    ``worker_options`` (``concurrency=``, ``queues=``, ``shutdown_timeout=``…, every option of
    :class:`~dbjobq.worker.WorkerConfig`) and stopped gracefully on shutdown; its log lines go through
    the server's handlers when the app configured no others. The jobs API (:attr:`router`) is closed
    until ``dependencies`` guard it (or ``public=True`` opens it); ``mutation_dependencies`` guard its
    retry and cancel endpoints too (see
    :func:`make_router`). With ``eager=True`` (for tests) every job runs as it is enqueued, its outcome
    recorded as a worker would (see ``JobQueue(storage, eager=True)``). ``schedules`` declares recurring
    jobs (``{"nightly": {"job": report, "cron": "0 3 * * *"}}``, see :mod:`dbjobq.declarations`), which
    workers of this process sync when they start. ``pgbouncer=True`` and ``listen_url`` are
    :class:`~dbjobq.storage.SQLAlchemyStorage`'s (PostgreSQL behind PgBouncer in transaction pooling;
    a direct URL for LISTEN). The library never creates the app.
    """

    def __init__(
        self,
        url: str | URL,
        *,
        run_worker: bool = False,
        engine_options: Mapping[str, Any] | None = None,
        pgbouncer: bool = False,
        listen_url: str | URL | None = None,
        dependencies: Sequence[params.Depends] | None = None,
        mutation_dependencies: Sequence[params.Depends] | None = None,
        public: bool = False,
        eager: bool = False,
        schedules: Mapping[str, Mapping[str, Any]] | None = None,
        **worker_options: Any,
    ) -> None:
        # Fail at import time, not on the first request: a bad URL or worker option raises here.
        worker_names = list(WorkerConfig().options())
        for name in worker_options:
            if name not in worker_names:
                raise ConfigurationError(
                    f"Unknown worker option {name}{did_you_mean(name, [*_OWN_OPTIONS, *worker_names])}: "
                    f"DBJobQ(...) accepts {', '.join(_OWN_OPTIONS)} and the worker options {', '.join(worker_names)}"
                )
        self.worker_config = WorkerConfig.from_options(worker_options)
        self.url = url
        self.run_worker = run_worker
        self.engine_options = dict(engine_options or {})
        self.pgbouncer = pgbouncer
        self.listen_url = listen_url
        self.worker_options = worker_options
        self.dependencies = list(dependencies or [])
        self.mutation_dependencies = None if mutation_dependencies is None else list(mutation_dependencies)
        self.public = public
        self.eager = eager
        try:
            declared = declarations.parse(schedules, "DBJobQ(schedules=...)")
        except (ValueError, TypeError, LookupError) as exc:
            raise ConfigurationError(str(exc)) from None
        # The process's declarations: the embedded worker, or `dbjobq worker --import app`, syncs them.
        declarations.declare_source("DBJobQ(schedules=...)", declared)
        storage = self._make_storage()
        self._display_url = mask_url(storage.url)
        self._active = False
        self._queue: JobQueue | None = None
        self._worker: Worker | None = None
        self._router: APIRouter | None = None

    def __repr__(self) -> str:
        state = "running" if self._active else "idle"
        return f"DBJobQ({self._display_url!r}, {state})"

    def _make_storage(self) -> SQLAlchemyStorage:
        return SQLAlchemyStorage(
            self.url, pgbouncer=self.pgbouncer, listen_url=self.listen_url, **self.engine_options
        )

    # -- life cycle -----------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[dict[str, Any]]:
        """Open the storage (creating the tables if missing), start the worker if ``run_worker``;
        on shutdown stop the worker gracefully and close the storage.

        Pass it as ``FastAPI(lifespan=jobq.lifespan)``, nest it in your own lifespan with
        ``async with jobq.lifespan(app):``, or combine the two with :meth:`wrap`. It yields the lifespan
        state (``{"dbjobq_queue": queue}``) and also sets ``app.state.dbjobq_queue``.
        """
        if self._active:
            raise RuntimeError("This DBJobQ's lifespan is already running: create one DBJobQ per application")
        self._active = True
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(setattr, self, "_active", False)
            storage = self._make_storage()
            stack.push_async_callback(storage.close)
            await storage.initialize()
            queue = JobQueue(storage, eager=self.eager)
            worker = None
            # In eager mode jobs run as they are enqueued: an embedded worker would race the eager run
            # for each new job (and a job it claimed first would still be running when enqueue returns).
            if self.run_worker and not self.eager:
                # Under uvicorn (or gunicorn) with only the server's loggers configured, the worker's
                # lines would be dropped: they go through the server's handlers instead.
                stack.callback(log_through_host(HOST_LOGGERS))
                worker = Worker.from_config(queue, self.worker_config)
                # Shutdown order: the worker stops (running jobs finish or go back to pending)
                # before the storage closes under it.
                await stack.enter_async_context(worker)
            self._queue, self._worker = queue, worker
            setattr(app.state, STATE_KEY, queue)
            logger.info(
                "DBJobQ started on %r%s",
                storage,
                f" with worker {worker.id}" if worker else "",
                extra={"action": "fastapi_lifespan_started"},
            )
            try:
                yield {STATE_KEY: queue}
            finally:
                with contextlib.suppress(AttributeError):
                    delattr(app.state, STATE_KEY)
                self._queue = self._worker = None
                logger.info("DBJobQ shutting down", extra={"action": "fastapi_lifespan_stopping"})

    def wrap(self, lifespan: UserLifespan[AppT]) -> CombinedLifespan[AppT]:
        """Combine your own lifespan with DBJobQ's: ``FastAPI(lifespan=jobq.wrap(my_lifespan))``.

        Yours runs inside DBJobQ's, so the queue (:attr:`queue`) is ready in your start-up code and
        the worker still runs during your shutdown code. The two lifespan states are merged.
        """

        @contextlib.asynccontextmanager
        async def combined(app: AppT) -> AsyncIterator[dict[str, Any]]:
            async with self.lifespan(app) as ours, lifespan(app) as theirs:
                yield {**ours, **(theirs or {})}

        return combined

    @property
    def queue(self) -> JobQueue:
        """The app's JobQueue while the lifespan runs (for code outside requests, e.g. your lifespan)."""
        if self._queue is None:
            raise ConfigurationError(
                "DBJobQ's lifespan is not running: pass lifespan=jobq.lifespan to FastAPI(...), "
                "and use jobq.queue only while the app runs (or use Depends(get_queue) in routes)"
            )
        return self._queue

    @property
    def worker(self) -> Worker | None:
        """The worker running inside the app (``run_worker=True``) while the lifespan runs, else None."""
        return self._worker

    # -- dashboard ------------------------------------------------------------------------------
    def dashboard(
        self,
        *,
        dependencies: Sequence[params.Depends] | None = None,
        action_dependencies: Sequence[params.Depends] | None = None,
        public: bool = False,
        read_only: bool = False,
        **options: Any,
    ) -> FastAPI:
        """The web dashboard, to mount: ``app.mount("/jobs", jobq.dashboard(dependencies=[Depends(admin)]))``.

        ``dependencies`` (your auth, raising ``HTTPException``) guard every page and action;
        ``action_dependencies`` add a guard for actions only. Closed by default: without
        ``dependencies`` every request is refused unless ``public=True``. ``options`` go to
        :class:`dbjobq.web.Dashboard` (``title``, ``refresh_interval``, ``page_size``, ``count_cap``).
        Needs ``pip install 'dbjobq[web]'``.
        """
        from dbjobq.web import Dashboard

        from ._dashboard import make_dashboard

        return make_dashboard(
            dependencies=dependencies,
            action_dependencies=action_dependencies,
            public=public,
            read_only=read_only,
            dashboard=Dashboard(**options),
        )

    # -- API ------------------------------------------------------------------------------------
    @property
    def router(self) -> APIRouter:
        """The jobs API router (see :func:`make_router`), guarded by ``dependencies`` and
        ``mutation_dependencies``, closed (403) without ``dependencies`` unless ``public=True``.

        Include it with ``app.include_router(jobq.router, prefix="/admin/dbjobq")``.
        """
        if self._router is None:
            self._router = _router.make_router(
                dependencies=self.dependencies, mutation_dependencies=self.mutation_dependencies, public=self.public
            )
        return self._router
