"""Django's migrations build exactly the core's schema (names, types, nullability, indexes, trigger)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from dbjobq.storage import SQLAlchemyStorage
from dbjobq.storage.schema import SCHEMA_VERSION
from dbjobq_django import get_settings
from tests.databases import create_database, drop_database
from tests.django.conftest import per_database


def _inspect(conn: Connection) -> dict[str, Any]:
    inspector = inspect(conn)
    tables: dict[str, Any] = {}
    for table in sorted(t for t in inspector.get_table_names() if t.startswith("dbjobq_")):
        columns = [
            (c["name"], c["type"].compile(dialect=conn.dialect), c["nullable"], c.get("default"))
            for c in inspector.get_columns(table)
        ]
        indexes = sorted(
            (
                ix["name"],
                tuple(ix["column_names"]),
                bool(ix["unique"]),
                tuple(sorted((k, tuple(v)) for k, v in (ix.get("column_sorting") or {}).items())),
                tuple(sorted((k, " ".join(str(v).split())) for k, v in (ix.get("dialect_options") or {}).items())),
            )
            for ix in inspector.get_indexes(table)
        )
        tables[table] = {
            "columns": columns,
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "indexes": indexes,
            "unique": sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
            "foreign_keys": inspector.get_foreign_keys(table),
        }
    if conn.dialect.name == "postgresql":
        tables["triggers"] = sorted(
            conn.execute(
                text(
                    "SELECT tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                    "WHERE NOT t.tgisinternal AND c.relname LIKE 'dbjobq%'"
                )
            ).all()
        )
        tables["functions"] = sorted(
            conn.execute(text("SELECT proname, prosrc FROM pg_proc WHERE proname LIKE 'dbjobq%'")).all()
        )
    if conn.dialect.name == "mysql":
        # SQLAlchemy does not reflect index order on MySQL: compare it from the catalogue.
        tables["index_order"] = sorted(
            conn.execute(
                text(
                    "SELECT table_name, index_name, seq_in_index, column_name, collation "
                    "FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name LIKE 'dbjobq%'"
                )
            ).all()
        )
    if conn.dialect.name == "sqlite":
        # Nor on SQLite: compare the index definitions themselves (quoting aside).
        tables["index_sql"] = sorted(
            (name, " ".join(sql.replace('"', "").lower().split()))
            for name, sql in conn.execute(
                text(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                    "AND tbl_name LIKE 'dbjobq%'"
                )
            ).all()
        )
    if "dbjobq_meta" in tables:
        tables["meta_rows"] = sorted(conn.execute(text("SELECT * FROM dbjobq_meta")).all())
    return tables


async def _snapshot(url: Any) -> dict[str, Any]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_inspect)
    finally:
        await engine.dispose()


async def _initialize(url: Any) -> None:
    async with SQLAlchemyStorage(url):
        pass


@contextlib.contextmanager
def _core_database(vendor: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same kind, for the core to create its tables in."""
    if vendor == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'core.sqlite3'}"
        return
    url = create_database("postgresql" if vendor == "postgresql" else "mysql")
    try:
        yield url
    finally:
        drop_database(url)


@per_database(transaction=True)
def test_schema_migrations_match_core(dbjobq: str, tmp_path: Path) -> None:
    url = get_settings().engine_url()
    call_command("migrate", "dbjobq", "zero", database=dbjobq, verbosity=0)
    assert not any(asyncio.run(_snapshot(url)).values()), "migrating to zero leaves nothing behind"

    call_command("migrate", "dbjobq", database=dbjobq, verbosity=0)
    migrated = asyncio.run(_snapshot(url))
    assert migrated["meta_rows"] == [("schema_version", str(SCHEMA_VERSION))]

    with _core_database(connections[dbjobq].vendor, tmp_path) as core_url:
        asyncio.run(_initialize(core_url))
        core = asyncio.run(_snapshot(core_url))
    assert set(migrated) == set(core)
    for key in sorted(core):
        assert migrated[key] == core[key], f"{key} differs between Django's migrations and the core"

    # The core finds nothing to create or change in a migrated database.
    asyncio.run(_initialize(url))
    assert asyncio.run(_snapshot(url)) == migrated


@pytest.mark.django_db(databases="__all__")
def test_schema_makemigrations_check_is_clean() -> None:
    call_command("makemigrations", "dbjobq", "--check", "--dry-run", verbosity=0)


def test_schema_version_migration_matches_core() -> None:
    import importlib
    import pkgutil

    import dbjobq_django.migrations

    names = sorted(m.name for m in pkgutil.iter_modules(dbjobq_django.migrations.__path__))
    versions = [getattr(importlib.import_module(f"dbjobq_django.migrations.{n}"), "SCHEMA_VERSION", 0) for n in names]
    assert max(versions) == SCHEMA_VERSION, (
        "The core's SCHEMA_VERSION changed: add a migration that changes the tables and the version row"
    )


