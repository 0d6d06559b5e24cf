"""DBJOBQ = {"EAGER": True}, the sync get_job and dbjobq_django.testing, under pytest-django.

Most tests here are plain ``django_db`` tests (the test's own transaction, rolled back after it):
what a Django project's test suite uses, where the async core, on its own connections, sees nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.db import connections, transaction

import dbjobq_django
from dbjobq import StorageError
from dbjobq_django import testing
from tests.django.conftest import per_database
from tests.django.testapp.models import Note


@pytest.fixture
def eager(dbjobq: str, settings: Any) -> str:
    settings.DBJOBQ = {**settings.DBJOBQ, "EAGER": True}
    return dbjobq


@per_database()
def test_eager_runs_the_job_in_the_tests_transaction(eager: str) -> None:
    Note.objects.using(eager).create(text="written by the test")
    job_id = dbjobq_django.enqueue("testapp.count_notes", {"text": "written by the test", "using": eager})
    job = dbjobq_django.get_job(job_id)
    assert job is not None
    assert (job.status, job.result, job.attempts, job.error) == ("completed", 1, 1, None)
    assert job.worker_id is not None and job.worker_id.startswith("eager:")
    assert job.started_at is not None and job.finished_at is not None and job.lease_token is None


@per_database()
def test_eager_async_job_sees_the_tests_rows_too(eager: str) -> None:
    Note.objects.using(eager).create(text="async")
    job_id = dbjobq_django.enqueue("testapp.acount_notes", {"text": "async", "using": eager})
    job = dbjobq_django.get_job(job_id)
    assert job is not None and (job.status, job.result) == ("completed", 1)


@per_database()
def test_eager_waits_for_the_codes_own_transaction(
    eager: str, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(using=eager, execute=True) as callbacks, transaction.atomic(using=eager):
        job_id = dbjobq_django.enqueue("testapp.add", {"a": 20, "b": 22})
        job = dbjobq_django.get_job(job_id)
        assert job is not None and job.status == "pending"  # not before the commit
    assert len(callbacks) == 1  # run at the (captured) commit
    job = dbjobq_django.get_job(job_id)
    assert job is not None and (job.status, job.result) == ("completed", 42)


@per_database()
def test_eager_rolled_back_job_never_runs(eager: str, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(using=eager, execute=True) as callbacks:
        try:
            with transaction.atomic(using=eager):
                job_id = dbjobq_django.enqueue("testapp.boom", {})
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
    assert callbacks == []
    assert dbjobq_django.get_job(job_id) is None


@per_database()
def test_eager_retries_back_to_back_and_fails_as_a_worker_would(eager: str) -> None:
    recovering = dbjobq_django.enqueue("testapp.flaky", {"text": "flaky", "succeed_at": 3, "using": eager})
    job = dbjobq_django.get_job(recovering)
    assert job is not None and (job.status, job.attempts, job.result) == ("completed", 3, "succeeded at attempt 3")

    failing = dbjobq_django.enqueue("testapp.boom", {"message": "expected"})
    job = dbjobq_django.get_job(failing)
    assert job is not None and job.status == "failed" and job.attempts == 1
    assert job.error is not None and job.error.startswith("RuntimeError: expected")


@per_database()
def test_eager_jobs_may_enqueue_jobs(eager: str) -> None:
    job_id = dbjobq_django.enqueue("testapp.chain", {"a": 1})
    first = dbjobq_django.get_job(job_id)
    assert first is not None and first.status == "completed"
    second = dbjobq_django.get_job(first.result)
    assert second is not None and (second.status, second.result) == ("completed", 2)


@per_database()
def test_get_job_sees_what_the_async_core_cannot(dbjobq: str) -> None:
    job_id = dbjobq_django.enqueue("testapp.add", {"a": 1, "b": 2})
    job = dbjobq_django.get_job(job_id)
    assert job is not None and job.status == "pending" and job.data == {"a": 1, "b": 2}
    # The core connects on its own, outside the test's (uncommitted) transaction: the docs say so.
    if connections[dbjobq].vendor == "sqlite":  # the test's transaction holds the file's lock
        with pytest.raises(StorageError, match="database is locked"):
            asyncio.run(dbjobq_django.get_queue().get_job(job_id))
    else:
        assert asyncio.run(dbjobq_django.get_queue().get_job(job_id)) is None
    assert dbjobq_django.get_job("no-such-id") is None


@per_database()
def test_testing_helpers_assert_and_run_in_the_tests_transaction(dbjobq: str) -> None:
    Note.objects.using(dbjobq).create(text="helpers")
    counted = dbjobq_django.enqueue("testapp.count_notes", {"text": "helpers", "using": dbjobq})
    later = dbjobq_django.enqueue("testapp.add", {"a": 1, "b": 1}, delay=3600)
    failing = dbjobq_django.enqueue("testapp.boom", {}, queue="other")

    assert testing.assert_enqueued("testapp.count_notes", {"text": "helpers", "using": dbjobq}).id == counted
    assert testing.assert_enqueued("testapp.boom", queue="other").id == failing
    with pytest.raises(AssertionError, match=r"No job of type 'testapp.add' with data \{'a': 5\} was enqueued; "):
        testing.assert_enqueued("testapp.add", {"a": 5})
    with pytest.raises(AssertionError, match=r"enqueued types: testapp\.add, testapp\.boom, testapp\.count_notes"):
        testing.assert_enqueued("testapp.write_note")

    stats = testing.run_due_jobs()
    assert (stats.completed, stats.failed) == (1, 1)
    assert testing.assert_enqueued("testapp.count_notes", status="completed").result == 1
    assert testing.assert_enqueued("testapp.add", status="pending").id == later  # not due
    assert [job.id for job in testing.enqueued_jobs(status="failed")] == [failing]


@per_database(transaction=True, only=("sqlite", "postgresql"))
def test_eager_aenqueue_runs_through_the_core(eager: str) -> None:
    job_id = asyncio.run(dbjobq_django.aenqueue("testapp.add", {"a": 2, "b": 2}))
    job = dbjobq_django.get_job(job_id)
    assert job is not None and (job.status, job.result) == ("completed", 4)


def test_eager_setting_must_be_a_bool(settings: Any) -> None:
    from dbjobq_django import conf

    settings.DBJOBQ = {"EAGER": "yes"}
    [problem] = conf.problems()
    assert (problem.id, problem.message) == ("dbjobq.E005", "DBJOBQ['EAGER'] must be True or False, not 'yes'.")
