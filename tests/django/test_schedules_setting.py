"""DBJOBQ["SCHEDULES"]: declared in the settings, checked by `manage.py check`, synced by runworker."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command

from dbjobq import declarations
from dbjobq_django import conf
from dbjobq_django.models import Schedule as ScheduleRow
from tests.django.conftest import per_database

SCHEDULES = {
    "nightly-sum": {"job": "testapp.add", "cron": "0 3 * * *", "tz": "Europe/Paris", "data": {"a": 1, "b": 2}},
    "often": {"job": "testapp.add", "every": "15m", "data": {"a": 0, "b": 0}},
}


@pytest.fixture(autouse=True)
def fresh_declarations() -> Iterator[None]:
    saved = dict(declarations._declared)
    yield
    declarations._declared.clear()
    declarations._declared.update(saved)


@per_database(transaction=True)
def test_schedules_setting_is_synced_by_runworker(dbjobq: str, settings: Any) -> None:
    settings.DBJOBQ = {**settings.DBJOBQ, "SCHEDULES": SCHEDULES}
    assert {d.id for d in declarations.declared()} >= {"nightly-sum", "often"}  # declared when settings change
    call_command("runworker", "--burst", "--log-level", "WARNING", stdout=io.StringIO())
    rows = {row.id: row for row in ScheduleRow.objects.using(dbjobq).all()}
    assert rows["nightly-sum"].origin == "code" and rows["nightly-sum"].tz == "Europe/Paris"
    assert rows["often"].schedule_expression == "900"

    settings.DBJOBQ = {**settings.DBJOBQ, "SCHEDULES": {"often": SCHEDULES["often"]}}
    call_command("runworker", "--burst", "--log-level", "WARNING", stdout=io.StringIO())
    assert set(ScheduleRow.objects.using(dbjobq).values_list("id", flat=True)) == {"often"}


def test_schedules_setting_mistakes_are_reported_by_the_checks(settings: Any) -> None:
    settings.DBJOBQ = {"SCHEDULES": {"nightly": {"job": "testapp.add", "cron": "every night"}}}
    [problem] = conf.problems()
    assert problem.id == "dbjobq.E005"
    assert problem.message.startswith("DBJOBQ['SCHEDULES']: schedule 'nightly': Invalid cron expression")
    settings.DBJOBQ = {"SCHEDULES": {"nightly": {"job": "testapp.add", "crn": "0 3 * * *"}}}
    assert "unknown key 'crn' (did you mean 'cron'?)" in conf.problems()[0].message
