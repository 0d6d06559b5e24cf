"""Fixtures for the dbjobq_django tests: each test runs once per database alias (sqlite, postgresql, mysql)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.conf import settings as django_settings

from dbjobq.integration import new_job_row
from dbjobq.storage import NewJob
from tests.databases import Server

#: Test id -> Django alias (see tests/django/settings.py).
ALIASES = {"sqlite": "default", "postgresql": "postgresql", "mysql": "mysql"}


def per_database(*, transaction: bool = False, only: tuple[str, ...] = ()) -> pytest.MarkDecorator:
    """Parametrise a test over the database aliases as ``alias`` (use the ``dbjobq`` fixture too).

    Each run may use ``default`` (auth, sessions) and its own alias. ``transaction=True`` commits for
    real, which workers (their own connections) need to see the rows.
    """
    params = []
    for name, alias in ALIASES.items():
        if only and name not in only:
            continue
        marks = []
        if alias in django_settings.DATABASES:
            marks.append(pytest.mark.django_db(databases=sorted({"default", alias}), transaction=transaction))
        params.append(pytest.param(alias, id=name, marks=marks))
    return pytest.mark.parametrize("alias", params)


@pytest.fixture
def dbjobq(alias: str, settings: Any) -> str:
    """Point DBJobQ at ``alias`` (skips, or fails under CI, when its server is missing); returns it."""
    if alias not in settings.DATABASES:
        name = next(k for k, v in ALIASES.items() if v == alias)
        Server(name, error=django_settings.UNAVAILABLE.get(name, "not configured")).unavailable()
    settings.DBJOBQ = {**settings.DBJOBQ, "DATABASE": alias}
    return alias


def insert_job(alias: str, job_type: str = "testapp.add", **changes: Any) -> str:
    """Insert a job row through the ORM (a test fixture), e.g. ``status="failed", error="..."``."""
    from dbjobq_django.models import Job

    row = new_job_row(NewJob(job_type, '{"a": 1, "b": 2}'), time.time())
    row.update(changes)
    if row["status"] in ("completed", "failed", "cancelled") and row["finished_at"] is None:
        row["finished_at"] = row["created_at"]  # a finished job always has its finish time
    Job(**row).save(using=alias, force_insert=True)
    return str(row["id"])
