"""Schedules declared in code: @job(cron=…/every=…), settings mappings, and cron time zones."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dbjobq import Schedule, job, scheduling
from dbjobq import declarations as decl

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(autouse=True)
def fresh_declarations() -> Iterator[None]:
    saved = dict(decl._declared)
    decl._declared.clear()
    yield
    decl._declared.clear()
    decl._declared.update(saved)


def test_declarations_job_decorator_declares_its_schedule() -> None:
    @job(name="tests.decl.nightly", cron="0 3 * * *", tz="Europe/Paris", queue="reports", priority=3)
    def nightly(data: dict[str, object]) -> None:
        return None

    @job(name="tests.decl.refresh", every=timedelta(minutes=15))
    def refresh(data: dict[str, object]) -> None:
        return None

    nightly_decl, refresh_decl = decl.declared()
    assert (nightly_decl.id, nightly_decl.schedule_type, nightly_decl.expression, nightly_decl.tz) == (
        "tests.decl.nightly",
        "cron",
        "0 3 * * *",
        "Europe/Paris",
    )
    schedule = nightly_decl.schedule()  # the job's defaults apply
    assert (schedule.queue, schedule.priority, schedule.origin, schedule.job_data) == ("reports", 3, "code", {})
    assert (refresh_decl.schedule_type, refresh_decl.expression) == ("interval", "900")
    assert nightly({}) is None  # still a plain function


def test_declarations_job_decorated_again_replaces_or_drops_its_schedule() -> None:
    @job(name="tests.decl.again", every=60)
    def first(data: dict[str, object]) -> None: ...

    @job(name="tests.decl.again", every="2m")
    def second(data: dict[str, object]) -> None: ...

    [declared] = decl.declared()
    assert declared.expression == "120"

    @job(name="tests.decl.again")
    def third(data: dict[str, object]) -> None: ...

    assert decl.declared() == []


def test_declarations_bad_decorator_arguments_fail_at_import() -> None:
    with pytest.raises(ValueError, match=r"@job\(\) of tests.decl.bad: schedule 'tests.decl.bad': Invalid cron"):
        job(name="tests.decl.bad", cron="every night")
    with pytest.raises(ValueError, match="needs exactly one of cron="):
        job(name="tests.decl.bad", cron="0 3 * * *", every=60)
    with pytest.raises(ValueError, match="Unknown time zone 'Europe/Pari'"):
        job(name="tests.decl.bad", cron="0 3 * * *", tz="Europe/Pari")
    with pytest.raises(ValueError, match="tz applies to cron schedules only"):
        job(name="tests.decl.bad", every=60, tz="UTC")
    with pytest.raises(ValueError, match="every must be a positive duration"):
        job(name="tests.decl.bad", every=0)
    assert decl.declared() == []


def test_declarations_settings_mapping_is_parsed_and_checked() -> None:
    @job(name="tests.decl.report")
    def report(data: dict[str, object]) -> None: ...

    found = decl.parse(
        {
            "daily-report": {"job": report, "cron": "30 6 * * 1-5", "tz": "America/New_York", "data": {"kind": "d"}},
            "cleanup": {"job": "tests.decl.cleanup", "every": "1h", "queue": "low", "max_retries": 2},
        },
        "DBJOBQ['SCHEDULES']",
    )
    assert [(d.id, d.job_type, d.expression, d.data, d.queue) for d in found] == [
        ("daily-report", "tests.decl.report", "30 6 * * 1-5", {"kind": "d"}, None),
        ("cleanup", "tests.decl.cleanup", "3600", {}, "low"),
    ]
    assert decl.parse(None, "x") == []
    for bad, message in (
        ([], "DBJOBQ_SCHEDULES must be a dict of schedule id"),
        ({"a": "0 3 * * *"}, r"DBJOBQ_SCHEDULES\['a'\] must be a dict"),
        ({"a": {"job": "x.y", "crn": "0 3 * * *"}}, r"unknown key 'crn' \(did you mean 'cron'\?\)"),
        ({"a": {"cron": "0 3 * * *"}}, r"DBJOBQ_SCHEDULES\['a'\] needs 'job'"),
        ({"a": {"job": "x.y", "cron": "0 3 * * *", "data": {"when": object()}}}, "schedule 'a'"),
        ({"a": {"job": "x.y", "every": 60, "priority": "high"}}, "priority must be an int"),
        ({"a": {"job": report.__call__, "every": 60}}, "is not a job"),
    ):
        with pytest.raises((ValueError, TypeError, LookupError), match=message):
            decl.parse(bad, "DBJOBQ_SCHEDULES")


def test_declarations_one_id_one_definition() -> None:
    [a] = decl.parse({"x": {"job": "x.y", "every": 60}}, "settings A")
    [same] = decl.parse({"x": {"job": "x.y", "every": "1m"}}, "settings B")
    [other] = decl.parse({"x": {"job": "x.y", "every": 120}}, "settings C")
    decl.declare(a)
    decl.declare(same)  # the same definition again: fine (settings read twice)
    with pytest.raises(ValueError, match=r"Schedule 'x' is declared twice, differently \(settings A and settings C\)"):
        decl.declare(other)


def _fires(expression: str, tz: str | None, start: datetime, count: int) -> list[str]:
    schedule = Schedule("s", "x.y", {}, "cron", expression, 0.0, tz=tz)
    now, found = start.timestamp(), []
    for _ in range(count):
        now = scheduling.next_after(schedule, now)
        found.append(datetime.fromtimestamp(now, PARIS if tz else ZoneInfo("UTC")).isoformat())
    return found


def test_scheduling_cron_in_a_time_zone_follows_daylight_saving_as_croniter_does() -> None:
    # 03:00 every day in Paris: 02:00 UTC in summer, 01:00 UTC in winter.
    assert _fires("0 3 * * *", "Europe/Paris", datetime(2026, 3, 28, 12, tzinfo=PARIS), 2) == [
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T03:00:00+02:00",
    ]
    # 02:30 does not exist on the spring-forward day: it fires at 03:00; on the fall-back day it
    # happens twice, and fires twice.
    assert _fires("30 2 * * *", "Europe/Paris", datetime(2026, 3, 28, 12, tzinfo=PARIS), 2) == [
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]
    assert _fires("30 2 * * *", "Europe/Paris", datetime(2026, 10, 24, 12, tzinfo=PARIS), 3) == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:30:00+01:00",
        "2026-10-26T02:30:00+01:00",
    ]
    assert _fires("0 3 * * *", None, datetime(2026, 3, 28, 12, tzinfo=PARIS), 1) == ["2026-03-29T03:00:00+00:00"]


def test_scheduling_validate_schedule_checks_tz_and_origin() -> None:
    schedule = Schedule("s", "x.y", {}, "cron", "0 3 * * *", 1.0, tz="Mars/Olympus")
    with pytest.raises(ValueError, match="Unknown time zone 'Mars/Olympus'"):
        scheduling.validate_schedule(schedule)
    schedule.tz, schedule.origin = "UTC", "robot"
    with pytest.raises(ValueError, match=r"Schedule\.origin must be one of operator, code"):
        scheduling.validate_schedule(schedule)
    with pytest.raises(ValueError, match="Invalid time zone"):
        scheduling.zone("../etc/passwd")
