"""The command line never shows a password, never lets stored text drive the terminal, and never
imports a planted module from the current directory ahead of the installed ones."""

from __future__ import annotations

import pytest
from click.testing import Result
from sqlalchemy.engine import make_url

from tests.cli.conftest import Invoke

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
