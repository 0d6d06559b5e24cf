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
    inspect,
    literal_column,
    text,
)
from sqlalchemy.dialects.mysql import LONGTEXT
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.elements import ColumnClause

#: Bumped whenever the tables change; stored in ``dbjobq_meta`` under ``schema_version``.
SCHEMA_VERSION = 8

#: PostgreSQL channel on which the jobs table announces new jobs.
NOTIFY_CHANNEL = "dbjobq_jobs"

metadata = MetaData()

#: Schema version 6. Job data, results and errors of any size: ``TEXT`` holds 1 GB on PostgreSQL and
#: SQLite but 64 KB on MySQL/MariaDB, where ``LONGTEXT`` (4 GB) takes whatever the server's
#: ``max_allowed_packet`` lets through (see ``storage/payloads.py``).
PAYLOAD_TEXT = Text().with_variant(LONGTEXT(), "mysql", "mariadb")


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
    Column("data", PAYLOAD_TEXT, nullable=False),
    Column("status", String(16), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("max_retries", Integer, nullable=False),
    Column("error", PAYLOAD_TEXT, nullable=True),
    Column("result", PAYLOAD_TEXT, nullable=True),
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
    # Schema version 5 (flow control, docs/flow-control.md). Nullable without a server default, like
    # the schedules' version 3 columns: adding them is the same cheap ALTER on every database.
    Column("unique_key", String(255), nullable=True),
    Column("flow_key", String(255), nullable=True),
    Column("depends_on", Text, nullable=True),
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
# Retention, purge and finished jobs by status and time. Schema version 7: on PostgreSQL and SQLite over
# finished rows only (``finished_at`` is set exactly when a job finishes), so a job's pending and running
# versions write no entry in it: two index writes fewer per job, and the index holds the retained rows
# alone. Queries reach it with a condition on ``finished_at`` (a comparison implies IS NOT NULL on both
# databases); MySQL and MariaDB have no partial indexes and index every row, as before.
FINISHED_ONLY = "finished_at IS NOT NULL"
FINISHED_INDEX = Index(
    "ix_dbjobq_jobs_status_finished",
    jobs.c.status,
    jobs.c.finished_at,
    postgresql_where=text(FINISHED_ONLY),
    sqlite_where=text(FINISHED_ONLY),
)
# Schema version 8. Dependents waiting for their dependencies, read in pages by id (``resolve_waiting``,
# after outcomes and in the maintenance loop): on PostgreSQL and SQLite an index over waiting rows only,
# empty unless ``depends_on`` is used (no other job writes an entry in it). Before version 7 the full
# (status, finished_at) index served these reads; over finished rows only, it no longer can, and each
# pass read the whole table. MySQL and MariaDB still reach them through that index (over every row there).
WAITING_SQL: ColumnClause[str] = literal_column("'waiting'")
WAITING_INDEX = Index(
    "ix_dbjobq_jobs_waiting",
    jobs.c.id,
    postgresql_where=text("status = 'waiting'"),
    sqlite_where=text("status = 'waiting'"),
)
WAITING_INDEX.ddl_if(callable_=_dialect_in("postgresql", "sqlite"))
# Schema version 2. Per-queue views (the dashboard, `stats`): counts by (queue, status) are index-only
# range scans, the oldest due pending job of a queue is the first entry of its range, and the distinct
# queues are found by skipping through it — none of them reads the table, however many rows it holds.
QUEUE_STATUS_INDEX = Index("ix_dbjobq_jobs_queue_status", jobs.c.queue, jobs.c.status, jobs.c.execute_at)

# Schema version 5. A unique key is held while its job is waiting, pending or running: a unique index
# over those rows only, partial on PostgreSQL and SQLite; on MySQL/MariaDB (no partial indexes) over a
# generated column that holds the key only in those statuses (NULLs never collide), added after the
# table is created (FLOW_MYSQL_DDL) so that the other databases and the Django models never see it.
HELD_STATUSES = ("waiting", "pending", "running")
_HELD_SQL = "status IN ('waiting', 'pending', 'running')"
UNIQUE_KEY_INDEX = Index(
    "ux_dbjobq_jobs_unique_key",
    jobs.c.unique_key,
    unique=True,
    postgresql_where=text(f"unique_key IS NOT NULL AND {_HELD_SQL}"),
    sqlite_where=text(f"unique_key IS NOT NULL AND {_HELD_SQL}"),
)
UNIQUE_KEY_INDEX.ddl_if(callable_=_dialect_in("postgresql", "sqlite"))
#: MySQL/MariaDB: the generated column and the unique index that hold unique keys (see above).
FLOW_MYSQL_DDL = (
    "ALTER TABLE dbjobq_jobs ADD COLUMN unique_active VARCHAR(255) "
    f"GENERATED ALWAYS AS (CASE WHEN {_HELD_SQL} THEN unique_key END) STORED",
    "CREATE UNIQUE INDEX ux_dbjobq_jobs_unique_key ON dbjobq_jobs (unique_active)",
)


def _create_index_sql(index: Index, vendor: str, *, if_not_exists: bool = False) -> str:
    """``CREATE INDEX`` for ``index`` as PostgreSQL or SQLite (``vendor``) spells it, partial condition included."""
    from sqlalchemy.dialects import postgresql, sqlite
    from sqlalchemy.schema import CreateIndex

    dialect: Dialect = postgresql.dialect() if vendor == "postgresql" else sqlite.dialect()  # type: ignore[no-untyped-call]
    return str(CreateIndex(index, if_not_exists=if_not_exists).compile(dialect=dialect))


def unique_key_sql(vendor: str) -> list[str]:
    """The statements that build the unique keys' index on a database of ``vendor`` ("postgresql",
    "sqlite" or "mysql"), exactly as ``initialize()`` does (the Django migration runs them too)."""
    if vendor in ("mysql", "mariadb"):
        return list(FLOW_MYSQL_DDL)
    return [_create_index_sql(UNIQUE_KEY_INDEX, vendor)]


def finished_index_sql(vendor: str, scalar: Callable[[str], object]) -> list[str]:
    """The statements that rebuild the finished jobs' index over finished rows only on a database of
    ``vendor`` (the upgrade to schema version 7): none on MySQL/MariaDB (no partial indexes) or where
    it is built so already. ``scalar(sql)`` runs a query and returns its first value (``None`` for no
    row): the core's upgrade and the Django migration each pass their own connection's."""
    if vendor in ("mysql", "mariadb"):
        return []
    if vendor == "postgresql":
        query = "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = "
    else:
        query = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = "
    if FINISHED_ONLY in str(scalar(f"{query}'{FINISHED_INDEX.name}'") or ""):
        return []
    create = _create_index_sql(FINISHED_INDEX, vendor, if_not_exists=True)
    return [f"DROP INDEX IF EXISTS {FINISHED_INDEX.name}", create]


def waiting_index_sql(vendor: str) -> list[str]:
    """The statements that build the waiting jobs' index on a database of ``vendor`` (the upgrade to schema
    version 8; none on MySQL/MariaDB), as ``initialize()`` does: the Django migration runs them too."""
    if vendor in ("mysql", "mariadb"):
        return []
    return [_create_index_sql(WAITING_INDEX, vendor, if_not_exists=True)]


def create_unique_key_index(conn: Connection) -> None:
    """Build the unique keys' index where it is missing (the upgrade to schema version 4)."""
    if conn.dialect.name not in ("mysql", "mariadb"):
        UNIQUE_KEY_INDEX.create(conn, checkfirst=True)
        return
    if "unique_active" not in {column["name"] for column in inspect(conn).get_columns(jobs.name)}:
        conn.execute(text(FLOW_MYSQL_DDL[0]))
    if UNIQUE_KEY_INDEX.name not in {index["name"] for index in inspect(conn).get_indexes(jobs.name)}:
        conn.execute(text(FLOW_MYSQL_DDL[1]))


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
    # Schema version 6. The job types the worker registered (a JSON list; NULL in older rows): the
    # pending jobs that no live worker can run are found with it.
    Column("job_types", PAYLOAD_TEXT, nullable=True),
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

# Schema version 5. One row per flow-controlled job type: claims of that type lock it (so two workers
# never both take the last slot), and it counts the starts in the current rate-limit window.
limits = Table(
    "dbjobq_limits",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("window_start", Double, nullable=False),
    Column("window_count", Integer, nullable=False),
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
for _statement in FLOW_MYSQL_DDL:
    event.listen(jobs, "after_create", DDL(_statement).execute_if(dialect=("mysql", "mariadb")))  # type: ignore[no-untyped-call,arg-type]
