"""``OPTIONS={"immediate": True}``: tasks run at enqueue, in-process, for users' own tests."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from dbjobq_django.models import Job
from dbjobq_django.tasks import compat
from tests.django.test_tasks_backend import receiving
from tests.django.testapp import tasks


@pytest.fixture
def immediate(settings: Any) -> None:
    settings.TASKS = {
        "default": {
            "BACKEND": "dbjobq_django.tasks.DBJobQBackend",
            "QUEUES": ["default", "other"],
            "OPTIONS": {"immediate": True},
        }
    }


@pytest.mark.django_db
def test_tasks_immediate_runs_at_enqueue_without_writing(immediate: None) -> None:
    with receiving(compat.task_started) as started, receiving(compat.task_finished) as finished:
        result = tasks.add.enqueue(2, 3)
        async_result = tasks.async_add.enqueue(1, 1)
    assert result.status == compat.SUCCESSFUL and result.return_value == 5 and result.attempts == 1
    assert async_result.return_value == 2
    assert result.enqueued_at and result.started_at and result.finished_at and result.last_attempted_at
    assert tasks.add.get_result(result.id) is result
    assert len(started) == len(finished) == 2
    assert not Job.objects.exists()  # nothing stored: it runs inside a test's transaction too


@pytest.mark.django_db
def test_tasks_immediate_retries_with_context_and_fails_with_errors(immediate: None) -> None:
    flaky = tasks.flaky.enqueue(2)  # @task(max_retries=3): fails twice, then succeeds
    assert flaky.status == compat.SUCCESSFUL and flaky.return_value["attempt"] == 3 and flaky.attempts == 3
    assert [e.exception_class for e in flaky.errors] == [tasks.TaskBoom, tasks.TaskBoom]
    failed = tasks.fail.enqueue("nope")
    assert failed.status == compat.FAILED and failed.attempts == 1
    assert failed.errors[0].exception_class_path == "tests.django.testapp.tasks.TaskBoom"
    assert "nope" in failed.errors[0].traceback
    with pytest.raises(compat.TaskResultDoesNotExist):
        tasks.add.get_result("no-such-id")


@pytest.mark.django_db(transaction=True)
async def test_tasks_immediate_aenqueue(immediate: None) -> None:
    result = await tasks.async_context.aenqueue()
    assert result.status == compat.SUCCESSFUL and result.return_value == 1
    assert (await tasks.async_context.aget_result(result.id)) is result


@pytest.mark.django_db
def test_tasks_immediate_inside_a_transaction(immediate: None) -> None:
    with transaction.atomic():
        result = tasks.write_note.enqueue("in a test", "default")
    assert result.status == compat.SUCCESSFUL
