"""Throw-away databases for one benchmark run (created and dropped with plain SQL)."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from pathlib import Path

POSTGRES = os.environ.get("DBJOBQ_BENCH_POSTGRES", "postgres@127.0.0.1:5432")
MYSQL_HOST, MYSQL_PORT, MYSQL_USER = "127.0.0.1", 3306, "root"
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


def create(database: str) -> str:
    """A fresh, empty database; returns a plain URL (``postgresql://…``, ``mysql://…``, ``sqlite:///…``)."""
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
        path.parent.rmdir()
