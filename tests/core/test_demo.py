"""`make demo` tells its story: a summary that adds up, why jobs failed, and how to look around."""

from __future__ import annotations

import re
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.py"
EQUATION = re.compile(r"(\d+) enqueued \+ (\d+) scheduled = (\d+) completed \+ (\d+) failed")

pytestmark = pytest.mark.slow


def test_demo_summary_adds_up_and_explains_how_to_look_around(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(DEMO), "demo.sqlite3"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout

    match = EQUATION.search(out)
    assert match, out
    enqueued, scheduled, completed, failed = map(int, match.groups())
    assert enqueued == 458 and scheduled >= 1
    assert enqueued + scheduled == completed + failed
    db = sqlite3.connect(tmp_path / "demo.sqlite3")
    try:
        statuses = dict(db.execute("SELECT status, count(*) FROM dbjobq_jobs GROUP BY status").fetchall())
        [(reports,)] = db.execute("SELECT count(*) FROM dbjobq_jobs WHERE type LIKE '%heartbeat_report'").fetchall()
    finally:
        db.close()
    assert statuses == {"completed": completed, "failed": failed}  # nothing left pending or running
    assert reports == scheduled

    # The failures are explained as deliberate, with the error they keep.
    assert f"The {failed} failures are deliberate" in out
    assert "ValueError: invoice INV-0 has no total" in out

    # The closing commands run as printed, on the demo's database, and the file to read is named.
    commands = [line.strip() for line in out.splitlines() if "--url sqlite+aiosqlite:///demo.sqlite3" in line]
    subcommands = [args[args.index("--url") + 2] for args in map(shlex.split, commands)]
    assert subcommands == ["jobs", "job", "stats"], commands
    results = [
        subprocess.run(shlex.split(c), cwd=tmp_path, capture_output=True, text=True, timeout=60) for c in commands
    ]
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    jobs_table, one_job, stats = (r.stdout for r in results)
    assert jobs_table.count("failed") >= failed
    assert "ValueError: invoice" in one_job and "Traceback" in one_job
    assert "completed" in stats
    assert "examples/demo.py" in out
