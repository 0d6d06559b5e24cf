"""The database's clock for rows the ORM writes (DESIGN.md "One clock"): the same SQL "now" as the
core's dialect modules, so a job enqueued from a web server whose clock is off is due when the
database says, as one enqueued through the core is."""

from __future__ import annotations

import time
from typing import Any

from django.db import connections
from django.db.models import FloatField, Value
from django.db.models.expressions import RawSQL

from dbjobq.integration import now_sql


def db_now(using: str) -> Any:
    """The database's now in epoch seconds, as an ORM expression on the database ``using``: the
    server's clock on PostgreSQL and MySQL/MariaDB, this process's clock on SQLite (as in the core)."""
    sql = now_sql(connections[using].vendor)
    if sql is None:
        return Value(time.time(), output_field=FloatField())
    return RawSQL(sql, (), output_field=FloatField())


def read_db_now(using: str) -> float:
    """The database's clock now, in epoch seconds (one query; SQLite: this process's clock), for what is
    computed in Python from it (a schedule's next run)."""
    sql = now_sql(connections[using].vendor)
    if sql is None:
        return time.time()
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT {sql}")
        return float(cursor.fetchone()[0])
