"""Django Tasks run by `manage.py runworker`: sync, async and context tasks, retries, timeouts, signals,
what may run, schedules and the admin."""

from __future__ import annotations

import io
import json
import logging
import sys
import time
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.test import Client

import dbjobq_django
from dbjobq_django.models import Job
from dbjobq_django.models import Schedule as ScheduleRow
from dbjobq_django.tasks import TaskCancelled, compat, registry, schedule_task
from tests.django.conftest import insert_job, per_database
from tests.django.test_tasks_backend import receiving
from tests.django.testapp import tasks
from tests.django.testapp.models import Note

TASK_RESULTS = "/admin/dbjobq/taskresultrecord/"


def run_worker(*args: str) -> str:
    out = io.StringIO()
    call_command("runworker", "--burst", "--log-level", "WARNING", *args, stdout=out)
    return out.getvalue()


@per_database(transaction=True)
def test_tasks_runworker_runs_sync_async_orm_and_context_tasks(dbjobq: str) -> None:
    added = tasks.add.enqueue(2, 3)
    async_added = tasks.async_add.enqueue(a=20, b=22)
    flaky = tasks.flaky.enqueue(2)  # fails twice, @task(max_retries=3)
    context = tasks.async_context.enqueue()
    note = tasks.write_note.enqueue("written by a task", dbjobq)
    with receiving(compat.task_started) as started, receiving(compat.task_finished) as finished:
        assert "5 completed, 0 failed, 2 retried" in run_worker()

    for result in (added, async_added, flaky, context, note):
        result.refresh()
        assert result.status == compat.SUCCESSFUL, result.errors
        assert result.finished_at and result.started_at and result.last_attempted_at and result.enqueued_at
    assert (added.return_value, async_added.return_value, context.return_value) == (5, 42, 1)
    assert Note.objects.using(dbjobq).get(pk=note.return_value).text == "written by a task"
    seen = flaky.return_value
    assert (seen["attempt"], seen["id"], seen["status"]) == (3, flaky.id, "RUNNING")
    assert len(seen["workers"]) == 3 and flaky.attempts == 3 and flaky.worker_ids == seen["workers"]
    assert [e.exception_class for e in flaky.errors] == [tasks.TaskBoom]  # the last failed attempt's
    assert "attempt 2 fails" in flaky.errors[0].traceback
    # task_started once per attempt (RUNNING), task_finished once per task (its final status)
    assert sorted(r.id for _, r in started) == sorted([added.id, async_added.id, context.id, note.id] + [flaky.id] * 3)
    assert {r.status for _, r in started} == {compat.RUNNING}
    assert sorted((r.id, r.status) for _, r in finished) == sorted(
        (r.id, compat.SUCCESSFUL) for r in (added, async_added, flaky, context, note)
    )
    [flaky_finished] = [r for _, r in finished if r.id == flaky.id]
    assert flaky_finished.return_value == seen and flaky_finished.task.module_path == tasks.flaky.module_path


@per_database(transaction=True)
def test_tasks_failures_keep_class_path_and_traceback(dbjobq: str, settings: Any) -> None:
    settings.TASKS = {"default": {**settings.TASKS["default"], "OPTIONS": {"max_retries": 1, "retry_delay": 0}}}
    failing = tasks.fail.enqueue("expected failure")
    not_json = tasks.not_json.enqueue()
    slow = tasks.sleepy.enqueue(30)  # @task(timeout=0.5)
    with receiving(compat.task_finished) as finished:
        run_worker()
    for result in (failing, not_json, slow):
        result.refresh()
        assert result.status == compat.FAILED and result.finished_at is not None
    assert failing.attempts == 2  # OPTIONS max_retries=1
    [error] = failing.errors
    assert error.exception_class is tasks.TaskBoom and "tests.django.testapp.tasks.TaskBoom: expected failure" in (
        error.traceback
    )
    assert not_json.errors[0].exception_class is TypeError
    assert slow.errors[0].exception_class_path == "dbjobq.execution.JobTimeoutError"
    with pytest.raises(ValueError, match="failed"):
        failing.return_value  # noqa: B018
    assert sorted((r.id, r.status) for _, r in finished) == sorted(
        (r.id, compat.FAILED) for r in (failing, not_json, slow)
    )


@per_database(transaction=True)
def test_tasks_raising_receivers_never_change_the_outcome(dbjobq: str, caplog: pytest.LogCaptureFixture) -> None:
    result = tasks.add.enqueue(1, 2)
    with (
        caplog.at_level(logging.ERROR, "dbjobq_django"),
        receiving(compat.task_started, raises=True),
        receiving(compat.task_finished, raises=True) as finished,
    ):
        run_worker()
    result.refresh()
    assert result.status == compat.SUCCESSFUL and result.return_value == 3
    assert [r.status for _, r in finished] == [compat.SUCCESSFUL]
    assert f"A receiver of task_started raised for task {result.id}" in caplog.text
    assert f"A receiver of task_finished raised for task {result.id}" in caplog.text


