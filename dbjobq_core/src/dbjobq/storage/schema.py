"""The schema: the single source of truth for DBJobQ's tables (the Django models mirror it).

Times are stored as epoch seconds in double-precision columns: the same type, precision and
comparison semantics on SQLite, PostgreSQL and MySQL/MariaDB, and cheap to index.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    DDL,
    Boolean,
    Column,
    Double,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    event,
    literal_column,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnClause

#: Bumped whenever the tables change; stored in ``dbjobq_meta`` under ``schema_version``.
SCHEMA_VERSION = 4

#: PostgreSQL channel on which the jobs table announces new jobs.
NOTIFY_CHANNEL = "dbjobq_jobs"

metadata = MetaData()


def _dialect_in(*names: str) -> Callable[..., bool]:
    """A ``ddl_if`` condition: create the construct only on these dialects."""

    def check(_ddl: object, _target: object, _bind: object, *, dialect: Dialect, **_kw: object) -> bool:
        return dialect.name in names

    return check


jobs = Table(
    "dbjobq_jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("type", String(255), nullable=False),
    Column("queue", String(64), nullable=False),
    Column("data", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("max_retries", Integer, nullable=False),
    Column("error", Text, nullable=True),
    Column("result", Text, nullable=True),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("execute_at", Double, nullable=False),
    Column("started_at", Double, nullable=True),
    Column("finished_at", Double, nullable=True),
    Column("worker_id", String(64), nullable=True),
    Column("lease_token", String(36), nullable=True),
    Column("lease_expires_at", Double, nullable=True),
    # Schema version 4. JSON object of what DBJobQ keeps beside the payload: the enqueue site's trace
    # context (``traceparent``) and the job's progress. Nullable, no default: a cheap ALTER everywhere.
    Column("meta", Text, nullable=True),
)

# The claim query is `status = 'pending' AND execute_at <= now [AND queue IN …]` ordered by
# (priority DESC, execute_at, id). On PostgreSQL and SQLite a partial index over pending rows only
# serves it in index order and stays small however many finished jobs the table holds. MySQL and
# MariaDB have no partial indexes, so the status column leads the index instead.
Index(
    "ix_dbjobq_jobs_claim",
    jobs.c.priority.desc(),
    jobs.c.execute_at,
    jobs.c.id,
    postgresql_where=text("status = 'pending'"),
    sqlite_where=text("status = 'pending'"),
).ddl_if(callable_=_dialect_in("postgresql", "sqlite"))
Index(
    "ix_dbjobq_jobs_claim_mysql",
    jobs.c.status,
    jobs.c.priority.desc(),
    jobs.c.execute_at,
    jobs.c.id,
).ddl_if(callable_=_dialect_in("mysql", "mariadb"))
# Lease recovery scans running jobs by expiry; partial where the database allows it.
Index(
    "ix_dbjobq_jobs_lease",
    jobs.c.lease_expires_at,
    postgresql_where=text("status = 'running'"),
    sqlite_where=text("status = 'running'"),
).ddl_if(callable_=_dialect_in("postgresql", "sqlite"))
Index("ix_dbjobq_jobs_lease_mysql", jobs.c.status, jobs.c.lease_expires_at).ddl_if(
    callable_=_dialect_in("mysql", "mariadb")
)
# Where a partial index is meant to serve a query, its status is inlined as an SQL literal, not a bound
# parameter: a prepared statement's generic plan (PostgreSQL) or SQLite's planner cannot match
# `status = $1` with an index's `WHERE status = 'pending'`, and would scan every row of that status.
PENDING_SQL: ColumnClause[str] = literal_column("'pending'")
RUNNING_SQL: ColumnClause[str] = literal_column("'running'")
# Retention, purge and listing by status.
Index("ix_dbjobq_jobs_status_finished", jobs.c.status, jobs.c.finished_at)
# Schema version 2. Per-queue views (the dashboard, `stats`): counts by (queue, status) are index-only
# range scans, the oldest due pending job of a queue is the first entry of its range, and the distinct
# queues are found by skipping through it — none of them reads the table, however many rows it holds.
QUEUE_STATUS_INDEX = Index("ix_dbjobq_jobs_queue_status", jobs.c.queue, jobs.c.status, jobs.c.execute_at)

schedules = Table(
    "dbjobq_schedules",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("job_type", String(255), nullable=False),
    Column("job_data", Text, nullable=False),
    Column("queue", String(64), nullable=False),
    Column("schedule_type", String(16), nullable=False),
    Column("schedule_expression", String(255), nullable=False),
    Column("next_run", Double, nullable=False),
    Column("last_run", Double, nullable=True),
    Column("enabled", Boolean, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("max_retries", Integer, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    # Schema version 3. A cron schedule's IANA time zone (NULL: UTC); where the schedule comes from:
    # 'code' (declared in code, synced by workers) or 'operator' (NULL in rows older than version 3).
    # Nullable without a server default, so adding them is the same cheap ALTER on every database.
    Column("tz", String(64), nullable=True),
    Column("origin", String(16), nullable=True),
)
Index("ix_dbjobq_schedules_due", schedules.c.enabled, schedules.c.next_run)

workers = Table(
    "dbjobq_workers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("hostname", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("queues", String(1024), nullable=True),
    Column("concurrency", Integer, nullable=False),
    Column("started_at", Double, nullable=False),
    Column("last_heartbeat", Double, nullable=False),
)

# Schema version 4. Queue controls: a row per queue an operator paused (or resumed); a queue without
# a row runs. ``paused_until`` (epoch seconds, NULL: until resumed) ends a pause by itself.
queues = Table(
    "dbjobq_queues",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("paused", Boolean, nullable=False),
    Column("paused_until", Double, nullable=True),
    Column("updated_at", Double, nullable=False),
)

meta = Table(
    "dbjobq_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
)

# PostgreSQL: announce new jobs to listening workers. A statement-level trigger sends one NOTIFY per
# INSERT statement, and PostgreSQL delivers it only when the inserting transaction commits — so a job
# enqueued in a transaction that rolls back wakes nobody, whoever wrote it (DBJobQ or the Django ORM).
NOTIFY_FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION dbjobq_notify_jobs() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('{NOTIFY_CHANNEL}', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""
NOTIFY_TRIGGER_SQL = (
    "CREATE TRIGGER dbjobq_jobs_notify AFTER INSERT ON dbjobq_jobs "
    "FOR EACH STATEMENT EXECUTE FUNCTION dbjobq_notify_jobs()"
)
event.listen(jobs, "after_create", DDL(NOTIFY_FUNCTION_SQL).execute_if(dialect="postgresql"))  # type: ignore[no-untyped-call]
event.listen(jobs, "after_create", DDL(NOTIFY_TRIGGER_SQL).execute_if(dialect="postgresql"))  # type: ignore[no-untyped-call]
