"""Fixtures for the command-line tests: a jobs module on disk, a unique queue, and CLI runners."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dbjobq.cli import cli

#: The installed console script (``python -m dbjobq.cli`` when the venv has none).
DBJOBQ = Path(sys.executable).with_name("dbjobq")

JOBS_MODULE = textwrap.dedent(
    """
    import asyncio
    import pathlib

    from dbjobq import job


    @job()
    def hello(data):
        return {"greeting": "hello " + data.get("name", "world")}


    @job()
    def boom(data):
        raise RuntimeError("kaboom")


    @job()
    async def nap(data):
        pathlib.Path(data["flag"]).write_text("started")
        await asyncio.sleep(data["seconds"])
        return "rested"
    """
)

Cli = Callable[..., subprocess.CompletedProcess[str]]
Invoke = Callable[..., Result]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A current directory holding ``cli_jobs.py``."""
    (tmp_path / "cli_jobs.py").write_text(JOBS_MODULE)
    return tmp_path


@pytest.fixture
def queue_name() -> str:
    """A queue of the test's own: the server databases are shared by the whole session."""
    return f"q{uuid.uuid4().hex[:12]}"


def command() -> list[str]:
    """How to start the CLI in a subprocess."""
    return [str(DBJOBQ)] if DBJOBQ.exists() else [sys.executable, "-m", "dbjobq.cli"]


@pytest.fixture
def run_cli(workdir: Path, db_url: str) -> Cli:
    """Run ``dbjobq ARGS…`` in a subprocess in ``workdir`` against ``db_url`` (given by environment)."""

    def run(*args: str, check: bool = True, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DBJOBQ_DATABASE_URL": db_url}
        proc = subprocess.run(
            [*command(), *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"dbjobq {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
        return proc

    return run


@pytest.fixture
def invoke(db_url: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run the CLI in-process with click's runner (quick: for everything a subprocess adds nothing to)."""
    monkeypatch.chdir(workdir)
    runner = CliRunner()

    def run(*args: str, input: str | None = None, url: str | None = db_url) -> Result:
        full: Sequence[str] = ["--url", url, *args] if url is not None else list(args)
        return runner.invoke(cli, list(full), prog_name="dbjobq", input=input)

    return run
