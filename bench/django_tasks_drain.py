"""Django Tasks side by side: one worker process drains 5,000 no-op ``@task`` runs, DBJobQ's
``manage.py runworker`` vs django-tasks-db's ``manage.py db_worker``, on PostgreSQL and SQLite.

    .venv/bin/python -m bench.django_tasks_drain [--tasks 5000] [--databases postgresql sqlite] [--runs 3]

Both run the same throw-away Django project (``bench/.work/django_tasks/``) with Django 5.2 and the
django-tasks backport, on a fresh database per run; only ``TASKS`` and ``INSTALLED_APPS`` differ.
DBJobQ runs from the project's ``.venv``; django-tasks-db is installed into
``bench/.venvs/django-tasks-db`` only (never a dependency of the project). Per run: the tasks are
enqueued with ``task.enqueue()`` in one transaction, then the worker command is started and timed
until it exits (``--burst`` / ``--batch``: both stop once nothing is left), then the database is
checked: every task SUCCESSFUL. ``drain`` is the worker command's wall time (process start
included, the same for both); ``tasks/s`` counts from the first task's start to the last one's end,
as the database recorded them. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import databases
from bench.environments import ROOT, VENVS

WORK = ROOT / "bench" / ".work" / "django_tasks"
DTDB_VENV = VENVS / "django-tasks-db"
DTDB_REQUIREMENTS = ["django>=5.2,<5.3", "django-tasks==0.12.0", "django-tasks-db==0.13.0", "psycopg[binary]"]

SETTINGS = '''
import os
SYSTEM = os.environ["BENCH_SYSTEM"]
URL = os.environ["BENCH_DATABASE_URL"]
SECRET_KEY = "bench"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
if URL.startswith("sqlite"):
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": URL.split("///", 1)[1],
                             "OPTIONS": {"timeout": 30}}}
else:
    from urllib.parse import urlsplit
    parts = urlsplit(URL)
    DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": parts.path.lstrip("/"),
                             "USER": parts.username or "", "HOST": parts.hostname, "PORT": str(parts.port or 5432)}}
if os.environ.get("BENCH_CONN_MAX_AGE"):
    DATABASES["default"]["CONN_MAX_AGE"] = None  # persistent connections (Django's default is 0)
if SYSTEM == "dbjobq":
    INSTALLED_APPS = ["dbjobq_django", "benchapp"]
    TASKS = {"default": {"BACKEND": "dbjobq_django.tasks.DBJobQBackend"}}
else:
    INSTALLED_APPS = ["django_tasks", "django_tasks_db", "benchapp"]
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
'''

TASKS_MODULE = '''
from django_tasks import task


@task()
def noop() -> None:
    """Does nothing: the benchmark measures the queue."""
'''

ENQUEUE = '''
import json, sys, time
import django
django.setup()
from django.db import transaction
from benchapp.tasks import noop

started = time.perf_counter()
with transaction.atomic():
    for _ in range(int(sys.argv[1])):
        noop.enqueue()
print(json.dumps({"enqueue_s": time.perf_counter() - started}))
'''

VERIFY = '''
import json, os
import django
django.setup()
if os.environ["BENCH_SYSTEM"] == "dbjobq":
    from dbjobq_django.models import Job
    rows = list(Job.objects.values_list("status", "started_at", "finished_at"))
    ok = sum(1 for status, _, _ in rows if status == "completed")
    first, last = min(r[1] for r in rows), max(r[2] for r in rows)
else:
    from django_tasks_db.models import DBTaskResult
    rows = list(DBTaskResult.objects.values_list("status", "started_at", "finished_at"))
    ok = sum(1 for status, _, _ in rows if status == "SUCCESSFUL")
    first, last = min(r[1] for r in rows).timestamp(), max(r[2] for r in rows).timestamp()
print(json.dumps({"total": len(rows), "successful": ok, "span_s": last - first}))
'''


def bench_python() -> Path:
    """The interpreter of ``bench/.venvs/django-tasks-db``, created on first use."""
    python = DTDB_VENV / "bin" / "python"
    stamp = DTDB_VENV / ".installed"
    wanted = "\n".join(DTDB_REQUIREMENTS)
    if stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"[bench] creating {DTDB_VENV}", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(DTDB_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *DTDB_REQUIREMENTS], check=True)
    stamp.write_text(wanted)
    return python


def write_project() -> Path:
    """The throw-away Django project both systems run."""
    project = WORK / "project"
    if project.exists():
        shutil.rmtree(project)
    (project / "benchapp").mkdir(parents=True)
    (project / "bench_settings.py").write_text(SETTINGS)
    (project / "benchapp" / "__init__.py").write_text("")
    (project / "benchapp" / "tasks.py").write_text(TASKS_MODULE)
    (project / "enqueue.py").write_text(ENQUEUE)
    (project / "verify.py").write_text(VERIFY)
    return project


def run(python: Path, project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(python), *args], cwd=project, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done


#: What is compared: (name, interpreter's system, persistent Django connections).
SYSTEMS = (
    ("dbjobq", "dbjobq", False),
    ("django-tasks-db", "django-tasks-db", False),
    ("django-tasks-db, CONN_MAX_AGE=None", "django-tasks-db", True),
)


def one_run(label: str, database: str, tasks: int, project: Path) -> dict[str, float | int | str]:
    [(system, persistent)] = [(system, persistent) for name, system, persistent in SYSTEMS if name == label]
    python = Path(ROOT / ".venv" / "bin" / "python") if system == "dbjobq" else bench_python()
    url = databases.create(database)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench_settings",
        "PYTHONPATH": str(project),
        "BENCH_SYSTEM": system,
        "BENCH_DATABASE_URL": url,
        "BENCH_CONN_MAX_AGE": "1" if persistent else "",
    }
    try:
        run(python, project, env, "-m", "django", "migrate", "-v", "0")
        enqueue = json.loads(run(python, project, env, "enqueue.py", str(tasks)).stdout)["enqueue_s"]
        if system == "dbjobq":
            worker = ["runworker", "--burst", "--log-level", "WARNING"]
        else:
            worker = ["db_worker", "--batch", "--no-startup-delay", "--interval", "0", "--no-reload", "-v", "0"]
        started = time.perf_counter()
        run(python, project, env, "-m", "django", *worker)
        drain = time.perf_counter() - started
        checked = json.loads(run(python, project, env, "verify.py").stdout)
    finally:
        databases.drop(url)
    if checked["total"] != tasks or checked["successful"] != tasks:
        raise RuntimeError(f"{label} on {database}: {checked} (expected {tasks} successful tasks)")
    return {
        "system": label,
        "database": database,
        "enqueue_s": enqueue,
        "drain_s": drain,
        "tasks_per_s": tasks / checked["span_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--databases", nargs="+", default=["postgresql", "sqlite"], choices=["postgresql", "sqlite"])
    parser.add_argument("--runs", type=int, default=3, help="runs per system, alternating (median reported)")
    parser.add_argument("--systems", nargs="+", default=[name for name, _, _ in SYSTEMS])
    args = parser.parse_args()
    project = write_project()
    bench_python()
    results: list[dict[str, float | int | str]] = []
    for database in args.databases:
        for index in range(args.runs):
            for system in args.systems:
                result = one_run(system, database, args.tasks, project)
                print(f"[bench] run {index + 1}: {json.dumps(result)}", file=sys.stderr, flush=True)
                results.append(result)
    print(f"\n{args.tasks:,} no-op tasks, one worker process, median of {args.runs} run(s)\n")
    print("| database | system | enqueue (s) | drain (s) | tasks/s |")
    print("|---|---|---:|---:|---:|")
    for database in args.databases:
        for system in args.systems:
            mine = [r for r in results if r["system"] == system and r["database"] == database]
            med = {k: statistics.median(float(r[k]) for r in mine) for k in ("enqueue_s", "drain_s", "tasks_per_s")}
            print(
                f"| {database} | {system} | {med['enqueue_s']:.2f} | {med['drain_s']:.2f} | {med['tasks_per_s']:,.0f} |"
            )
    (WORK / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