@per_database(transaction=True)
def test_tasks_only_task_functions_run(dbjobq: str) -> None:
    payload = json.dumps({"django_task": "default", "args": ["from a stored row"], "kwargs": {}})
    not_a_task = insert_job(dbjobq, "tests.django.testapp.tasks.plain_function", data=payload)
    builtin = insert_job(dbjobq, "os.getcwd", data=json.dumps({"django_task": "default", "args": [], "kwargs": {}}))
    run_worker()
    for job_id in (not_a_task, builtin):
        row = Job.objects.using(dbjobq).get(id=job_id)
        assert row.status in ("failed", "pending"), row.status  # pending: a worker that claims only its types
        assert row.result is None
    assert not Note.objects.using(dbjobq).filter(text__startswith="plain function ran").exists()


def test_tasks_resolve_imports_only_installed_apps_modules() -> None:
    sys.modules.pop("tests.django.untrusted", None)
    assert registry.resolve_task("tests.django.untrusted.side_effect") is None
    assert "tests.django.untrusted" not in sys.modules  # outside every installed app: never imported
    assert registry.resolve_task("tests.django.testapp.tasks.plain_function") is None  # not a @task
    assert registry.resolve_task("tests.django.testapp.tasks.add") is tasks.add


@per_database(transaction=True, only=("sqlite",))
def test_tasks_worker_never_imports_a_module_a_row_names(dbjobq: str) -> None:
    sys.modules.pop("tests.django.untrusted", None)
    payload = json.dumps({"django_task": "default", "args": [], "kwargs": {}})
    insert_job(dbjobq, "tests.django.untrusted.side_effect", data=payload)
    run_worker()
    assert "tests.django.untrusted" not in sys.modules


@per_database(transaction=True)
def test_tasks_schedule_task_runs_on_cron(dbjobq: str) -> None:
    schedule_id = schedule_task(tasks.add, cron="0 3 * * *", args=(2,), kwargs={"b": 40})
    assert schedule_id == tasks.add.module_path
    row = ScheduleRow.objects.using(dbjobq).get(id=schedule_id)
    assert (row.job_type, row.schedule_type, row.schedule_expression, row.queue) == (
        tasks.add.module_path,
        "cron",
        "0 3 * * *",
        "default",
    )
    assert json.loads(row.job_data) == {"django_task": "default", "args": [2], "kwargs": {"b": 40}}
    first_next_run = row.next_run
    assert schedule_task(tasks.add, cron="0 3 * * *", args=(2,), kwargs={"b": 40}) == schedule_id  # idempotent
    assert ScheduleRow.objects.using(dbjobq).get(id=schedule_id).next_run == first_next_run
    schedule_task(tasks.async_add, every=60, schedule_id="every-minute")
    assert ScheduleRow.objects.using(dbjobq).get(id="every-minute").queue == "other"
    with pytest.raises(ValueError, match="cron"):
        schedule_task(tasks.add, cron="every day")
    with pytest.raises(ValueError, match="not both"):
        schedule_task(tasks.add)

    storage = dbjobq_django.get_queue().storage
    async_to_sync(storage.update_schedule_next_run)(schedule_id, time.time() - 1, None)
    [job_id] = async_to_sync(storage.fire_due_schedules)(time.time())  # what a worker's scheduler does
    run_worker()
    result = tasks.add.get_result(job_id)
    assert result.status == compat.SUCCESSFUL and result.return_value == 42


@per_database(transaction=True)
def test_tasks_admin_lists_task_results_and_cancels(dbjobq: str, admin_client: Client) -> None:
    failed = tasks.fail.enqueue("shown in the admin")
    run_worker()
    ready = tasks.add.enqueue(7, 8)
    plain = dbjobq_django.enqueue("testapp.add", {"a": 1, "b": 2})
    page = admin_client.get(TASK_RESULTS).content.decode()
    assert failed.id in page and ready.id in page and plain not in page
    assert "READY" in page and "FAILED" in page and tasks.fail.module_path in page
    detail = admin_client.get(f"{TASK_RESULTS}{failed.id}/change/").content.decode()
    assert "shown in the admin" in detail and "tests.django.testapp.tasks.TaskBoom" in detail and "default" in detail
    with receiving(compat.task_finished) as finished:
        response = admin_client.post(
            TASK_RESULTS, {"action": "cancel_jobs", "_selected_action": [ready.id, failed.id]}, follow=True
        )
    content = response.content.decode()
    assert "1 task(s) cancelled" in content and "1 skipped" in content
    ready.refresh()
    assert ready.status == compat.FAILED and ready.errors[0].exception_class is TaskCancelled
    assert [r.id for _, r in finished] == [ready.id]
    assert "FAILED (cancelled)" in admin_client.get(TASK_RESULTS).content.decode()
