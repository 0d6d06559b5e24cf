"""The admin: job and schedule pages render for a superuser, and every action works through the core."""

from __future__ import annotations

import time
from typing import Any

from asgiref.sync import async_to_sync
from django.test import Client

import dbjobq_django
from dbjobq import Schedule
from dbjobq_django.models import Job
from dbjobq_django.models import Schedule as ScheduleRow
from tests.django.conftest import insert_job, per_database

CHANGELIST = "/admin/dbjobq/job/"
SCHEDULES = "/admin/dbjobq/schedule/"


def _action(client: Client, url: str, action: str, ids: list[str]) -> Any:
    response = client.post(url, {"action": action, "_selected_action": ids}, follow=True)
    assert response.status_code == 200
    return response


def _schedule(schedule_id: str, *, enabled: bool = True) -> None:
    schedule = Schedule(
        schedule_id,
        "testapp.add",
        {"a": 1, "b": 1},
        "interval",
        "3600",
        next_run=time.time() + 3600,
        enabled=enabled,
        priority=3,
        queue="reports",
    )
    async_to_sync(dbjobq_django.get_queue().storage.create_schedule)(schedule)


@per_database(transaction=True)
def test_admin_job_list_and_detail_render(dbjobq: str, admin_client: Client) -> None:
    failed = insert_job(
        dbjobq,
        "testapp.boom",
        status="failed",
        attempts=1,
        finished_at=time.time(),
        error="RuntimeError: expected failure\nTraceback (most recent call last):\n  boom",
    )
    done = insert_job(dbjobq, status="completed", attempts=1, result='{"total": 3}', finished_at=time.time())
    pending = insert_job(dbjobq, queue="mail")

    page = admin_client.get(CHANGELIST).content.decode()
    for text in (
        failed,
        done,
        pending,
        "testapp.boom",
        "Failed",
        "Completed",
        "RuntimeError: expected failure",
        "1 / 1",
    ):
        assert text in page
    year = time.strftime("%Y", time.gmtime())
    assert year in page  # epoch floats shown as dates, not numbers

    filtered = admin_client.get(CHANGELIST, {"status__exact": "failed"}).content.decode()
    assert failed in filtered and done not in filtered
    by_queue = admin_client.get(CHANGELIST, {"queue": "mail"}).content.decode()
    assert pending in by_queue and failed not in by_queue
    by_type = admin_client.get(CHANGELIST, {"type": "testapp.boom"}).content.decode()
    assert failed in by_type and pending not in by_type
    assert failed in admin_client.get(CHANGELIST, {"q": failed}).content.decode()
    assert done not in admin_client.get(CHANGELIST, {"q": "boom"}).content.decode()

    assert "Jobs" in admin_client.get("/admin/").content.decode()
    assert admin_client.get("/admin/dbjobq/worker/").status_code == 200

    detail = admin_client.get(f"{CHANGELIST}{failed}/change/").content.decode()
    assert "Traceback (most recent call last)" in detail
    assert "&quot;a&quot;: 1" in detail  # the data, pretty-printed
    assert 'name="_save"' not in detail  # read-only
    assert "&quot;total&quot;: 3" in admin_client.get(f"{CHANGELIST}{done}/change/").content.decode()


@per_database(transaction=True)
def test_admin_job_actions_use_the_queue(dbjobq: str, admin_client: Client) -> None:
    failed = insert_job(dbjobq, status="failed", attempts=3, max_retries=2, error="x", finished_at=time.time())
    pending = insert_job(dbjobq)
    completed = insert_job(dbjobq, status="completed", attempts=1, finished_at=time.time())

    response = _action(admin_client, CHANGELIST, "retry_jobs", [failed, pending])
    assert "1 job(s) sent back to pending" in response.content.decode()
    assert "1 skipped" in response.content.decode()
    row = Job.objects.using(dbjobq).get(id=failed)
    assert (row.status, row.attempts, row.finished_at) == ("pending", 0, None)

    _action(admin_client, CHANGELIST, "cancel_jobs", [pending, completed])
    assert Job.objects.using(dbjobq).get(id=pending).status == "cancelled"
    assert Job.objects.using(dbjobq).get(id=completed).status == "completed"

    response = _action(admin_client, CHANGELIST, "delete_finished_jobs", [failed, pending, completed])
    assert set(Job.objects.using(dbjobq).values_list("id", flat=True)) == {failed}  # pending again: kept
    assert "2 finished job(s) deleted" in response.content.decode()

    # Unfinished jobs cannot be deleted one by one either, and the bulk delete is not offered.
    assert admin_client.get(f"{CHANGELIST}{failed}/delete/").status_code == 403
    assert "delete_selected" not in admin_client.get(CHANGELIST).content.decode()


