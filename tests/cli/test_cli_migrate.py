"""``dbjobq migrate``: upgrade a real version-1 database in place, from one process or several at once."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from click.testing import Result
from sqlalchemy import delete

from dbjobq.storage import SQLAlchemyStorage
from dbjobq.storage.schema import SCHEMA_VERSION, metadata
from tests.cli.conftest import command
from tests.core.test_schema_upgrade import _make_version_1, _state, _upgraded_payloads


def _version_1(url: str) -> str:
    """Make ``url``'s database what dbjobq 0.2.0 left; return its dialect."""

    async def make() -> str:
        async with SQLAlchemyStorage(url) as storage:
            async with storage.engine.begin() as conn:  # empty tables, as the storage fixture leaves them
                for table in reversed(metadata.sorted_tables):
                    if table.name != "dbjobq_meta":
                        await conn.execute(delete(table))
            await _make_version_1(storage)
            return storage.dialect

    return asyncio.run(make())


def test_cli_migrate_upgrades_a_version_1_database(db_url: str, invoke: Callable[..., Result]) -> None:
    dialect = _version_1(db_url)
    result = invoke("migrate")
    assert result.exit_code == 0, result.output
    assert f"Upgraded the schema from version 1 to {SCHEMA_VERSION} in " in result.output
    version, _, columns = asyncio.run(_state(db_url))
    assert version == str(SCHEMA_VERSION) and _upgraded_payloads(dialect) <= columns

    again = invoke("migrate")
    assert (
        again.exit_code == 0 and f"Schema version {SCHEMA_VERSION} " in again.output and "nothing to do" in again.output
    )


def test_cli_migrate_by_three_processes_at_once(db_url: str, workdir: Path) -> None:
    dialect = _version_1(db_url)
    env = {**os.environ, "DBJOBQ_DATABASE_URL": db_url}
    procs = [
        subprocess.Popen(
            [*command(), "migrate"], cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], outputs
    assert any("from version 1 to" in out for out, _ in outputs), outputs
    version, _, columns = asyncio.run(_state(db_url))
    assert version == str(SCHEMA_VERSION)
    assert {"tz", "origin", "job_types"} <= columns and _upgraded_payloads(dialect) <= columns
