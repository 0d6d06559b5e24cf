"""Upgrading a database made by an older dbjobq to :data:`~.schema.SCHEMA_VERSION`, one step per version.

``initialize()`` creates missing tables at the newest version, then runs the steps after the version
stored in ``dbjobq_meta``. Each step checks what exists before it changes anything: processes may
upgrade the same database at once, and Django's migrations (one per schema version) make the same
changes. Version 1 -> 2 adds the (queue, status, execute_at) index; 2 -> 3 the schedules' ``tz`` and
``origin`` columns; 3 -> 4 the jobs' ``meta`` column and the ``dbjobq_queues`` table; 4 -> 5 flow
control: the jobs' ``unique_key``, ``flow_key`` and ``depends_on`` columns, the unique keys' index (over
a generated column on MySQL) and the ``dbjobq_limits`` table.
5 -> 6 makes the jobs' payload columns ``LONGTEXT`` on MySQL/MariaDB (a no-op elsewhere: ``TEXT``
already holds 1 GB) and adds the workers' ``job_types``. 6 -> 7 rebuilds the (status, finished_at) index
over finished rows only on PostgreSQL and SQLite (a no-op on MySQL/MariaDB); building it reads the table
once and holds off writes to it meanwhile (0.7 s for 1,000,000 jobs on the benchmark machine). 7 -> 8
adds the index over waiting jobs on PostgreSQL and SQLite (a no-op on MySQL/MariaDB).

``dbjobq migrate`` runs the same upgrade (``initialize()``) and prints the version before and after.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Table, inspect, text, update
from sqlalchemy.engine import Connection

from .schema import (
    QUEUE_STATUS_INDEX,
    SCHEMA_VERSION,
    create_unique_key_index,
    finished_index_sql,
    jobs,
    limits,
    meta,
    queues,
    schedules,
    waiting_index_sql,
    workers,
)


def _add_queue_status_index(conn: Connection) -> None:
    QUEUE_STATUS_INDEX.create(conn, checkfirst=True)


def _add_columns(conn: Connection, table: Table, names: tuple[str, ...]) -> None:
    present = {column["name"] for column in inspect(conn).get_columns(table.name)}
    for name in names:
        if name not in present:
            column = table.c[name]
            kind = column.type.compile(dialect=conn.dialect)
            # Nullable, no default: the same cheap ALTER on SQLite, PostgreSQL and MySQL/MariaDB.
            conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"))


def _add_schedule_columns(conn: Connection) -> None:
    _add_columns(conn, schedules, ("tz", "origin"))


def _add_meta_and_queues(conn: Connection) -> None:
    _add_columns(conn, jobs, ("meta",))
    queues.create(conn, checkfirst=True)


def _add_flow_control(conn: Connection) -> None:
    _add_columns(conn, jobs, ("unique_key", "flow_key", "depends_on"))
    limits.create(conn, checkfirst=True)
    create_unique_key_index(conn)


#: The jobs' columns that hold payloads of any size (``LONGTEXT`` on MySQL/MariaDB from version 6).
PAYLOAD_COLUMNS = ("data", "error", "result")


def _widen_payloads_and_add_worker_types(conn: Connection) -> None:
    found = {c["name"]: c["type"].compile(dialect=conn.dialect) for c in inspect(conn).get_columns(jobs.name)}
    # Only where the schema's type differs from the column's: MySQL/MariaDB (TEXT -> LONGTEXT). Elsewhere
    # PAYLOAD_TEXT is TEXT already, as it was.
    narrow = [n for n in PAYLOAD_COLUMNS if found[n] != jobs.c[n].type.compile(dialect=conn.dialect)]
    if narrow:
        # One ALTER for the three columns: MySQL/MariaDB rebuild the table once, not three times.
        changes = ", ".join(
            f"MODIFY {n} {jobs.c[n].type.compile(dialect=conn.dialect)} {'NULL' if jobs.c[n].nullable else 'NOT NULL'}"
            for n in narrow
        )
        conn.execute(text(f"ALTER TABLE {jobs.name} {changes}"))
    if "job_types" not in {c["name"] for c in inspect(conn).get_columns(workers.name)}:
        kind = workers.c.job_types.type.compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE {workers.name} ADD COLUMN job_types {kind}"))


def _finished_index_over_finished_rows(conn: Connection) -> None:
    for statement in finished_index_sql(conn.dialect.name, lambda sql: conn.execute(text(sql)).scalar()):
        conn.execute(text(statement))


def _add_waiting_index(conn: Connection) -> None:
    for statement in waiting_index_sql(conn.dialect.name):
        conn.execute(text(statement))


#: The step that brings a database to each version.
STEPS: dict[int, Callable[[Connection], None]] = {
    2: _add_queue_status_index,
    3: _add_schedule_columns,
    4: _add_meta_and_queues,
    5: _add_flow_control,
    6: _widen_payloads_and_add_worker_types,
    7: _finished_index_over_finished_rows,
    8: _add_waiting_index,
}


def upgrade_step(conn: Connection, stored: int) -> int:
    """Bring the database from version ``stored`` one step up; return the version it is at now.

    The version row moves with a compare-and-set: of processes racing, one writes it, the others find
    the change made (their checks skip it) and the row already moved.
    """
    target = stored + 1
    STEPS[target](conn)
    conn.execute(
        update(meta).where(meta.c.key == "schema_version", meta.c.value == str(stored)).values(value=str(target))
    )
    return target


assert set(STEPS) == set(range(2, SCHEMA_VERSION + 1)), "every schema version needs its upgrade step"
