"""docs/fastapi.md: every code block runs, and does what the page says.

(tests/docs runs the page's blocks in order as one script; here each block is checked for its effect:
blocks after the quick start run as its continuation, and the testing block imports it as ``app``.)
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import shlex
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from dbjobq import JobQueue, JobStatus
from dbjobq.storage import SQLAlchemyStorage
from dbjobq_fastapi import get_queue
from tests.fastapi.conftest import serve
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "fastapi.md").read_text()
BLOCKS = re.findall(r"^```(\w+)\n(.*?)^```", PAGE, re.MULTILINE | re.DOTALL)
PYTHON = [code for lang, code in BLOCKS if lang == "python"]
BASH = [code for lang, code in BLOCKS if lang == "bash"]
QUICKSTART, NESTED, WRAPPED, DEPENDENCIES, AUTH, PRODUCTION, TESTING, EAGER = PYTHON
INSTALL, SERVE, WORKERS = BASH
ADMIN = {"X-Admin-Token": "change-me"}


@pytest.fixture
def app_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The quick start's ``app.py``, written to a fresh directory (its SQLite file goes there) and
    imported as ``app``, which the other blocks import from."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    path = tmp_path / "app.py"
    path.write_text(QUICKSTART)
    spec = importlib.util.spec_from_file_location("app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "app", module)
    spec.loader.exec_module(module)
    return module


def run_block(code: str, name: str, after: ModuleType | dict[str, Any] | None = None) -> dict[str, Any]:
    """Run a block in a fresh namespace, or as a continuation of ``after`` (a module or namespace)."""
    before = vars(after) if isinstance(after, ModuleType) else after or {}
    namespace: dict[str, Any] = {**before, "__name__": name}
    exec(compile(code, f"docs/fastapi.md:{name}", "exec"), namespace)
    return namespace


async def job_completed(client: httpx.AsyncClient, url: str) -> bool:
    return bool((await client.get(url, headers=ADMIN)).json()["status"] == "completed")


def test_docs_blocks_are_all_covered() -> None:
    assert len(PYTHON) == 8 and len(BASH) == 3, "a block was added: exercise it here"


async def test_docs_quickstart_runs_the_job(app_module: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    async with serve(app_module.app) as client:
        response = await client.post("/signup", params={"email": "ada@example.com"})
        assert response.status_code == 202
        await wait_until(lambda: job_completed(client, f"/dbjobq/jobs/{response.json()['job_id']}"))
        assert (await client.get("/docs")).status_code == 200
        assert "/dbjobq/jobs" in (await client.get("/openapi.json")).json()["paths"]
        assert (await client.get("/dbjobq/jobs")).status_code == 401  # the quick start shows the guard
    assert "Welcome, ada@example.com!" in capsys.readouterr().out


async def test_docs_nested_lifespan(app_module: ModuleType) -> None:
    app: FastAPI = run_block(NESTED, "docs_nested", after=app_module)["app"]

    @app.get("/state")
    async def state(request: Request) -> dict[str, Any]:
        jobs = await get_queue(request).list_jobs()
        return {"started_by": request.state.started_by, "emails": [job.data["email"] for job in jobs]}

    async with serve(app) as client:
        assert (await client.get("/state")).json() == {"started_by": "me", "emails": ["ops@example.com"]}


async def test_docs_wrapped_lifespan(app_module: ModuleType) -> None:
    app: FastAPI = run_block(WRAPPED, "docs_wrapped", after=run_block(NESTED, "docs_nested", after=app_module))["app"]

    @app.get("/state")
    async def state(request: Request) -> dict[str, Any]:
        same_queue = get_queue(request) is app_module.jobq.queue
        return {"pending": request.state.pending_at_startup, "queue": same_queue}

    async with serve(app) as client:
        assert (await client.get("/state")).json() == {"pending": 0, "queue": True}


async def test_docs_dependencies(app_module: ModuleType) -> None:
    namespace = run_block(DEPENDENCIES, "docs_dependencies", after=app_module)
    app = FastAPI(lifespan=app_module.jobq.lifespan)
    app.include_router(namespace["router"])
    async with serve(app) as client:
        job_id = (await client.post("/emails", params={"email": "bo@example.com"})).json()["job_id"]
        assert (await client.get(f"/emails/{job_id}")).json() == {"status": "pending", "attempts": 0}
        assert (await client.get("/emails/nope")).status_code == 404


async def test_docs_auth(app_module: ModuleType) -> None:
    namespace = run_block(AUTH, "docs_auth")
    async with serve(namespace["app"]) as client:
        job_id = await namespace["jobq"].queue.enqueue("app.send_welcome_email", {"email": "x@example.com"})
        assert (await client.get("/admin/dbjobq/jobs")).status_code == 401
        assert (await client.get("/admin/dbjobq/jobs", headers={"X-Admin-Token": "no"})).status_code == 403
        page = (await client.get("/admin/dbjobq/jobs", params={"count": True}, headers=ADMIN)).json()
        assert page["total"] == 1
        assert (await client.post(f"/admin/dbjobq/jobs/{job_id}/cancel")).status_code == 401
        response = await client.post(f"/admin/dbjobq/jobs/{job_id}/cancel", headers=ADMIN)
        assert response.status_code == 200 and response.json()["status"] == "cancelled"


async def test_docs_production_settings(app_module: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBJOBQ_DATABASE_URL", "sqlite+aiosqlite:///web.sqlite3")
    monkeypatch.delenv("DBJOBQ_RUN_WORKER", raising=False)
    namespace = run_block(PRODUCTION, "docs_production")
    jobq = namespace["jobq"]
    async with serve(namespace["app"]):
        assert jobq.worker is None and jobq.worker_options == {"concurrency": 4}
        assert str(jobq.queue.storage.url) == "sqlite+aiosqlite:///web.sqlite3"
    monkeypatch.setenv("DBJOBQ_RUN_WORKER", "1")
    jobq = run_block(PRODUCTION, "docs_production")["jobq"]
    async with serve(FastAPI(lifespan=jobq.lifespan)):
        assert jobq.worker is not None and jobq.worker.concurrency == 4


async def test_docs_testing_example(app_module: ModuleType) -> None:
    await run_block(TESTING, "docs_testing")["test_signup_enqueues_a_welcome_email"]()


async def test_docs_eager_testing_example(app_module: ModuleType) -> None:
    await run_block(EAGER, "docs_eager")["test_signup_sends_the_welcome_email_at_once"]()


def test_docs_install_names_real_distributions() -> None:
    command = shlex.split(INSTALL)
    assert command[:2] == ["pip", "install"] and command[-1] == "uvicorn"
    projects = [ROOT / path / "pyproject.toml" for path in command[2:-1]]  # the checkout's core and adapter
    names = {name for p in projects for name in re.findall(r'^name = "(.+)"$', p.read_text(), re.M)}
    assert names == {"dbjobq", "dbjobq-fastapi"}


async def test_docs_serve_block_commands(app_module: ModuleType) -> None:
    """`uvicorn app:app` names the quick start's app; each curl works against it."""
    lines = [shlex.split(line) for line in SERVE.strip().splitlines()]
    assert lines[0] == ["uvicorn", "app:app"]
    async with serve(app_module.app) as client:
        for argv in lines[1:]:
            assert argv[0] == "curl"
            method = argv[argv.index("-X") + 1] if "-X" in argv else "GET"
            headers = dict([argv[argv.index("-H") + 1].split(": ", 1)]) if "-H" in argv else {}
            response = await client.request(method, "/" + argv[-1].split("/", 1)[1], headers=headers)
            assert response.status_code < 300, (argv, response.text)


@pytest.mark.slow
async def test_docs_worker_commands_run_the_apps_jobs(app_module: ModuleType, tmp_path: Path) -> None:
    """Each `dbjobq worker` line of the production section, on a SQLite file instead of the server."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'jobs.sqlite3'}"
    async with SQLAlchemyStorage(url) as storage:
        queue = JobQueue(storage)
        job_id = await queue.enqueue(app_module.send_welcome_email, {"email": "w@example.com"})
        commands = [shlex.split(line) for line in WORKERS.strip().splitlines() if line.startswith("dbjobq ")]
        assert len(commands) == 2
        for argv in commands:
            process = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).with_name("dbjobq")),
                *argv[1:],
                "--burst",
                cwd=tmp_path,
                env={**os.environ, "DBJOBQ_DATABASE_URL": url},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            output, _ = await asyncio.wait_for(process.communicate(), 60)
            assert process.returncode == 0, output.decode()
        job = await queue.get_job(job_id)
        assert job is not None and job.status == JobStatus.COMPLETED
