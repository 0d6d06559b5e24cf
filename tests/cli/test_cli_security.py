"""The command line never shows a password, never lets stored text drive the terminal, and never
imports a planted module from the current directory ahead of the installed ones."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy.engine import make_url

from dbjobq import JobQueue, job
from dbjobq.models import Schedule
from dbjobq.storage import SQLAlchemyStorage
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


#: Stored text that would drive a terminal: clear screen, retitle, colour, a one-byte CSI, a bidi
#: override; and rich markup, which must print literally.
EVIL = "\x1b[2J\x1b]0;pwned\x07\x1b[31m\x9b7m\u202e[bold red]x[/]"


@job(name="tests.cli.evil_failure")
def evil_failure(data: dict[str, Any]) -> None:
    raise RuntimeError(data["message"])


def assert_inert(text: str) -> None:
    for raw in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert raw not in text, (raw, text)


def test_cli_security_stored_text_is_escaped(invoke: Invoke, db_url: str, queue_name: str) -> None:
    evil_queue = f"{queue_name}{EVIL}"[:64]
    evil_worker = f"w{EVIL}"

    async def setup() -> str:
        async with SQLAlchemyStorage(db_url) as storage:
            queue = JobQueue(storage)
            await queue.enqueue(f"app.jobs.type{EVIL}", {"note": EVIL}, queue=evil_queue)
            failing = await queue.enqueue(evil_failure, {"message": f"bad input {EVIL}"}, queue=evil_queue, priority=9)
            [claimed] = await storage.claim_jobs(1, worker_id=evil_worker, lease_timeout=60, queues=[evil_queue])
            assert claimed.id == failing
            await queue.execute_job(claimed)
            await storage.register_worker(evil_worker, queues=[evil_queue], concurrency=1)
            await storage.create_schedule(
                Schedule(
                    id=f"{queue_name}{EVIL}",
                    job_type=f"app.jobs.type{EVIL}",
                    job_data={},
                    schedule_type="interval",
                    schedule_expression="60",
                    next_run=time.time() + 60,
                    queue=evil_queue,
                )
            )
            return failing

    failing = asyncio.run(setup())
    outputs = {
        "jobs": invoke("jobs", "--queue", evil_queue),
        "job": invoke("job", failing),
        "stats": invoke("stats"),
        "schedules": invoke("schedules", "list"),
        "jobs --json": invoke("jobs", "--queue", evil_queue, "--json"),
        "job --json": invoke("job", failing, "--json"),
    }
    for name, result in outputs.items():
        assert result.exit_code == 0, (name, result.output, result.exception)
        assert_inert(result.output)
    shown = outputs["job"].output
    assert "RuntimeError: bad input \\x1b[2J\\x1b]0;pwned\\x07" in shown  # visible, not executed
    assert "\\u202e[bold red]x[/]" in shown  # rich markup printed as text
    assert "w\\x1b[2J" in shown  # the worker id
    assert "Traceback (most recent call last):\n" in shown  # the traceback keeps its lines
    assert "\\x1b[2J" in outputs["jobs"].output and "\\x1b[2J" in outputs["schedules"].output
    assert "w\\x1b[2J" in outputs["stats"].output


def test_cli_security_error_lines_and_logs_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from dbjobq.cli.main import one_line
    from dbjobq.cli.terminal import EscapingFormatter

    assert_inert(one_line(ValueError(f"No job has id {EVIL}")))
    record = logging.LogRecord("dbjobq.worker", logging.ERROR, __file__, 1, "Job failed: %s", (EVIL,), None)
    assert_inert(EscapingFormatter("%(message)s").format(record))


@pytest.mark.databases("postgresql")
def test_cli_security_web_masks_query_password(invoke: Invoke, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    async def no_serving(self: object) -> None:
        return None

    monkeypatch.setattr(uvicorn.Server, "serve", no_serving)
    url = make_url(db_url).update_query_dict({"password": SECRET}).render_as_string(hide_password=False)
    result = invoke("web", url=url)
    assert result.exit_code == 0, result.output
    assert "Opening postgresql+asyncpg://" in result.stdout and "password=***" in result.stdout
    assert_no_secret(result)