@per_database(transaction=True)
def test_admin_schedule_actions(dbjobq: str, admin_client: Client) -> None:
    _schedule("hourly-report")
    _schedule("paused", enabled=False)

    page = admin_client.get(SCHEDULES).content.decode()
    assert "hourly-report" in page and "interval" in page
    assert "&quot;a&quot;: 1" in admin_client.get(f"{SCHEDULES}hourly-report/change/").content.decode()

    _action(admin_client, SCHEDULES, "disable_schedules", ["hourly-report"])
    _action(admin_client, SCHEDULES, "enable_schedules", ["paused"])
    enabled = dict(ScheduleRow.objects.using(dbjobq).values_list("id", "enabled"))
    assert enabled == {"hourly-report": False, "paused": True}

    before = ScheduleRow.objects.using(dbjobq).get(id="hourly-report").next_run
    response = _action(admin_client, SCHEDULES, "run_now", ["hourly-report"])
    assert "1 job(s) enqueued" in response.content.decode()
    job = Job.objects.using(dbjobq).get()
    assert (job.type, job.queue, job.priority, job.status) == ("testapp.add", "reports", 3, "pending")
    assert ScheduleRow.objects.using(dbjobq).get(id="hourly-report").next_run == before  # not rescheduled


@per_database()
def test_admin_requires_staff(dbjobq: str, client: Client) -> None:
    assert client.get(CHANGELIST).status_code == 302  # to the login page


def _form(**changes: Any) -> dict[str, Any]:
    data = {
        "id": "weekly-digest",
        "job_type": "testapp.add",
        "job_data": '{"a": 2, "b": 3}',
        "schedule_type": "cron",
        "schedule_expression": "0 8 * * 1",
        "tz": "Europe/Paris",
        "queue": "reports",
        "priority": "2",
        "max_retries": "1",
        "enabled": "on",
    }
    data.update(changes)
    return data


@per_database(transaction=True)
def test_admin_adds_and_edits_schedules_through_the_core(dbjobq: str, admin_client: Client) -> None:
    response = admin_client.post(f"{SCHEDULES}add/", _form(), follow=True)
    assert response.status_code == 200 and "was added successfully" in response.content.decode()
    added = async_to_sync(dbjobq_django.get_queue().get_schedule)("weekly-digest")
    assert added is not None
    assert (added.job_data, added.tz, added.origin, added.queue, added.priority) == (
        {"a": 2, "b": 3}, "Europe/Paris", "operator", "reports", 2
    )
    assert added.next_run > time.time()

    page = admin_client.get(f"{SCHEDULES}weekly-digest/change/").content.decode()
    assert 'name="schedule_expression"' in page and "Europe/Paris" in page
    response = admin_client.post(
        f"{SCHEDULES}weekly-digest/change/", _form(schedule_expression="30 7 * * 1", job_data='{"a": 9}'), follow=True
    )
    assert "was changed successfully" in response.content.decode()
    edited = async_to_sync(dbjobq_django.get_queue().get_schedule)("weekly-digest")
    assert edited is not None and (edited.schedule_expression, edited.job_data) == ("30 7 * * 1", {"a": 9})
    assert edited.next_run != added.next_run  # a new timetable starts at its next occurrence


@per_database(transaction=True, only=("sqlite",))
def test_admin_schedule_form_uses_the_cores_validation(dbjobq: str, admin_client: Client) -> None:
    for changes, message in (
        ({"schedule_expression": "every monday"}, "Invalid cron expression &#x27;every monday&#x27;"),
        ({"tz": "Europe/Pari"}, "Unknown time zone &#x27;Europe/Pari&#x27;"),
        ({"schedule_type": "interval", "schedule_expression": "-5"}, "Invalid interval &#x27;-5&#x27;"),
        ({"schedule_type": "interval", "schedule_expression": "60"}, "tz applies to cron schedules only"),
        ({"job_data": "[1, 2]"}, "Job data must be a JSON object"),
    ):
        page = admin_client.post(f"{SCHEDULES}add/", _form(**changes)).content.decode()
        assert message in page, changes
    assert not ScheduleRow.objects.using(dbjobq).exists()  # nothing written
    _schedule("weekly-digest")
    page = admin_client.post(f"{SCHEDULES}add/", _form()).content.decode()
    assert "A schedule with id &#x27;weekly-digest&#x27; already exists" in page


