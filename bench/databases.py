"""Throw-away databases for one benchmark run (created and dropped with plain SQL)."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import uuid
from pathlib import Path
from typing import Any

POSTGRES = os.environ.get("DBJOBQ_BENCH_POSTGRES", "postgres@127.0.0.1:5432")
MYSQL_HOST, MYSQL_PORT, MYSQL_USER = "127.0.0.1", 3306, "root"
#: The Redis database the Redis-backed peers use; the benchmark owns it and empties it (FLUSHDB) per run.
REDIS = os.environ.get("DBJOBQ_BENCH_REDIS", "127.0.0.1:6379/5")
WORK = Path(__file__).resolve().parent / ".work"


async def _postgres(sql: str) -> None:
    import asyncpg

    user, hostport = POSTGRES.split("@")
    host, port = hostport.split(":")
    conn = await asyncpg.connect(user=user, host=host, port=int(port), database="postgres", timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _mysql(sql: str) -> None:
    import pymysql

    conn = pymysql.connect(user=MYSQL_USER, host=MYSQL_HOST, port=MYSQL_PORT, connect_timeout=10)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql)
        conn.commit()
    finally:
        conn.close()


def _redis_command(*words: str) -> bytes:
    """Send one command to the benchmark's Redis database in RESP (stdlib only); return the raw reply."""
    hostport, index = REDIS.split("/")
    host, port = hostport.split(":")

    def encode(*parts: str) -> bytes:
        return f"*{len(parts)}\r\n".encode() + b"".join(f"${len(p)}\r\n{p}\r\n".encode() for p in parts)

    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(encode("SELECT", index) + encode(*words))
        reply = b""
        while reply.count(b"\r\n") < 2:
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    if not reply.startswith(b"+OK\r\n"):
        raise RuntimeError(f"Redis at {REDIS}: SELECT failed: {reply!r}")
    return reply.split(b"\r\n", 1)[1]


def create(database: str) -> str:
    """A fresh, empty database; returns a plain URL (``postgresql://…``, ``mysql://…``, ``sqlite:///…``,
    ``redis://host:port/db``: the benchmark's own Redis database, emptied)."""
    name = f"dbjobq_bench_{uuid.uuid4().hex[:10]}"
    if database == "postgresql":
        asyncio.run(_postgres(f'CREATE DATABASE "{name}"'))
        return f"postgresql://{POSTGRES}/{name}"
    if database == "mysql":
        _mysql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        return f"mysql://{MYSQL_USER}@{MYSQL_HOST}:{MYSQL_PORT}/{name}"
    if database == "sqlite":
        WORK.mkdir(exist_ok=True)
        directory = tempfile.mkdtemp(prefix="sqlite-", dir=WORK)
        return f"sqlite:///{directory}/{name}.db"
    if database == "redis":
        # One Redis database is owned by the benchmark: a run starts from an empty one.
        _redis_command("FLUSHDB")
        return f"redis://{REDIS}"
    raise ValueError(database)


def drop(url: str) -> None:
    """Drop a database made by :func:`create`."""
    if url.startswith("postgresql"):
        name = url.rsplit("/", 1)[1]
        asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    elif url.startswith("mysql"):
        name = url.rsplit("/", 1)[1]
        _mysql(f"DROP DATABASE IF EXISTS `{name}`")
    elif url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        for leftover in path.parent.glob(path.name + "*"):
            leftover.unlink(missing_ok=True)
        if path.parent.exists():  # idempotent, like DROP DATABASE IF EXISTS
            path.parent.rmdir()
    elif url.startswith("redis"):
        _redis_command("FLUSHDB")


async def _footprint(url: str, tables: list[str]) -> dict[str, Any]:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        # Backends report their table statistics when idle or on exit; the workers have exited.
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        autovacuum = await conn.fetchval("SHOW autovacuum")
        out: dict[str, Any] = {"autovacuum": autovacuum, "tables": {}, "indexes": {}}
        for table in tables:
            row = await conn.fetchrow(
                "SELECT n_live_tup, n_dead_tup, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, autovacuum_count, "
                "vacuum_count, pg_relation_size(relid) AS heap, pg_indexes_size(relid) AS indexes, "
                "pg_total_relation_size(relid) AS total FROM pg_stat_user_tables WHERE relname = $1",
                table,
            )
            if row is None:
                continue
            out["tables"][table] = {
                "live_tuples": row["n_live_tup"], "dead_tuples": row["n_dead_tup"], "inserts": row["n_tup_ins"],
                "updates": row["n_tup_upd"], "hot_updates": row["n_tup_hot_upd"], "deletes": row["n_tup_del"],
                "autovacuums": row["autovacuum_count"], "vacuums": row["vacuum_count"],
                "heap_bytes": row["heap"], "index_bytes": row["indexes"], "total_bytes": row["total"],
            }
            for index in await conn.fetch(
                "SELECT indexrelname, pg_relation_size(indexrelid) AS size, pg_get_indexdef(indexrelid) AS def "
                "FROM pg_stat_user_indexes WHERE relname = $1 ORDER BY 1",
                table,
            ):
                out["indexes"][index["indexrelname"]] = {"bytes": index["size"], "definition": index["def"]}
        jobs_table = tables[0]
        out["pending_rows"] = await conn.fetchval(PENDING.get(jobs_table, "SELECT NULL"))
        out["dead_tuples"] = sum(t["dead_tuples"] for t in out["tables"].values())
        out["total_bytes"] = sum(t["total_bytes"] for t in out["tables"].values())
        return out
    finally:
        await conn.close()


#: Rows still waiting to run, per jobs table.
PENDING = {
    "dbjobq_jobs": "SELECT count(*) FROM dbjobq_jobs WHERE status = 'pending'",
    "pgqueuer": "SELECT count(*) FROM pgqueuer WHERE status = 'queued'",
    "procrastinate_jobs": "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'",
}


async def _show(url: str, setting: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        return str(await conn.fetchval(f"SHOW {setting}"))
    finally:
        await conn.close()


def pg_setting(url: str, setting: str) -> str:
    """A PostgreSQL server setting (``SHOW``), e.g. whether autovacuum is on."""
    return asyncio.run(_show(url, setting))


def pg_footprint(url: str, tables: list[str]) -> dict[str, Any]:
    """Row versions and bytes the given tables hold (pg_stat_user_tables, pg_total_relation_size), indexes too."""
    return asyncio.run(_footprint(url, tables))
