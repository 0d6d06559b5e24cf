"""DBJOBQ_EAGER: jobs run as the app enqueues them, under Flask's test client; the core test helpers."""

from __future__ import annotations

import pytest
from flask import Flask, jsonify

from dbjobq import testing
from dbjobq_flask import DBJobQ
from tests.flask import jobs
from tests.flask.conftest import AppFactory


def shop(make_app: AppFactory, **config: object) -> tuple[Flask, DBJobQ]:
    app, jobq = make_app(**config)

    @app.post("/sum")
    def add() -> object:
        return jsonify(job=jobq.enqueue(jobs.add, {"a": 2, "b": 40}))

    @app.post("/names")
    def names() -> object:
        return jsonify(jobs=[jobq.enqueue(jobs.app_name), jobq.enqueue(jobs.sync_app_name)])

    @app.post("/boom")
    async def boom() -> object:
        return jsonify(job=await jobq.aenqueue(jobs.boom))

    return app, jobq


def test_eager_runs_jobs_under_the_test_client(make_app: AppFactory) -> None:
    app, jobq = shop(make_app, DBJOBQ_EAGER=True)
    client = app.test_client()
    job_id = client.post("/sum").get_json()["job"]
    names = client.post("/names").get_json()["jobs"]
    failing = client.post("/boom").get_json()["job"]
    with app.app_context():
        job = jobq.get_job(job_id)
        assert job is not None and (job.status, job.result, job.attempts) == ("completed", 42, 1)
        for name_job in names:  # jobs run in an app context, as under `flask dbjobq worker`
            job = jobq.get_job(name_job)
            assert job is not None and (job.status, job.result) == ("completed", app.name)
        job = jobq.get_job(failing)
        assert job is not None and job.status == "failed" and "RuntimeError: boom" in (job.error or "")


@pytest.mark.databases("sqlite")
def test_eager_from_the_constructor_and_helpers_without_it(make_app: AppFactory) -> None:
    app, jobq = make_app(jobq=DBJobQ(eager=True))
    with app.app_context():
        job = jobq.get_job(jobq.enqueue(jobs.add, {"a": 1, "b": 1}))
        assert job is not None and job.status == "completed"

    lazy, lazy_jobq = shop(make_app, name="lazy")
    job_id = lazy.test_client().post("/sum").get_json()["job"]
    with lazy.app_context():
        found = lazy_jobq.run(lambda q: testing.assert_enqueued(q, jobs.add, {"a": 2, "b": 40}))
        assert found.id == job_id and found.status == "pending"
        stats = lazy_jobq.run(testing.run_due_jobs)
        assert stats.completed == 1
        assert lazy_jobq.run(lambda q: testing.assert_enqueued(q, jobs.add, status="completed")).result == 42


@pytest.mark.databases("sqlite")
def test_eager_setting_must_be_a_bool(make_app: AppFactory) -> None:
    from dbjobq import ConfigurationError

    with pytest.raises(ConfigurationError, match="DBJOBQ_EAGER must be True or False, not 'yes'"):
        make_app(DBJOBQ_EAGER="yes")
