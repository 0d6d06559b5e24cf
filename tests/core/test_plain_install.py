"""``pip install dbjobq`` without extras imports and runs on SQLite; server drivers load only for their URLs.

The project's own ``.venv`` has every extra installed, which would hide an import of a server driver,
so the main test runs in ``.venv-plain``: a virtualenv holding only the core's declared dependencies
(``pip install -e ./dbjobq_core``, no extras), created on first use and reused while
``dbjobq_core/pyproject.toml`` stays the same.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "dbjobq_core"
PLAIN_VENV = ROOT / ".venv-plain"
README = ROOT / "README.md"

pytestmark = pytest.mark.slow


def _wanted_stamp() -> str:
    declared = (CORE / "pyproject.toml").read_bytes()
    return f"{sys.version_info[:2]} {hashlib.sha256(declared).hexdigest()}"


@pytest.fixture(scope="module")
def plain_python() -> Path:
    """The interpreter of a virtualenv with dbjobq and only its declared dependencies."""
    python = PLAIN_VENV / "bin" / "python"
    stamp = PLAIN_VENV / ".installed"
    if not (stamp.exists() and stamp.read_text() == _wanted_stamp() and python.exists()):
        shutil.rmtree(PLAIN_VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(PLAIN_VENV)], check=True, timeout=300)
        # Editable, so the code under test is this checkout's without reinstalling on every change.
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", str(CORE)],
            check=True,
            timeout=600,
        )
        stamp.write_text(_wanted_stamp())
    return python


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DBJOBQ_DATABASE_URL")}
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, env={**environment, **env})


def test_plain_install_has_no_server_driver(plain_python: Path, tmp_path: Path) -> None:
    done = _run([str(plain_python), "-c", "import asyncpg"], tmp_path)
    assert done.returncode != 0, "asyncpg is installed: this environment would not catch a driver import"
    done = _run([str(plain_python), "-c", "import aiomysql"], tmp_path)
    assert done.returncode != 0


def test_plain_install_imports_every_public_module(plain_python: Path, tmp_path: Path) -> None:
    script = "import dbjobq, dbjobq.storage, dbjobq.cli, dbjobq.models, dbjobq.integration; print('ok')"
    done = _run([str(plain_python), "-c", script], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_plain_install_runs_the_readme_quickstart_on_sqlite(plain_python: Path, tmp_path: Path) -> None:
    [block] = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    (tmp_path / "quickstart.py").write_text(block)
    done = _run([str(plain_python), "quickstart.py"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Welcome, ada@example.com!" in done.stdout and "completed" in done.stdout


def test_plain_install_cli_help_and_sqlite_commands(plain_python: Path, tmp_path: Path) -> None:
    dbjobq = str(plain_python.parent / "dbjobq")
    done = _run([dbjobq, "--help"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Usage: dbjobq" in done.stdout
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"
    done = _run([dbjobq, "--url", url, "enqueue", "myapp.jobs.hello", '{"n": 1}'], tmp_path)
    assert done.returncode == 0, done.stderr
    done = _run([dbjobq, "--url", url, "stats", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert '"pending": 1' in done.stdout


@pytest.mark.parametrize(
    ("url", "extra"),
    [
        ("postgresql+asyncpg://app@127.0.0.1/app", "dbjobq[postgres]"),
        ("mysql+aiomysql://app@127.0.0.1/app", "dbjobq[mysql]"),
    ],
)
def test_plain_install_server_url_names_the_extra(plain_python: Path, tmp_path: Path, url: str, extra: str) -> None:
    script = textwrap.dedent(
        f"""
        from dbjobq import ConfigurationError
        from dbjobq.storage import SQLAlchemyStorage
        try:
            SQLAlchemyStorage({url!r})
        except ConfigurationError as exc:
            print(exc)
        """
    )
    done = _run([str(plain_python), "-c", script], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "pip install" in done.stdout and extra in done.stdout
    done = _run([str(plain_python.parent / "dbjobq"), "--url", url, "jobs"], tmp_path)
    assert done.returncode != 0
    [line] = done.stderr.strip().splitlines()  # one line, no traceback
    assert "pip install" in line and extra in line


def test_plain_install_importing_loads_no_driver(tmp_path: Path) -> None:
    """In the full environment too: importing DBJobQ (PostgreSQL's dialect module included) and opening
    SQLite imports neither server driver."""
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        import dbjobq, dbjobq.cli, dbjobq.integration
        import dbjobq.storage.dialects.postgresql  # the statements; asyncpg loads with the hot path
        from dbjobq.storage import SQLAlchemyStorage

        async def main():
            async with SQLAlchemyStorage("sqlite+aiosqlite:///{tmp_path / "jobs.sqlite3"}") as storage:
                await dbjobq.JobQueue(storage).enqueue("t.job")
        asyncio.run(main())
        print(sorted(name for name in ("asyncpg", "aiomysql", "pymysql") if name in sys.modules))
        """
    )
    done = _run([sys.executable, "-c", script], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
