"""Django Tasks backend: the class and its rules, enqueueing through the ORM, results read back."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import transaction
from django.utils import timezone

import dbjobq_django
from dbjobq_django.models import Job, TaskResultRecord
from dbjobq_django.tasks import DBJobQBackend, DBJobQTask, TaskCancelled, WorkerLost, cancel_task, compat
from tests.django.conftest import insert_job, per_database
from tests.django.testapp import tasks

ADD = "tests.django.testapp.tasks.add"


@contextlib.contextmanager
def receiving(signal: Any, *, raises: bool = False) -> Iterator[list[Any]]:
    """Collect the task results ``signal`` sends; ``raises``: the receiver raises after collecting."""
    seen: list[Any] = []

    def receiver(sender: Any, task_result: Any, **kwargs: Any) -> None:
        seen.append((sender, task_result))
        if raises:
            raise RuntimeError("a receiver that raises")

    signal.connect(receiver, dispatch_uid=f"test-{id(seen)}")
    try:
        yield seen
    finally:
        signal.disconnect(dispatch_uid=f"test-{id(seen)}")


def test_tasks_backend_serves_the_installed_framework() -> None:
    backend = compat.task_backends["default"]
    assert type(backend) is DBJobQBackend
    assert backend.supports_defer and backend.supports_async_task and backend.supports_get_result
    assert backend.supports_priority
    assert isinstance(tasks.add, DBJobQTask) and isinstance(tasks.add, compat.Task)
    try:
        import django.tasks  # noqa: F401
    except ImportError:
        assert compat.FRAMEWORK == "django_tasks"  # Django < 6: the backport
    else:
        assert compat.FRAMEWORK == "django.tasks"


def test_tasks_validate_task_rules() -> None:
    def local() -> None: ...

    with pytest.raises(compat.InvalidTask, match="module level"):
        tasks.task()(local)
    with pytest.raises(compat.InvalidTask, match="priority"):
        tasks.add.using(priority=101)
    with pytest.raises(compat.InvalidTask, match="priority"):
        tasks.add.using(priority=-101)
    assert tasks.add.using(priority=-100).priority == -100
    with pytest.raises(compat.InvalidTask, match="aware"):
        tasks.add.using(run_after=datetime.now())
    with pytest.raises(compat.InvalidTask, match="Queue 'nowhere'"):
        tasks.add.using(queue_name="nowhere")
    with pytest.raises(compat.InvalidTask, match="max_retries must be an int >= 0"):
        DBJobQTask(func=tasks.plain_function, max_retries=-1)
    with pytest.raises(compat.InvalidTask, match="timeout must be positive"):
        DBJobQTask(func=tasks.plain_function, timeout=0)


def test_tasks_backend_options_are_checked() -> None:
    with pytest.raises(compat.InvalidTaskBackend, match=r"unknown OPTIONS key\(s\) max_retry; valid keys"):
        DBJobQBackend("bad", {"OPTIONS": {"max_retry": 3}})
    with pytest.raises(compat.InvalidTaskBackend, match="max_retries must be an int >= 0"):
        DBJobQBackend("bad", {"OPTIONS": {"max_retries": "3"}})
    with pytest.raises(compat.InvalidTaskBackend, match="immediate must be True or False"):
        DBJobQBackend("bad", {"OPTIONS": {"immediate": "yes"}})
    assert DBJobQBackend("ok", {"OPTIONS": {"max_retries": 2, "timeout": 1.5}}).settings["max_retries"] == 2


def test_tasks_backend_check_needs_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.apps import apps

    assert DBJobQBackend("default", {}).check() == []
    monkeypatch.setattr(apps, "is_installed", lambda name: name != "dbjobq_django")
    [error] = DBJobQBackend("default", {}).check()
    assert error.id == "dbjobq.E101" and "INSTALLED_APPS" in error.hint


@per_database(transaction=True)
def test_tasks_enqueue_writes_a_job_through_the_orm(dbjobq: str) -> None:
    with receiving(compat.task_enqueued) as enqueued:
        result = tasks.add.enqueue(2, b=3)
    row = Job.objects.using(dbjobq).get(id=result.id)
    assert (row.type, row.status, row.queue, row.priority, row.max_retries) == (ADD, "pending", "default", 0, 0)
    assert json.loads(row.data) == {"django_task": "default", "args": [2], "kwargs": {"b": 3}}
    assert result.status == compat.READY and result.backend == "default" and result.task is tasks.add
    assert (result.args, result.kwargs, result.errors, result.worker_ids) == ([2], {"b": 3}, [], [])
    assert result.enqueued_at is not None and result.started_at is None and not result.is_finished
    assert [(sender, r.id) for sender, r in enqueued] == [(DBJobQBackend, result.id)]
    assert TaskResultRecord.objects.using(dbjobq).filter(id=result.id).exists()


@per_database(transaction=True)
def test_tasks_enqueue_options_priority_queue_run_after_retries(dbjobq: str) -> None:
    when = timezone.now() + timedelta(hours=1)
    deferred = tasks.async_add.using(run_after=when).enqueue(1, 2)
    row = Job.objects.using(dbjobq).get(id=deferred.id)
    assert (row.queue, row.priority) == ("other", 5)
    assert abs(row.execute_at - when.timestamp()) < 0.01
    assert tasks.flaky.enqueue(1).id and Job.objects.using(dbjobq).get(type__endswith=".flaky").max_retries == 3
    fetched = tasks.async_add.get_result(deferred.id)
    assert fetched.task.run_after == when and fetched.task.priority == 5 and fetched.task.queue_name == "other"


@per_database(transaction=True)
def test_tasks_enqueue_in_rolled_back_transaction_leaves_no_task(dbjobq: str) -> None:
    with pytest.raises(RuntimeError), transaction.atomic(using=dbjobq):
        result = tasks.add.enqueue(1, 1)
        assert Job.objects.using(dbjobq).filter(id=result.id).exists()  # visible inside the transaction
        raise RuntimeError("roll back")
    assert not Job.objects.using(dbjobq).filter(id=result.id).exists()
    with pytest.raises(compat.TaskResultDoesNotExist):
        tasks.add.get_result(result.id)
    with transaction.atomic(using=dbjobq):
        kept = tasks.add.enqueue(1, 1)
    assert tasks.add.get_result(kept.id).status == compat.READY


@per_database(transaction=True)
async def test_tasks_aenqueue_is_native_async(dbjobq: str) -> None:
    with receiving(compat.task_enqueued) as enqueued:
        result = await tasks.async_add.aenqueue(4, 5)
    fetched = await tasks.async_add.aget_result(result.id)
    assert (fetched.id, fetched.status, fetched.args, fetched.task.queue_name) == (
        result.id,
        compat.READY,
        [4, 5],
        "other",
    )
    assert [r.id for _, r in enqueued] == [result.id]


@pytest.mark.django_db
def test_tasks_arguments_must_be_json_and_nothing_is_written() -> None:
    with pytest.raises(TypeError):
        tasks.add.enqueue(object(), 1)
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_tasks_raising_enqueue_receiver_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, "dbjobq_django"), receiving(compat.task_enqueued, raises=True):
        result = tasks.add.enqueue(1, 2)
    assert Job.objects.filter(id=result.id).exists()
    assert f"A receiver of task_enqueued raised for task {result.id}" in caplog.text


@per_database(transaction=True)
def test_tasks_get_result_maps_every_status_and_field(dbjobq: str) -> None:
    data = json.dumps({"django_task": "default", "args": [1], "kwargs": {"b": 2}})
    now = time.time()
    error = (
        'TaskBoom: nope\nTraceback (most recent call last):\n  File "x.py", line 1, in f\n'
        "tests.django.testapp.tasks.TaskBoom: nope\n"
    )
    ids = {
        "ready": insert_job(dbjobq, ADD, data=data),
        "running": insert_job(dbjobq, ADD, data=data, status="running", attempts=1, started_at=now, worker_id="w1"),
        "done": insert_job(
            dbjobq,
            ADD,
            data=data,
            status="completed",
            attempts=2,
            started_at=now,
            finished_at=now + 1,
            worker_id="w2",
            result='{"total": 3}',
            error=error,
        ),
        "failed": insert_job(
            dbjobq, ADD, data=data, status="failed", attempts=1, started_at=now, finished_at=now, error=error
        ),
        "cancelled": insert_job(dbjobq, ADD, data=data, status="cancelled", finished_at=now),
        "lost": insert_job(
            dbjobq,
            ADD,
            data=data,
            status="failed",
            attempts=1,
            finished_at=now,
            error="WorkerLost: the worker running this job stopped renewing its lease",
        ),
    }
    got = {name: tasks.add.get_result(job_id) for name, job_id in ids.items()}
    assert {name: r.status for name, r in got.items()} == {
        "ready": compat.READY,
        "running": compat.RUNNING,
        "done": compat.SUCCESSFUL,
        "failed": compat.FAILED,
        "cancelled": compat.FAILED,
        "lost": compat.FAILED,
    }
    done = got["done"]
    assert done.return_value == {"total": 3} and done.is_finished
    assert done.enqueued_at is not None and done.started_at == datetime.fromtimestamp(now, tz=dt_timezone.utc)
    assert done.last_attempted_at == done.started_at
    assert done.finished_at == datetime.fromtimestamp(now + 1, tz=dt_timezone.utc)
    assert (done.args, done.kwargs, done.worker_ids, done.attempts) == ([1], {"b": 2}, ["w2", "w2"], 2)
    [failure] = got["failed"].errors
    assert failure.exception_class_path == "tests.django.testapp.tasks.TaskBoom"
    assert failure.exception_class is tasks.TaskBoom
    assert failure.traceback.startswith("Traceback") and failure.traceback.endswith("TaskBoom: nope\n")
    with pytest.raises(ValueError, match="failed"):
        got["failed"].return_value  # noqa: B018
    with pytest.raises(ValueError, match="not finished"):
        got["running"].return_value  # noqa: B018
    [cancelled] = got["cancelled"].errors
    assert cancelled.exception_class is TaskCancelled and "cancelled" in cancelled.traceback
    assert got["lost"].errors[0].exception_class is WorkerLost
    assert got["running"].worker_ids == ["w1"] and got["ready"].worker_ids == []
    assert got["ready"].finished_at is None and got["running"].finished_at is None


@per_database(transaction=True)
def test_tasks_get_result_unknown_or_foreign_ids(dbjobq: str) -> None:
    plain = dbjobq_django.enqueue("testapp.add", {"a": 1, "b": 2})  # a DBJobQ job, not a task
    other = insert_job(dbjobq, ADD, data=json.dumps({"django_task": "elsewhere", "args": [], "kwargs": {}}))
    for result_id in ("no-such-id", plain, other, "x" * 100):
        with pytest.raises(compat.TaskResultDoesNotExist):
            tasks.add.get_result(result_id)
        with pytest.raises(compat.TaskResultDoesNotExist):
            async_to_sync(tasks.add.aget_result)(result_id)


@per_database(transaction=True)
def test_tasks_result_refresh_and_cancel(dbjobq: str) -> None:
    result = tasks.add.enqueue(1, 2)
    with receiving(compat.task_finished) as finished:
        assert cancel_task(result) is True
    assert result.status == compat.READY
    result.refresh()
    assert result.status == compat.FAILED and result.finished_at is not None
    assert [e.exception_class for e in result.errors] == [TaskCancelled]
    assert [(r.id, r.status) for _, r in finished] == [(result.id, compat.FAILED)]
    assert cancel_task(result.id) is False  # already finished
    with pytest.raises(compat.TaskResultDoesNotExist):
        cancel_task("no-such-id")


@per_database(transaction=True)
def test_tasks_result_mismatch(dbjobq: str) -> None:
    result = tasks.add.enqueue(1, 2)
    with pytest.raises(Exception, match="Task does not match"):
        tasks.fail.get_result(result.id)


def test_tasks_public_api_all_is_pinned() -> None:
    import dbjobq_django.tasks as public

    assert public.__all__ == [
        "DBJobQBackend",
        "DBJobQTask",
        "TaskCancelled",
        "WorkerLost",
        "acancel_task",
        "aschedule_task",
        "cancel_task",
        "schedule_task",
    ]
    assert public.__all__ == sorted(public.__all__)
    for name in public.__all__:
        assert getattr(public, name) is not None
    with pytest.raises(AttributeError):
        public.nothing_here  # noqa: B018


def test_tasks_package_imports_without_a_tasks_framework() -> None:
    # Autodiscovery imports dbjobq_django.tasks (an installed app's tasks module) in every project.
    script = """
import sys
sys.modules["django.tasks"] = sys.modules["django_tasks"] = None  # neither Django 6 nor the backport
import django
from django.conf import settings
settings.configure(INSTALLED_APPS=["dbjobq_django"], DATABASES={}, USE_TZ=True)
django.setup()
import dbjobq_django.tasks
from dbjobq_django.tasks import TaskCancelled
from dbjobq_django import worker
worker.install_task_hooks(None)  # no framework: nothing to install, no error
try:
    from dbjobq_django.tasks import DBJobQBackend
except ImportError as exc:
    print(exc)
"""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert 'pip install "dbjobq-django[tasks]"' in done.stdout