@per_database(transaction=True)
def test_schema_fake_initial_adopts_tables_made_by_the_core(dbjobq: str) -> None:
    # A project whose workers created the tables before it added the app (the documented path).
    url = get_settings().engine_url()
    migrated = asyncio.run(_snapshot(url))
    call_command("migrate", "dbjobq", "zero", database=dbjobq, verbosity=0)
    asyncio.run(_initialize(url))
    call_command("migrate", "dbjobq", "--fake-initial", database=dbjobq, verbosity=0)
    adopted = asyncio.run(_snapshot(url))
    assert adopted.pop("meta_rows") == [("schema_version", str(SCHEMA_VERSION))]
    migrated.pop("meta_rows")  # earlier tests' flushes may have emptied it
    assert adopted == migrated
    from django.db.migrations.recorder import MigrationRecorder

    applied = MigrationRecorder(connections[dbjobq]).applied_migrations()
    assert {("dbjobq", "0001_initial"), ("dbjobq", "0002_schema_version")} <= set(applied)


def _from_either_side(dbjobq: str, migration: str, version: int, check_older: Callable[[Any], None]) -> Any:
    """Upgrade a project at schema ``version`` (Django migration ``migration``) both ways: the core first (a
    worker's initialize(), `dbjobq migrate`) and `migrate` finds it done, or `migrate` first and the core
    finds nothing to do. Either way the tables are those a full `migrate` makes, which are returned;
    ``check_older`` checks them at the older version."""
    url = get_settings().engine_url()
    call_command("migrate", "dbjobq", database=dbjobq, verbosity=0)
    asyncio.run(_initialize(url))  # the version row, which earlier tests' flushes may have emptied
    migrated = asyncio.run(_snapshot(url))
    for core_first in (True, False):
        call_command("migrate", "dbjobq", migration, database=dbjobq, verbosity=0)
        older = asyncio.run(_snapshot(url))
        assert older["meta_rows"] == [("schema_version", str(version))]
        check_older(older)
        if core_first:
            asyncio.run(_initialize(url))
        call_command("migrate", "dbjobq", database=dbjobq, verbosity=0)
        asyncio.run(_initialize(url))
        assert asyncio.run(_snapshot(url)) == migrated, f"core first: {core_first}"
    return migrated


@per_database(transaction=True)
def test_schema_version_3_from_either_side(dbjobq: str) -> None:
    # A project at schema version 2 (migration 0004): without the schedules' tz and origin columns.
    def at_2(tables: Any) -> None:
        assert "tz" not in {column[0] for column in tables["dbjobq_schedules"]["columns"]}

    _from_either_side(dbjobq, "0004", 2, at_2)


@per_database(transaction=True)
def test_schema_version_4_from_either_side(dbjobq: str) -> None:
    # A project at schema version 3 (migration 0005): without the jobs' meta column and the queues table.
    def at_3(tables: Any) -> None:
        assert "meta" not in {column[0] for column in tables["dbjobq_jobs"]["columns"]}
        assert "dbjobq_queues" not in tables

    _from_either_side(dbjobq, "0005", 3, at_3)


@per_database(transaction=True)
def test_schema_version_6_from_either_side(dbjobq: str) -> None:
    # A project at schema version 5 (migration 0007): TEXT payload columns on MySQL, no workers' job_types.
    def at_5(tables: Any) -> None:
        assert "job_types" not in {column[0] for column in tables["dbjobq_workers"]["columns"]}
        assert {c[1] for c in tables["dbjobq_jobs"]["columns"] if c[0] in ("data", "error", "result")} == {"TEXT"}

    migrated = _from_either_side(dbjobq, "0007", 5, at_5)
    payload_types = {c[0]: c[1] for c in migrated["dbjobq_jobs"]["columns"] if c[0] in ("data", "error", "result")}
    long = "LONGTEXT" if connections[dbjobq].vendor == "mysql" else "TEXT"
    assert payload_types == {"data": long, "error": long, "result": long}


@per_database(transaction=True)
def test_schema_version_7_from_either_side(dbjobq: str) -> None:
    # A project at schema version 6 (migration 0009): the (status, finished_at) index over every row; at
    # version 7 over finished rows only on PostgreSQL and SQLite.
    def at_6(tables: Any) -> None:
        assert _finished_index_where(tables) is None

    migrated = _from_either_side(dbjobq, "0009", 6, at_6)
    partial = connections[dbjobq].vendor != "mysql"
    assert _finished_index_where(migrated) == ("finished_at IS NOT NULL" if partial else None)


def _finished_index_where(snapshot: dict[str, Any]) -> str | None:
    """The condition of the (status, finished_at) index in a snapshot (``None``: over every row)."""
    [index] = [ix for ix in snapshot["dbjobq_jobs"]["indexes"] if ix[0] == "ix_dbjobq_jobs_status_finished"]
    options = dict(index[4])
    where = options.get("postgresql_where") or options.get("sqlite_where")
    return None if where is None else str(where).strip("()")


@per_database(transaction=True)
def test_schema_version_8_from_either_side(dbjobq: str) -> None:
    # A project at schema version 7 (migration 0010): no index over waiting jobs; at version 8 one on
    # PostgreSQL and SQLite (MySQL reads them through the (status, finished_at) index over every row).
    def at_7(tables: Any) -> None:
        assert "ix_dbjobq_jobs_waiting" not in {index[0] for index in tables["dbjobq_jobs"]["indexes"]}

    migrated = _from_either_side(dbjobq, "0010", 7, at_7)
    names = {index[0] for index in migrated["dbjobq_jobs"]["indexes"]}
    assert ("ix_dbjobq_jobs_waiting" in names) == (connections[dbjobq].vendor != "mysql")
