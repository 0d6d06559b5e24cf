"""Virtual environments for the queues compared with DBJobQ, under ``bench/.venvs/<system>`` (gitignored).

Each other queue is installed with pip into its own virtualenv, never into the project's: the
benchmark needs their code, the project must not depend on it. DBJobQ itself runs from the
project's ``.venv`` (the code under test).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENVS = BENCH / ".venvs"

#: system -> pip requirements (pinned so runs compare like with like).
REQUIREMENTS: dict[str, list[str]] = {
    "pgqueuer": ["pgqueuer==1.6.0", "asyncpg"],
    "procrastinate": ["procrastinate==3.10.0", "psycopg[binary,pool]"],
    "dbjobq010": ["dbjobq==0.1.0", "sqlalchemy[asyncio]", "asyncpg", "aiosqlite"],
    # Celery's Redis broker (kombu + redis-py); gevent for W8, the pool Celery's docs name for I/O-bound tasks.
    "celery": ["celery[redis]==5.7.0", "gevent==26.9.0"],
    "saq": ["saq[postgres]==0.26.4"],
    "streaq": ["streaq==7.2.0"],
    # Not a queue: draws W10's plots (matplotlib stays out of the project's environment).
    "plot": ["matplotlib==3.11.2"],
}
#: Shared by every environment: the workload scripts use asyncpg to check rows and psutil for RSS.
COMMON = ["asyncpg", "psutil"]


def project_python() -> Path:
    """The interpreter of the project's .venv (runs the DBJobQ workloads)."""
    return ROOT / ".venv" / "bin" / "python"


def python_for(system: str) -> Path:
    """The interpreter a system's workloads run with; creates its virtualenv when missing."""
    if system.startswith("dbjobq") and system != "dbjobq010":
        return project_python()
    return ensure(system)


def ensure(system: str) -> Path:
    """Create ``bench/.venvs/<system>`` with the machine's python3 and install the system into it."""
    venv = VENVS / system
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    wanted = "\n".join(REQUIREMENTS[system] + COMMON)
    if stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"[bench] creating {venv} ({', '.join(REQUIREMENTS[system])})", file=sys.stderr, flush=True)
    base = "python3"
    subprocess.run([base, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *REQUIREMENTS[system], *COMMON], check=True)
    stamp.write_text(wanted)
    return python


if __name__ == "__main__":  # python -m bench.environments [system ...]
    for name in sys.argv[1:] or list(REQUIREMENTS):
        print(name, ensure(name))
