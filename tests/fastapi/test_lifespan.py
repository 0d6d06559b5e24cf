"""The DBJobQ lifespan: storage set-up and close, the embedded worker, composition with the app's own."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI, Request

from dbjobq import ConfigurationError, JobQueue, JobStatus, StorageClosedError, StorageError
from dbjobq_fastapi import DBJobQ, QueueDep, get_queue
from tests.fastapi import jobs
from tests.fastapi.conftest import serve
from tests.waiting import wait_until


def make_app(jobq: DBJobQ, **app_options: Any) -> FastAPI:
    app = FastAPI(**{"lifespan": jobq.lifespan, **app_options})

    @app.post("/greet/{name}")
    async def greet(name: str, queue: QueueDep) -> dict[str, str]:
        return {"job_id": await queue.enqueue(jobs.greet, {"name": name})}

    return app


async def job_status(queue: JobQueue, job_id: str) -> JobStatus | None:
    job = await queue.get_job(job_id)
    return None if job is None else job.status


async def test_lifespan_embedded_worker_completes_enqueued_job(clean_url: str) -> None:
    jobq = DBJobQ(clean_url, run_worker=True, poll_interval=0.1)
    app = make_app(jobq)
    async with serve(app) as client:
        assert jobq.worker is not None and jobq.worker.is_running()
        response = await client.post("/greet/ada")
        assert response.status_code == 200
        job_id = response.json()["job_id"]

        async def completed() -> bool:
            return await job_status(jobq.queue, job_id) == JobStatus.COMPLETED

        await wait_until(completed)
        job = await jobq.queue.get_job(job_id)
        assert job is not None and job.result == "hello ada"
        worker = jobq.worker
    assert not worker.is_running()
    assert jobq.worker is None


async def test_lifespan_without_worker_leaves_jobs_pending(clean_url: str) -> None:
    jobq = DBJobQ(clean_url)
    async with serve(make_app(jobq)) as client:
        assert jobq.worker is None
        job_id = (await client.post("/greet/bob")).json()["job_id"]
        assert await job_status(jobq.queue, job_id) == JobStatus.PENDING


async def test_lifespan_closes_storage_and_clears_state(clean_url: str) -> None:
    jobq = DBJobQ(clean_url)
    app = make_app(jobq)
    async with serve(app):
        queue = jobq.queue
        assert app.state.dbjobq_queue is queue
        assert await queue.list_jobs() == []
    with pytest.raises(StorageClosedError):
        await queue.list_jobs()
    assert not hasattr(app.state, "dbjobq_queue")
    with pytest.raises(ConfigurationError, match=r"lifespan=jobq\.lifespan"):
        _ = jobq.queue
    # The lifespan can run again (a fresh storage each time), as it does in successive tests.
    async with serve(app):
        assert await jobq.queue.list_jobs() == []


async def test_lifespan_worker_options_pass_through(clean_url: str) -> None:
    jobq = DBJobQ(clean_url, run_worker=True, concurrency=3, queues=["emails"], poll_interval=0.1)
    async with serve(make_app(jobq)) as client:
        assert jobq.worker is not None
        assert (jobq.worker.concurrency, jobq.worker.queues) == (3, ["emails"])
        email_id = await jobq.queue.enqueue(jobs.send_email, {"to": "ada@example.com"})
        greet_id = (await client.post("/greet/ada")).json()["job_id"]

        async def email_sent() -> bool:
            return await job_status(jobq.queue, email_id) == JobStatus.COMPLETED

        await wait_until(email_sent)
        assert await job_status(jobq.queue, greet_id) == JobStatus.PENDING  # not a queue it serves


async def test_lifespan_shutdown_lets_running_job_finish(clean_url: str, queue: JobQueue) -> None:
    jobs.EVENTS.clear()
    jobs.EVENTS["started"] = started = asyncio.Event()
    jobs.EVENTS["release"] = release = asyncio.Event()
    jobq = DBJobQ(clean_url, run_worker=True, poll_interval=0.1, shutdown_timeout=10)
    async with serve(make_app(jobq)):
        job_id = await jobq.queue.enqueue(jobs.slow)
        await asyncio.wait_for(started.wait(), 10)
        # The job is released only once shutdown has begun: the worker must wait for it.
        asyncio.get_running_loop().call_later(0.05, release.set)
    assert await job_status(queue, job_id) == JobStatus.COMPLETED


async def test_lifespan_shutdown_timeout_returns_unfinished_job_to_pending(clean_url: str, queue: JobQueue) -> None:
    jobs.EVENTS.clear()
    jobs.EVENTS["started"] = started = asyncio.Event()
    jobs.EVENTS["release"] = asyncio.Event()  # never set: the job outlives the shutdown timeout
    jobq = DBJobQ(clean_url, run_worker=True, poll_interval=0.1, shutdown_timeout=0)
    async with serve(make_app(jobq)):
        job_id = await jobq.queue.enqueue(jobs.slow)
        await asyncio.wait_for(started.wait(), 10)
    job = await queue.get_job(job_id)
    assert job is not None and job.status == JobStatus.PENDING and job.attempts == 0  # nothing lost


async def test_lifespan_nests_in_the_apps_own_lifespan(clean_url: str) -> None:
    jobq = DBJobQ(clean_url)
    seen: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with jobq.lifespan(app) as state:
            seen.append(await jobq.queue.enqueue(jobs.greet, {"name": "startup"}))
            yield {**state, "greeting": "hi"}

    app = make_app(jobq, lifespan=lifespan)

    @app.get("/state")
    async def read_state(request: Request, queue: QueueDep) -> dict[str, Any]:
        return {"greeting": request.state.greeting, "jobs": [job.id for job in await queue.list_jobs()]}

    async with serve(app) as client:
        assert (await client.get("/state")).json() == {"greeting": "hi", "jobs": seen}


async def test_lifespan_nested_without_yielding_state_uses_app_state(clean_url: str) -> None:
    jobq = DBJobQ(clean_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with jobq.lifespan(app):
            yield

    app = make_app(jobq, lifespan=lifespan)
    async with serve(app) as client:
        job_id = (await client.post("/greet/cy")).json()["job_id"]
        assert await job_status(jobq.queue, job_id) == JobStatus.PENDING


async def test_lifespan_wrap_runs_the_apps_lifespan_inside(clean_url: str) -> None:
    jobq = DBJobQ(clean_url, run_worker=True, poll_interval=0.1)
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def own(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        events.append(f"startup, queue ready: {isinstance(jobq.queue, JobQueue)}")
        yield {"settings": "mine"}
        assert jobq.worker is not None
        events.append(f"shutdown, worker running: {jobq.worker.is_running()}")

    app = make_app(jobq, lifespan=jobq.wrap(own))

    @app.get("/settings")
    async def settings(request: Request) -> dict[str, Any]:
        return {"settings": request.state.settings, "queue": get_queue(request) is jobq.queue}

    async with serve(app) as client:
        assert (await client.get("/settings")).json() == {"settings": "mine", "queue": True}
    assert events == ["startup, queue ready: True", "shutdown, worker running: True"]


async def test_lifespan_refuses_a_second_concurrent_run(clean_url: str) -> None:
    jobq = DBJobQ(clean_url)
    async with serve(make_app(jobq)):
        with pytest.raises(RuntimeError, match="one DBJobQ per application"):
            async with serve(make_app(jobq)):
                pass


async def test_lifespan_startup_failure_is_reported(tmp_path: Any) -> None:
    # A directory where the SQLite file should be: the storage cannot open it.
    jobq = DBJobQ(f"sqlite+aiosqlite:///{tmp_path}")
    with pytest.raises(StorageError, match=r"Could not"):
        async with serve(make_app(jobq)):
            pass
    with pytest.raises(ConfigurationError):
        _ = jobq.queue


def test_dbjobq_rejects_a_sync_url() -> None:
    with pytest.raises(ConfigurationError, match=r"sqlite\+aiosqlite"):
        DBJobQ("sqlite:///jobs.sqlite3")


def test_dbjobq_rejects_unknown_worker_options() -> None:
    with pytest.raises(ConfigurationError, match=r"Unknown worker option concurency \(did you mean concurrency\?\)"):
        DBJobQ("sqlite+aiosqlite:///jobs.sqlite3", run_worker=True, concurency=4)


def test_dbjobq_rejects_bad_worker_option_values() -> None:
    with pytest.raises(ValueError, match="concurrency must be a positive integer, not 0"):
        DBJobQ("sqlite+aiosqlite:///jobs.sqlite3", run_worker=True, concurrency=0)


def test_dbjobq_repr_hides_the_password() -> None:
    jobq = DBJobQ("postgresql+asyncpg://user:secret@localhost/app")
    assert "secret" not in repr(jobq) and "idle" in repr(jobq)


def test_dbjobq_repr_masks_a_query_password() -> None:
    jobq = DBJobQ("postgresql+asyncpg://user@localhost/app?password=hunter2")
    assert "hunter2" not in repr(jobq) and "password=***" in repr(jobq)


@pytest.mark.parametrize(
    "url", ["postgresql+asyncpg://ann:hunter2@db:port/app", "postgresql://ann:hunter2@db/app?password=hunter2"]
)
def test_dbjobq_url_errors_never_repeat_the_password(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        DBJobQ(url)
    assert "hunter2" not in str(info.value)


@pytest.mark.databases("postgresql")
async def test_lifespan_start_log_masks_the_password(clean_url: str, caplog: pytest.LogCaptureFixture) -> None:
    from sqlalchemy.engine import make_url

    # asyncpg takes the password from the query too; the trusting test server ignores it.
    url = make_url(clean_url).update_query_dict({"password": "hunter2"})
    caplog.set_level("INFO", logger="dbjobq_fastapi")
    async with serve(make_app(DBJobQ(url))):
        pass
    assert "DBJobQ started on" in caplog.text and "password=***" in caplog.text
    assert "hunter2" not in caplog.text


async def test_lifespan_worker_syncs_declared_schedules(clean_url: str) -> None:
    from dbjobq import ConfigurationError, declarations

    saved = dict(declarations._declared)
    try:
        jobq = DBJobQ(clean_url, run_worker=True, schedules={"greet-hourly": {"job": jobs.greet, "every": "1h",
                                                                             "data": {"name": "all"}}})
        app = FastAPI(lifespan=jobq.lifespan)
        async with jobq.lifespan(app):
            schedule = await jobq.queue.get_schedule("greet-hourly")
            assert schedule is not None and (schedule.origin, schedule.job_data) == ("code", {"name": "all"})
        with pytest.raises(ConfigurationError, match="needs exactly one of cron="):
            DBJobQ(clean_url, schedules={"bad": {"job": jobs.greet}})
    finally:
        declarations._declared.clear()
        declarations._declared.update(saved)


def test_lifespan_pgbouncer_options_reach_the_storage() -> None:
    direct = "postgresql+asyncpg://app@127.0.0.1:5432/app"
    jobq = DBJobQ("postgresql+asyncpg://app@127.0.0.1:6432/app", pgbouncer=True, listen_url=direct)
    impl = jobq._make_storage()._db.impl  # no connection is made
    assert impl.pgbouncer and str(impl.listen_url) == direct
