"""docs/troubleshooting.md quotes DBJobQ's errors exactly as Python prints them, and only real ones.

Each error line on the page (a ``text`` block line such as ``dbjobq.errors.StorageError: …``) is
produced here by doing what a user does wrong; a message changed in the code without the page, or a
page line no code produces, fails. Lines that come from elsewhere (the package index's dbjobq 0.1.0,
pip) are listed in ``ELSEWHERE``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import sqlite3
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import datetime
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import Any

import pytest

from dbjobq import JobQueue, Worker, declarations, job
from dbjobq.models import Schedule
from dbjobq.storage import SQLAlchemyStorage
from tests.docs.markdown_blocks import blocks

PAGE = Path(__file__).resolve().parents[2] / "docs" / "troubleshooting.md"
#: Page lines that DBJobQ 0.2 does not produce: the package index's 0.1.0 and pip print them.
ELSEWHERE = {
    "TypeError: 'NoneType' object is not callable",
    "TypeError: 'SQLAlchemyStorage' object does not support the asynchronous context manager protocol",
    "AttributeError: module 'dbjobq' has no attribute '__version__'",
    "ERROR: Could not find a version that satisfies the requirement dbjobq<0.3,>=0.2.0 (from dbjobq-django) "
    "(from versions: 0.1.0)",
}
_ERROR_LINE = re.compile(r"^(?:[\w.]+(?:Error|Exception)|ERROR|Error): ")
# The schema versions in that message change with the schema; the page shows one example.
_VERSIONS = re.compile(r"schema version \d+, newer than this dbjobq \(\d+\)")


def _normal(line: str) -> str:
    return _VERSIONS.sub("schema version N, newer than this dbjobq (M)", line)


def page_lines() -> set[str]:
    """The error lines quoted in the page's text blocks."""
    found = set()
    for block in blocks(PAGE):
        if block.language == "text":
            found |= {line.strip() for line in block.code.splitlines() if _ERROR_LINE.match(line.strip())}
    return found


@job(name="tests.docs.troubleshooting.ping")
async def ping(data: dict[str, Any]) -> str:
    """A registered job for the enqueue mistakes."""
    return "pong"


def send_report(data: dict[str, Any]) -> None:
    """Not decorated with @job: enqueueing it is the mistake."""


send_report.__module__ = "__main__"


def _printed(exc: BaseException) -> str:
    """The last line of the traceback Python would print."""
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


async def _raised(call: Callable[[], Any]) -> str:
    try:
        result = call()
        if isinstance(result, Awaitable):
            await result
    except Exception as exc:
        return _printed(exc)
    raise AssertionError(f"{call} raised nothing")