@per_database(transaction=True, only=("sqlite",))
def test_admin_schedules_from_code_are_read_only(dbjobq: str, admin_client: Client) -> None:
    schedule = Schedule("from-code", "testapp.add", {}, "cron", "0 3 * * *", time.time() + 60, origin="code")
    async_to_sync(dbjobq_django.get_queue().storage.create_schedule)(schedule)
    page = admin_client.get(f"{SCHEDULES}from-code/change/").content.decode()
    assert 'name="schedule_expression"' not in page and "Code" in page
    response = admin_client.post(f"{SCHEDULES}from-code/change/", _form(id="from-code"))
    assert response.status_code == 403
    _action(admin_client, SCHEDULES, "disable_schedules", ["from-code"])  # pausing it is still allowed
    assert ScheduleRow.objects.using(dbjobq).get(id="from-code").enabled is False


@per_database(transaction=True)
def test_admin_queues_pause_and_resume_through_the_core(dbjobq: str, admin_client: Client) -> None:
    from dbjobq_django.models import Queue

    queues = "/admin/dbjobq/queue/"
    response = admin_client.post(f"{queues}add/", {"name": "mail", "until": ""}, follow=True)
    assert response.status_code == 200 and "Queue mail paused on every worker" in response.content.decode()
    response = admin_client.post(f"{queues}add/", {"name": "reports", "until": "2099-01-01 00:00:00"}, follow=True)
    assert response.status_code == 200
    listed = {q.name: q for q in async_to_sync(dbjobq_django.get_queue().list_queues)()}
    assert listed["mail"].paused and listed["mail"].paused_until is None
    assert listed["reports"].paused and listed["reports"].paused_until is not None
    page = admin_client.get(queues).content.decode()
    assert "mail" in page and "paused" in page

    response = _action(admin_client, queues, "resume_queues", ["mail"])
    assert "1 queue(s) resumed: mail" in response.content.decode()
    assert Queue.objects.using(dbjobq).get(name="mail").paused is False
    _action(admin_client, queues, "pause_queues", ["mail"])
    assert async_to_sync(dbjobq_django.get_queue().storage.paused_queues)() == {"mail", "reports"}


@per_database(transaction=True)
def test_admin_job_detail_shows_progress(dbjobq: str, admin_client: Client) -> None:
    job_id = insert_job(dbjobq, status="running", meta='{"progress": {"fraction": 0.45, "message": "resizing"}}')
    page = admin_client.get(f"{CHANGELIST}{job_id}/change/").content.decode()
    assert "45% (resizing)" in page


@per_database(transaction=True)
def test_dashboard_metrics_need_the_dashboards_permission(dbjobq: str, admin_client: Client, client: Client) -> None:
    from tests.metrics_text import value

    for _ in range(2):
        insert_job(dbjobq, queue="metered")
    assert client.get("/jobs/metrics").status_code in (302, 403)  # anonymous: to the login page, or refused
    scraped = admin_client.get("/jobs/metrics")
    assert scraped.status_code == 200
    pending = Job.objects.using(dbjobq).filter(queue="metered", status="pending").count()
    assert value(scraped.content.decode(), "dbjobq_jobs", queue="metered", status="pending") == pending == 2


@per_database(transaction=True)
def test_admin_job_shows_flow_control(dbjobq: str, admin_client: Client) -> None:
    first = dbjobq_django.enqueue("testapp.add", {"a": 1, "b": 1}, delay=3600, unique_key="invoice-42")
    waiting = dbjobq_django.enqueue("testapp.add", {"a": 1, "b": 1}, depends_on=[first])
    detail = admin_client.get(f"{CHANGELIST}{first}/change/").content.decode()
    assert "Flow control" in detail and "invoice-42" in detail
    assert first in admin_client.get(f"{CHANGELIST}{waiting}/change/").content.decode()
    filtered = admin_client.get(CHANGELIST, {"status__exact": "waiting"}).content.decode()
    assert waiting in filtered and f"{first}/change" not in filtered
