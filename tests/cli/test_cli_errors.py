"""Every bad input is one ``Error:`` line on stderr and a non-zero exit code, never a traceback."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from dbjobq.cli import cli

Invoke = Callable[..., Result]

pytestmark = pytest.mark.databases("sqlite")


def assert_one_line_error(result: Result, code: int, *fragments: str) -> None:
    assert result.exit_code == code, (result.output, result.exception)
    assert result.stderr.startswith("Error: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.stderr


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("sqlite:///jobs.db", "sqlite+aiosqlite"),
        ("postgresql://user@localhost/db", "postgresql+asyncpg://user@localhost/db"),
        ("mysql://root@localhost/db", "mysql+aiomysql"),
        ("not a url", "Invalid database URL"),
        ("oracle+oracledb://u@h/db", "supports SQLite, PostgreSQL and MySQL"),
        # Hosting providers' form: the error names the async URL to use (DESIGN §2), no traceback.
        ("postgres://user:pw@localhost/db", "postgresql+asyncpg://user:***@localhost/db"),
        ("postgres+psycopg2://user@localhost/db", "postgresql+asyncpg://user@localhost/db"),
        ("redis://localhost:6379/0", "Unsupported database 'redis'"),
        ("cockroachdb+asyncpg://u@h/db", "Unsupported database 'cockroachdb'"),
        ("postgresql+asyncpg://postgres@127.0.0.1:1/nothing", "Could not connect"),
    ],
)
def test_cli_bad_url_is_one_line(invoke: Invoke, url: str, fragment: str) -> None:
    assert_one_line_error(invoke("jobs", url=url), 1, fragment)


@pytest.mark.parametrize("args", [["job", "nope"], ["retry", "nope"], ["cancel", "nope"]])
def test_cli_unknown_job_id(invoke: Invoke, args: list[str]) -> None:
    assert_one_line_error(invoke(*args), 1, "No job has id 'nope'")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["enqueue", "t.job", "{nope"], "Invalid JSON"),
        (["enqueue", "t.job", "[1, 2]"], "must be a JSON object"),
        (["enqueue", "t.job", '"text"'], "must be a JSON object"),
        (["schedules", "add", "s", "t.job", "--every", "1m", "--data", "{"], "Invalid JSON"),
    ],
)
def test_cli_malformed_json(invoke: Invoke, args: list[str], fragment: str) -> None:
    assert_one_line_error(invoke(*args), 2, fragment, "--help")


@pytest.mark.parametrize(
    "args",
    [
        ["purge", "--older-than", "7x"],
        ["purge", "--older-than", "-1d"],
        ["purge", "--older-than", ""],
        ["enqueue", "t.job", "--delay", "soon"],
        ["schedules", "add", "s", "t.job", "--every", "1h30"],
    ],
)
def test_cli_bad_duration(invoke: Invoke, args: list[str]) -> None:
    assert_one_line_error(invoke(*args), 2, "Invalid duration")


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["jobs", "--status", "done"], 2, "'done' is not one of"),
        (["jobs", "--limit", "0"], 2, "--limit"),
        (["purge"], 2, "--older-than"),
        (["purge", "--older-than", "1d", "--status", "pending"], 2, "pending"),
        (["schedules", "add", "s", "t.job"], 2, "exactly one of --cron"),
        (
            ["schedules", "add", "s", "t.job", "--cron", "* * * * *", "--every", "1m"],
            2,
            "exactly one of --cron",
        ),
        (["schedules", "add", "s", "t.job", "--cron", "every day"], 1, "Invalid cron expression"),
        (["schedules", "add", "s", "t.job", "--every", "0"], 1, "positive number of seconds"),
        (["schedules", "enable", "ghost"], 1, "No schedule has id 'ghost'"),
        (["schedules", "disable", "ghost"], 1, "No schedule has id 'ghost'"),
        (["schedules", "delete", "ghost"], 1, "No schedule has id 'ghost'"),
        (["schedules", "run-now", "ghost"], 1, "No schedule has id 'ghost'"),
        (
            ["worker", "--import", "no_such_module_here", "--burst"],
            1,
            "Could not import 'no_such_module_here'",
        ),
        (["worker", "--concurrency", "0", "--burst"], 1, "concurrency must be a positive integer"),
        (["enqueue", "t.job", "--import", "no_such_module_here"], 1, "Could not import"),
        (["enqueue", "t.job", "--priority", "high"], 2, "not a valid integer"),
        (["frobnicate"], 2, "No such command"),
    ],
)
def test_cli_bad_arguments(invoke: Invoke, args: list[str], code: int, fragment: str) -> None:
    assert_one_line_error(invoke(*args), code, fragment)


def test_cli_duplicate_schedule(invoke: Invoke) -> None:
    assert invoke("schedules", "add", "dup", "t.job", "--every", "60").exit_code == 0
    assert_one_line_error(invoke("schedules", "add", "dup", "t.job", "--every", "60"), 1, "already exists")


def test_cli_module_that_raises_on_import(invoke: Invoke, workdir: object) -> None:
    from pathlib import Path

    (Path.cwd() / "broken_jobs.py").write_text("raise ZeroDivisionError('oops')\n")
    assert_one_line_error(invoke("worker", "-i", "broken_jobs", "--burst"), 1, "ZeroDivisionError: oops")


def test_cli_module_with_a_missing_dependency_says_so(invoke: Invoke, workdir: object) -> None:
    from pathlib import Path

    (Path.cwd() / "broken_dep_jobs.py").write_text("import no_such_dependency_xyz\n")
    result = invoke("worker", "-i", "broken_dep_jobs", "--burst")
    assert_one_line_error(result, 1, "Importing 'broken_dep_jobs'", "imports 'no_such_dependency_xyz'", "not installed")
    assert "Could not import" not in result.stderr  # it exists: not a "not found on the path" error


def test_cli_missing_submodule_of_an_existing_package_is_not_found(invoke: Invoke, workdir: object) -> None:
    from pathlib import Path

    (Path.cwd() / "pkg_without_jobs").mkdir()
    (Path.cwd() / "pkg_without_jobs" / "__init__.py").write_text("")
    result = invoke("worker", "-i", "pkg_without_jobs.jobs", "--burst")
    assert_one_line_error(result, 1, "Could not import 'pkg_without_jobs.jobs'")


def _commands(group: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    import click

    assert isinstance(group, click.Group)
    found = []
    for name, command in group.commands.items():
        found.append((*path, name))
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*path, name)))
    return found


@pytest.mark.parametrize("path", [(), *_commands(cli)], ids=lambda p: " ".join(p) or "dbjobq")
def test_cli_help_is_complete(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="dbjobq")
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: dbjobq")
    assert "..." not in result.stdout.replace("[ARGS]...", "").replace("...]", "").replace("MODULE...", "")
    command = cli
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    for param in command.params:
        for flag in getattr(param, "opts", []):
            if flag.startswith("-"):
                assert flag in result.stdout, (path, flag)
        if param.param_type_name == "option":
            assert param.help, (path, param.name)  # type: ignore[attr-defined]


def test_cli_top_level_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"], prog_name="dbjobq")
    for name in (
        "worker",
        "enqueue",
        "jobs",
        "job",
        "stats",
        "retry",
        "cancel",
        "purge",
        "schedules",
        "init-db",
    ):
        assert f"  {name} " in result.stdout
    assert "DBJOBQ_DATABASE_URL" in result.stdout


def test_cli_without_a_command_shows_help() -> None:
    result = CliRunner().invoke(cli, [], prog_name="dbjobq")
    assert result.exit_code == 2
    assert "Usage: dbjobq" in result.output
    assert "Commands:" in result.output


def test_cli_one_line_drops_sqlalchemy_links() -> None:
    from dbjobq.cli.main import one_line

    error = ValueError("(sqlite3.OperationalError) no\n(Background on this error at: https://sqlalche.me/e/20/e3q8)")
    assert one_line(error) == "(sqlite3.OperationalError) no"
    assert one_line(RuntimeError()) == "RuntimeError"