async def produced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Every error line the page documents, produced by making the mistake."""
    lines: set[str] = set()
    url = f"sqlite+aiosqlite:///{tmp_path / 'jobs.sqlite3'}"
    for bad in (
        "postgresql://app@db.internal/app",
        "sqlite:///jobs.sqlite3",
        "mssql+aioodbc://app@db.internal/app",
        "jobs.sqlite3",
    ):
        lines.add(await _raised(lambda bad=bad: SQLAlchemyStorage(bad)))  # type: ignore[misc]

    real_find_spec = importlib.util.find_spec

    def without_asyncpg(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if name == "asyncpg" else real_find_spec(name, package)

    with monkeypatch.context() as patched:
        patched.setattr(importlib.util, "find_spec", without_asyncpg)
        lines.add(await _raised(lambda: SQLAlchemyStorage("postgresql+asyncpg://app@db.internal/app")))

    assert not Path("/srv/app/data").exists()
    lines.add(await _raised(SQLAlchemyStorage("sqlite+aiosqlite:////srv/app/data/jobs.sqlite3").initialize))
    lines.add(await _raised(lambda: SQLAlchemyStorage(url).get_job("x")))
    closed = SQLAlchemyStorage(url)
    await closed.initialize()
    await closed.close()
    lines.add(await _raised(lambda: closed.get_job("x")))

    async with SQLAlchemyStorage(url) as storage:
        queue = JobQueue(storage)
        lines.add(await _raised(lambda: queue.enqueue(send_report)))
        lines.add(await _raised(lambda: queue.enqueue(ping, {"when": datetime(2026, 1, 5)})))
        lines.add(await _raised(lambda: queue.enqueue(ping, [1, 2])))  # type: ignore[arg-type]
        lines.add(await _raised(lambda: queue.enqueue(ping, delay=-5)))
        lines.add(await _raised(lambda: queue.list_jobs(status="done")))

        nightly = Schedule(
            id="nightly",
            job_type="tests.docs.troubleshooting.ping",
            job_data={},
            schedule_type="cron",
            schedule_expression="every day at 3",
            next_run=time.time() + 3600,
        )
        lines.add(await _raised(lambda: storage.create_schedule(nightly)))
        nightly.schedule_expression = "0 3 * * *"
        await storage.create_schedule(nightly)
        lines.add(await _raised(lambda: storage.create_schedule(nightly)))
        lines |= _schedule_declaration_lines()

        job_id = await queue.enqueue("tasks.send_email", {})
        # A worker leaves a job of a type it did not register pending; dequeue() takes any type.
        await Worker(queue, poll_interval=0.05).run(burst=True)
        claimed = await queue.dequeue()
        assert claimed is not None and claimed.id == job_id
        await queue.execute_job(claimed)
        stored = await queue.get_job(job_id)
        assert stored is not None and stored.status == "failed" and stored.attempts == 1
        lines.add((stored.error or "").splitlines()[0])

        lines.add(await _raised(lambda: Worker(queue, heartbeat_interval=30)))
        once = Worker(queue)
        await once.start()
        await once.stop()
        lines.add(await _raised(once.start))

        lines.add(await _raised(lambda: queue.retry_jobs("pending")))
        lines.add(await _raised(lambda: queue.cancel_jobs("completed")))

    db = sqlite3.connect(tmp_path / "jobs.sqlite3")
    with db:
        db.execute("UPDATE dbjobq_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'schema_version'")
    db.close()
    newer = SQLAlchemyStorage(url)
    try:
        lines.add(await _raised(newer.initialize))
    finally:
        await newer.close()

    lines |= _framework_lines()
    return lines


def _schedule_declaration_lines() -> set[str]:
    """A bad time zone, a settings entry without a timetable, one id declared twice."""
    saved = dict(declarations._declared)
    lines = set()
    try:
        for call in (
            lambda: job(name="myapp.jobs.nightly", cron="0 3 * * *", tz="Europe/Pari"),
            lambda: declarations.parse({"nightly": {"job": "myapp.jobs.report"}}, "DBJOBQ['SCHEDULES']"),
        ):
            try:
                call()
            except ValueError as exc:
                lines.add(_printed(exc).replace("@job() of myapp.jobs.nightly: schedule 'myapp.jobs.nightly': ", ""))
        settings = {"myapp.jobs.nightly": {"job": "myapp.jobs.nightly", "every": 60}}
        declarations.declare_source("DBJOBQ['SCHEDULES']", declarations.parse(settings, "DBJOBQ['SCHEDULES']"))
        try:
            job(name="myapp.jobs.nightly", cron="0 3 * * *")(lambda data: None)  # the same id, another timetable
        except ValueError as exc:
            lines.add(_printed(exc))
    finally:
        declarations._declared.clear()
        declarations._declared.update(saved)
    return lines


def _cli_lines(tmp_path: Path) -> set[str]:
    """The ``Error:`` lines of the command line's questions and selections (outside any event loop)."""
    from click.testing import CliRunner

    from dbjobq.cli import cli

    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"
    assert CliRunner().invoke(cli, ["--url", url, "enqueue", "x.y", "--queue", "emails"]).exit_code == 0
    lines = set()
    async def code_schedule() -> None:
        async with SQLAlchemyStorage(url) as storage:
            await storage.create_schedule(
                Schedule("nightly", "myapp.jobs.report", {}, "cron", "0 3 * * *", time.time() + 60, origin="code")
            )

    asyncio.run(code_schedule())
    for args, answer in (
        (["cancel", "--queue", "emails"], "n\n"),
        (["cancel", "--queue", "emails"], None),
        (["retry"], None),
        (["schedules", "update", "nightly", "--priority", "1"], None),
    ):
        result = CliRunner().invoke(cli, ["--url", url, *args], input=answer, prog_name="dbjobq")
        assert result.exit_code != 0, result.output
        lines.add(result.stderr.strip().splitlines()[-1])
    return lines


def _framework_lines() -> set[str]:
    from flask import Flask

    from dbjobq_fastapi import DBJobQ as FastAPIJobQ
    from dbjobq_flask import DBJobQ as FlaskJobQ

    lines = set()
    jobq = FlaskJobQ()
    app = Flask("shop")
    try:
        jobq.enqueue("tasks.send_email")
    except RuntimeError as exc:
        lines.add(_printed(exc))
    with app.app_context():
        try:
            jobq.enqueue("tasks.send_email")
        except RuntimeError as exc:
            lines.add(_printed(exc))
    try:
        FastAPIJobQ("sqlite+aiosqlite:///jobs.sqlite3").queue  # noqa: B018
    except Exception as exc:
        lines.add(_printed(exc))
    return lines


def test_troubleshooting_page_quotes_real_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    made = {_normal(line) for line in asyncio.run(produced(tmp_path, monkeypatch)) | _cli_lines(tmp_path)}
    quoted = {_normal(line) for line in page_lines() - ELSEWHERE}
    assert sorted(made - quoted) == [], "errors the page shows differently (update docs/troubleshooting.md)"
    assert sorted(quoted - made) == [], "page lines no code produces (fix them, or list them in ELSEWHERE)"


def test_troubleshooting_page_lines_from_elsewhere_are_on_it() -> None:
    assert page_lines() >= ELSEWHERE
