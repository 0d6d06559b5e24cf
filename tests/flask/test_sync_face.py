"""The sync face from views and threads, and the async face from async views, on every database."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import threading
import warnings
from collections.abc import Iterator

import pytest
from flask import Flask, jsonify, request
from sqlalchemy import text
from werkzeug.serving import BaseWSGIServer, make_server

from dbjobq import JobNotFoundError, JobQueue, JobStatus
from dbjobq_flask import DBJobQ
from tests.flask import jobs
from tests.flask.conftest import AppFactory

THREADS = 8
PER_THREAD = 50


def _add_views(app: Flask, jobq: DBJobQ) -> None:
    @app.post("/jobs")
    def enqueue_view():  # type: ignore[no-untyped-def]
        body = request.get_json()
        return jsonify(id=jobq.enqueue(jobs.add, body, queue=request.args.get("queue"))), 201

    @app.post("/async-jobs")
    async def aenqueue_view():  # type: ignore[no-untyped-def]
        job_id = await jobq.aenqueue(jobs.add, request.get_json())
        job = await jobq.aget_job(job_id)
        assert job is not None
        return jsonify(id=job_id, status=str(job.status)), 201

    @app.get("/jobs/<job_id>")
    def job_view(job_id: str):  # type: ignore[no-untyped-def]
        job = jobq.get_job(job_id)
        return (jsonify(status=str(job.status)), 200) if job else ("", 404)


@pytest.fixture
def served(app_and_jobq: tuple[Flask, DBJobQ]) -> Iterator[tuple[Flask, DBJobQ, BaseWSGIServer]]:
    """The app behind a real threaded WSGI server (one thread per request)."""
    app, jobq = app_and_jobq
    _add_views(app, jobq)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="wsgi", daemon=True)
    thread.start()
    yield app, jobq, server
    server.shutdown()
    thread.join(10)


def test_sync_face_threaded_server_8_threads_x_50_enqueues(
    served: tuple[Flask, DBJobQ, BaseWSGIServer],
) -> None:
    app, jobq, server = served
    ids: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
        try:
            for i in range(PER_THREAD):
                conn.request("POST", "/jobs", body=f'{{"a": {n}, "b": {i}}}',
                             headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                body = response.read()
                assert response.status == 201, body
                with lock:
                    ids.append(json.loads(body)["id"])
        except BaseException as exc:
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert len(ids) == len(set(ids)) == THREADS * PER_THREAD
    with app.app_context():
        stored = jobq.list_jobs()
    assert {j.id for j in stored} == set(ids)
    expected = {(n, i) for n in range(THREADS) for i in range(PER_THREAD)}
    assert {(j.data["a"], j.data["b"]) for j in stored} == expected
    assert all(j.status == JobStatus.PENDING for j in stored)


def test_sync_face_plain_threads_share_the_pool(app_and_jobq: tuple[Flask, DBJobQ]) -> None:
    # The trap: every call from a new thread. asgiref's async_to_sync would give each a new loop.
    app, jobq = app_and_jobq
    ids: list[str] = []

    def call() -> None:
        with app.app_context():
            ids.append(jobq.enqueue(jobs.add, {"a": 1, "b": 2}))

    for _ in range(20):
        t = threading.Thread(target=call)
        t.start()
        t.join(30)
    assert len(ids) == 20
    with app.app_context():
        assert len(jobq.list_jobs()) == 20
        pool = jobq.queue.storage.engine.pool  # type: ignore[attr-defined]
    assert pool.checkedin() <= 2  # reused connections, not one per call


@pytest.mark.databases("postgresql")
def test_sync_face_postgresql_keeps_one_connection_across_threads(app_and_jobq: tuple[Flask, DBJobQ]) -> None:
    app, jobq = app_and_jobq

    def call() -> None:
        with app.app_context():
            jobq.enqueue(jobs.add, {"a": 1, "b": 2})

    for _ in range(10):
        t = threading.Thread(target=call)
        t.start()
        t.join(30)

    async def backends(q: JobQueue) -> int:
        async with q.storage.engine.connect() as conn:  # type: ignore[attr-defined]
            # Other than this query's own: the one connection the ten threads' enqueues went through.
            sql = (
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return int((await conn.execute(text(sql))).scalar_one())

    with app.app_context():
        assert jobq.run(backends) == 1


def test_sync_face_view_through_test_client(app_and_jobq: tuple[Flask, DBJobQ]) -> None:
    app, jobq = app_and_jobq
    _add_views(app, jobq)
    client = app.test_client()
    response = client.post("/jobs?queue=mail", json={"a": 2, "b": 3})
    assert response.status_code == 201
    job_id = response.json["id"]  # type: ignore[index]
    assert client.get(f"/jobs/{job_id}").json == {"status": "pending"}
    with app.app_context():
        job = jobq.get_job(job_id)
    assert job is not None and job.queue == "mail" and job.data == {"a": 2, "b": 3}
    assert job.type == "tests.flask.jobs.add"


def test_sync_face_async_view_uses_the_same_extension(app_and_jobq: tuple[Flask, DBJobQ]) -> None:
    app, jobq = app_and_jobq
    _add_views(app, jobq)
    client = app.test_client()
    ids = [client.post("/async-jobs", json={"a": i, "b": i}).json["id"] for i in range(5)]  # type: ignore[index]
    ids.append(client.post("/jobs", json={"a": 9, "b": 9}).json["id"])  # type: ignore[index]
    with app.app_context():
        assert [j.id for j in jobq.list_jobs()] == ids


def test_sync_face_manage_jobs(app_and_jobq: tuple[Flask, DBJobQ]) -> None:
    app, jobq = app_and_jobq
    with app.app_context():
        first, second = jobq.enqueue_many(jobs.add, [{"a": 1, "b": 1}, {"a": 2, "b": 2}], priority=5)
        assert [j.id for j in jobq.list_jobs(JobStatus.PENDING)] == [first, second]
        assert jobq.cancel_job(first) is True
        assert jobq.cancel_job(first) is False
        assert [j.id for j in jobq.list_jobs("cancelled")] == [first]
        assert jobq.retry_job(first) is True
        assert jobq.get_job(first).status == JobStatus.PENDING  # type: ignore[union-attr]
        assert jobq.retry_job(second) is False
        assert jobq.list_jobs(limit=1, offset=1)[0].id == second
        assert jobq.run(lambda q: q.get_pending_jobs()) == jobq.list_jobs("pending")
        with pytest.raises(JobNotFoundError):
            jobq.cancel_job("no-such-job")
        with pytest.raises(TypeError):
            jobq.enqueue(jobs.add, {"a": object()})  # not JSON: raised in the caller's thread
        with pytest.raises(ValueError, match="Unknown job status"):
            jobq.list_jobs("nope")
        assert len(jobq.list_jobs()) == 2


def test_sync_face_async_face_from_other_loops(app_and_jobq: tuple[Flask, DBJobQ]) -> None:
    app, jobq = app_and_jobq

    async def use() -> list[str]:
        with app.app_context():
            ids = await jobq.aenqueue_many("tests.flask.jobs.add", [{"a": 1, "b": 2}] * 3)
            assert await jobq.acancel_job(ids[0]) is True
            assert await jobq.aretry_job(ids[0]) is True
            assert set(ids) <= {j.id for j in await jobq.alist_jobs(status="pending")}
            return ids

    # Each asyncio.run is a new loop, as Flask gives each async view: the pool must not care.
    first = asyncio.run(use())
    second = asyncio.run(use())
    with app.app_context():
        assert len(jobq.list_jobs()) == len(first) + len(second)


@pytest.mark.databases("sqlite")
def test_sync_face_on_its_own_loop_thread_refuses_to_deadlock(app_and_jobq: tuple[Flask, DBJobQ]) -> None:
    app, jobq = app_and_jobq
    with app.app_context():
        state = jobq.get_state()

        async def nested() -> None:
            with app.app_context():
                jobq.get_job("x")

        with pytest.raises(RuntimeError, match="would deadlock"):
            state.loop_thread.run(nested())

        async def nested_async() -> object:
            with app.app_context():
                return await jobq.aget_job("x")  # on the loop itself: awaited directly

        assert state.loop_thread.run(nested_async()) is None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_sync_face_in_a_forked_child_starts_its_own_loop(app_and_jobq: tuple[Flask, DBJobQ]) -> None:
    # gunicorn --preload: the app (already used) is forked into workers; the parent's thread is gone.
    app, jobq = app_and_jobq
    with app.app_context():
        jobq.enqueue(jobs.add, {"a": 0, "b": 0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "multi-threaded fork" (Python 3.12+)
        pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            with app.app_context():
                jobq.enqueue(jobs.add, {"a": 1, "b": 1})
                code = 0 if len(jobq.list_jobs()) == 2 else 2
            jobq.close(app)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with app.app_context():
        assert len(jobq.list_jobs()) == 2  # and the parent's pool still works


@pytest.mark.databases("sqlite")
def test_sync_face_restarts_a_loop_thread_that_died(app_and_jobq: tuple[Flask, DBJobQ]) -> None:
    app, jobq = app_and_jobq
    with app.app_context():
        jobq.enqueue(jobs.add, {"a": 1, "b": 1})
        jobq.get_state().loop_thread.stop()
        jobq.enqueue(jobs.add, {"a": 2, "b": 2})
        assert len(jobq.list_jobs()) == 2


@pytest.mark.databases("sqlite")
def test_sync_face_call_timeout_cancels_the_call(make_app: AppFactory) -> None:
    app, jobq = make_app(DBJOBQ_CALL_TIMEOUT=0.2)
    cancelled = threading.Event()

    async def slow(queue: object) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with app.app_context():
        with pytest.raises(TimeoutError, match="DBJOBQ_CALL_TIMEOUT"):
            jobq.run(slow)
        assert cancelled.wait(5)
        cancelled.clear()
        with pytest.raises(TimeoutError, match="DBJOBQ_CALL_TIMEOUT"):
            asyncio.run(jobq.arun(slow))
        assert cancelled.wait(5)
        assert jobq.list_jobs() == []  # still usable
