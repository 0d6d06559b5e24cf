"""The command line never shows a password, never lets stored text drive the terminal, and never
imports a planted module from the current directory ahead of the installed ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy.engine import make_url

from tests.cli.conftest import Cli, Invoke

SECRET = "hunter2"


def assert_no_secret(result: Result) -> None:
    assert SECRET not in result.output and SECRET not in (result.stderr or "")


@pytest.mark.databases("sqlite")
@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://ann:hunter2@db:port/app",
        "postgresql://ann:hunter2@db/app?password=hunter2",
        "mysql+aiomysql://root:hunter2@db:33o6/app",
        "hunter2",
    ],
)
def test_cli_security_bad_url_error_hides_the_password(invoke: Invoke, url: str) -> None:
    result = invoke("jobs", url=url)
    assert result.exit_code == 1 and result.stderr.startswith("Error: ")
    assert_no_secret(result)


@pytest.mark.databases("postgresql")
def test_cli_security_init_db_masks_query_password(invoke: Invoke, db_url: str) -> None:
    # asyncpg takes the password from the query too; the trusting test server ignores it.
    url = make_url(db_url).update_query_dict({"password": SECRET}).render_as_string(hide_password=False)
    result = invoke("init-db", url=url)
    assert result.exit_code == 0, result.output
    assert "DBJobQ tables are ready in postgresql+asyncpg://" in result.stdout
    assert "password=***" in result.stdout
    assert_no_secret(result)


@pytest.mark.databases("postgresql")
def test_cli_security_unreachable_database_error_hides_the_password(invoke: Invoke, db_url: str) -> None:
    url = make_url(db_url).set(port=1).update_query_dict({"password": SECRET})
    result = invoke("jobs", url=url.render_as_string(hide_password=False))
    assert result.exit_code == 1 and "Could not connect" in result.stderr
    assert_no_secret(result)


#: The driver each database's storage imports lazily, after ``--import`` ran.
DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg", "mysql": "aiomysql"}


def test_cli_security_import_never_shadows_installed_modules(
    run_cli: Cli, workdir: Path, db_name: str, queue_name: str
) -> None:
    # A file planted in the directory the worker starts in, named like the database driver: with the
    # current directory first on sys.path, the storage would import (run) it instead of the real one.
    planted = workdir / f"{DRIVERS[db_name]}.py"
    planted.write_text("import pathlib\npathlib.Path(__file__).with_name('PLANTED-RAN').write_text('ran')\n")
    job_id = run_cli("enqueue", "cli_jobs.hello", '{"name": "ann"}', "--queue", queue_name).stdout.strip()
    result = run_cli("worker", "--import", "cli_jobs", "--queue", queue_name, "--burst")
    assert not (workdir / "PLANTED-RAN").exists(), "the planted module ran"
    assert "1 completed" in result.stdout
    shown = json.loads(run_cli("job", job_id, "--json").stdout)
    assert shown["status"] == "completed" and shown["result"] == {"greeting": "hello ann"}
