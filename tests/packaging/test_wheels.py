"""`make dist` builds the four distributions; `make install-wheels` installs them in a fresh virtualenv.

This is what a user gets without the checkout, so it runs in `make test` although it takes ~30 s:
one build (the .venv's hatchling, no download), one virtualenv, and the third-party dependencies
from the package index. Those come through pip's cache, which `make .venv/.installed` has just filled
with the same wheels; the DBJobQ distributions themselves are always built from the current sources.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

import dbjobq

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install_wheels.sh"
VERSION = dbjobq.__version__
#: distribution file name prefix -> import package
DISTRIBUTIONS = {
    "dbjobq": "dbjobq",
    "dbjobq_django": "dbjobq_django",
    "dbjobq_flask": "dbjobq_flask",
    "dbjobq_fastapi": "dbjobq_fastapi",
}

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    """A user's shell: no virtualenv active, nothing of this test session on the path."""
    drop = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "DJANGO_SETTINGS_MODULE")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PYTEST_")}
    env["PIP_NO_COMPILE"] = "1"  # bytecode for ~40 packages is a third of the install time, and tests nothing
    return env


def _run(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """``make install-wheels`` once for the module: (the dist directory, the new virtualenv)."""
    base = tmp_path_factory.mktemp("wheels")
    dist, venv = base / "dist", base / "venv"
    bin_dir = Path(sys.executable).parent  # this session's environment runs `python -m build` and twine
    # -o: the .venv is the one running these tests; a stale stamp must not make a test reinstall it.
    _run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "install-wheels",
         f"INTO={venv}", f"DIST={dist}", f"BIN={bin_dir}", f"PYTHON={sys.executable}"],
        cwd=ROOT,
    )  # fmt: skip
    yield dist, venv


def _metadata(wheel: Path) -> dict[str, list[str]]:
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        message = Parser().parsestr(archive.read(name).decode())
    return {key: message.get_all(key) or [] for key in ("Name", "Version", "Requires-Dist")}


def test_wheels_dist_holds_four_wheels_and_sdists(installed: tuple[Path, Path]) -> None:
    dist, _ = installed
    expected = {f"{prefix}-{VERSION}-py3-none-any.whl" for prefix in DISTRIBUTIONS}
    expected |= {f"{prefix}-{VERSION}.tar.gz" for prefix in DISTRIBUTIONS}
    assert {p.name for p in dist.iterdir()} == expected
    for prefix, package in DISTRIBUTIONS.items():
        with zipfile.ZipFile(dist / f"{prefix}-{VERSION}-py3-none-any.whl") as wheel:
            assert f"{package}/py.typed" in wheel.namelist()
        with tarfile.open(dist / f"{prefix}-{VERSION}.tar.gz") as sdist:
            names = sdist.getnames()
            assert f"{prefix}-{VERSION}/pyproject.toml" in names and f"{prefix}-{VERSION}/README.md" in names


def test_wheels_adapters_require_the_core_of_the_same_minor_version(installed: tuple[Path, Path]) -> None:
    dist, _ = installed
    version = Version(VERSION)
    next_minor = f"{version.major}.{version.minor + 1}.0"
    for prefix in ("dbjobq_django", "dbjobq_flask", "dbjobq_fastapi"):
        metadata = _metadata(dist / f"{prefix}-{VERSION}-py3-none-any.whl")
        assert metadata["Version"] == [VERSION]
        [core] = [Requirement(r) for r in metadata["Requires-Dist"] if Requirement(r).name == "dbjobq"]
        assert core.specifier.contains(VERSION), core
        assert not core.specifier.contains(next_minor), f"{prefix} accepts dbjobq {next_minor}: {core}"
        assert not core.specifier.contains("0.1.0"), f"{prefix} accepts the package index's old dbjobq: {core}"


def test_wheels_install_in_a_fresh_virtualenv_and_run(installed: tuple[Path, Path], tmp_path: Path) -> None:
    _, venv = installed
    python = venv / "bin" / "python"
    packages = ", ".join(DISTRIBUTIONS.values())
    script = f"import {packages}\nprint(dbjobq.__version__)\nfor m in ({packages}):\n    print(m.__file__)\n"
    where = _run([str(python), "-c", script], cwd=tmp_path).stdout.split()
    assert where[0] == VERSION
    site = str(venv.resolve())
    assert all(str(Path(f).resolve()).startswith(site) for f in where[1:]), where  # not the checkout's

    dbjobq_command = str(venv / "bin" / "dbjobq")
    assert "Usage: dbjobq" in _run([dbjobq_command, "--help"], cwd=tmp_path).stdout
    assert "--port" in _run([dbjobq_command, "web", "--help"], cwd=tmp_path).stdout  # the [web] extra
    _run([str(python), "-c", "import dbjobq.web"], cwd=tmp_path)

    # The installed command runs a job end to end on SQLite (the core's default driver).
    tasks = 'from dbjobq import job\n\n\n@job()\ndef hello(data):\n    return data["name"]\n'
    (tmp_path / "tasks.py").write_text(tasks)
    url = ["--url", f"sqlite+aiosqlite:///{tmp_path / 'jobs.sqlite3'}"]
    job_id = _run([dbjobq_command, *url, "enqueue", "tasks.hello", '{"name": "ada"}'], cwd=tmp_path).stdout.strip()
    _run([dbjobq_command, *url, "worker", "--import", "tasks", "--burst"], cwd=tmp_path)
    shown = json.loads(_run([dbjobq_command, *url, "job", job_id, "--json"], cwd=tmp_path).stdout)
    assert (shown["status"], shown["result"]) == ("completed", "ada"), shown


def test_wheels_install_script_refuses_an_existing_virtualenv(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    for prefix in DISTRIBUTIONS:
        (dist / f"{prefix}-{VERSION}-py3-none-any.whl").touch()
    (tmp_path / "venv").mkdir()
    done = subprocess.run([str(SCRIPT), str(tmp_path / "venv"), str(dist)], capture_output=True, text=True)
    assert done.returncode == 1
    assert "already exists" in done.stderr and "venv" in done.stderr


def test_wheels_install_script_says_to_build_first(tmp_path: Path) -> None:
    done = subprocess.run([str(SCRIPT), str(tmp_path / "venv"), str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 1
    assert "run 'make dist' first" in done.stderr
    assert not (tmp_path / "venv").exists()
