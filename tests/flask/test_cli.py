"""`flask dbjobq worker | init-db | jobs` through Flask's CLI runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask

from dbjobq import JobStatus
from dbjobq_flask import DBJobQ
from tests.flask import jobs
from tests.flask.conftest import AppFactory


def test_cli_worker_burst_processes_the_jobs(app_and_jobq: tuple[Flask, DBJobQ]) -> None:
    app, jobq = app_and_jobq
    with app.app_context():
        ids = jobq.enqueue_many(jobs.add, [{"a": i, "b": 1} for i in range(20)])
        failing = jobq.enqueue(jobs.boom)
        named = jobq.enqueue(jobs.app_name)
    args = ["dbjobq", "worker", "--burst", "--concurrency", "4", "--poll-interval", "0.1"]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "21 completed, 1 failed" in result.output
    with app.app_context():
        for i, job_id in enumerate(ids):
            job = jobq.get_job(job_id)
            assert job is not None and job.status == JobStatus.COMPLETED and job.result == i + 1
        failed = jobq.get_job(failing)
        assert failed is not None and failed.status == JobStatus.FAILED and "boom" in (failed.error or "")
        done = jobq.get_job(named)
        assert done is not None and done.result == app.name  # jobs run inside the app context


@pytest.mark.databases("sqlite")
def test_cli_worker_takes_defaults_from_config(make_app: AppFactory) -> None:
    app, jobq = make_app(DBJOBQ_QUEUES=["mail"], DBJOBQ_CONCURRENCY=2, DBJOBQ_POLL_INTERVAL=0.1)
    with app.app_context():
        mail = jobq.enqueue(jobs.add, {"a": 1, "b": 1}, queue="mail")
        other = jobq.enqueue(jobs.add, {"a": 1, "b": 1}, queue="other")
    seen: dict[str, object] = {}

    def spy(worker: object) -> None:
        seen.update(concurrency=worker.concurrency, queues=worker.queues)  # type: ignore[attr-defined]

    import dbjobq_flask._cli as flask_cli

    original = flask_cli.run_worker_blocking
    flask_cli.run_worker_blocking = lambda make, options, **kw: original(make, options, on_start=spy)  # type: ignore[assignment]
    try:
        result = app.test_cli_runner().invoke(args=["dbjobq", "worker", "--burst"])
        assert result.exit_code == 0, result.output
        assert seen == {"concurrency": 2, "queues": ["mail"]}
        result = app.test_cli_runner().invoke(args=["dbjobq", "worker", "--burst", "-c", "3", "-q", "other"])
        assert result.exit_code == 0, result.output
        assert seen == {"concurrency": 3, "queues": ["other"]}  # the command line wins
    finally:
        flask_cli.run_worker_blocking = original  # type: ignore[assignment]
    with app.app_context():
        assert jobq.get_job(mail).status == JobStatus.COMPLETED  # type: ignore[union-attr]
        assert jobq.get_job(other).status == JobStatus.COMPLETED  # type: ignore[union-attr]


@pytest.mark.databases("sqlite")
def test_cli_worker_bad_import_is_one_clear_line(app_and_jobq: tuple[Flask, DBJobQ]) -> None:
    app, _ = app_and_jobq
    result = app.test_cli_runner().invoke(args=["dbjobq", "worker", "--burst", "--import", "no_such_module"])
    assert result.exit_code == 1
    assert "Could not import 'no_such_module'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.databases("sqlite")
def test_cli_worker_import_with_missing_dependency_says_so(
    app_and_jobq: tuple[Flask, DBJobQ], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _ = app_and_jobq
    (tmp_path / "flask_broken_jobs.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    result = app.test_cli_runner().invoke(args=["dbjobq", "worker", "--burst", "--import", "flask_broken_jobs"])
    assert result.exit_code == 1
    assert "imports 'no_such_dependency_xyz', which is not installed" in result.output
    assert "Traceback" not in result.output


def test_cli_init_db_and_jobs(app_and_jobq: tuple[Flask, DBJobQ]) -> None:
    app, jobq = app_and_jobq
    runner = app.test_cli_runner()
    result = runner.invoke(args=["dbjobq", "init-db"])
    assert result.exit_code == 0, result.output
    assert "DBJobQ tables are ready" in result.output
    assert runner.invoke(args=["dbjobq", "jobs"]).output.strip() == "No jobs."
    with app.app_context():
        ids = jobq.enqueue_many(jobs.add, [{"a": i, "b": i} for i in range(5)])
        jobq.cancel_job(ids[0])
    result = runner.invoke(args=["dbjobq", "jobs", "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert ids[3] in result.output and ids[4] in result.output and ids[0] not in result.output
    assert "tests.flask.jobs.add" in result.output
    result = runner.invoke(args=["dbjobq", "jobs", "--status", "cancelled"])
    assert ids[0] in result.output and ids[1] not in result.output
    result = runner.invoke(args=["dbjobq", "jobs", "--status", "nope"])
    assert result.exit_code == 2 and "Invalid value" in result.output


def test_cli_core_commands_use_the_app_database(app_and_jobq: tuple[Flask, DBJobQ]) -> None:
    app, jobq = app_and_jobq
    runner = app.test_cli_runner()
    result = runner.invoke(args=["dbjobq", "enqueue", "tests.flask.jobs.add", '{"a": 1, "b": 2}', "--json"])
    assert result.exit_code == 0, result.output
    job_id = json.loads(result.output)["id"]
    with app.app_context():
        assert jobq.get_job(job_id).data == {"a": 1, "b": 2}  # type: ignore[union-attr]
    assert json.loads(runner.invoke(args=["dbjobq", "job", job_id, "--json"]).output)["status"] == "pending"
    assert runner.invoke(args=["dbjobq", "cancel", job_id]).exit_code == 0
    assert runner.invoke(args=["dbjobq", "retry", job_id]).exit_code == 0
    stats = runner.invoke(args=["dbjobq", "stats", "--json"])
    assert stats.exit_code == 0, stats.output
    missing = runner.invoke(args=["dbjobq", "job", "no-such-id"])
    assert missing.exit_code == 1 and "No job has id" in missing.output and "Traceback" not in missing.output
    with app.app_context():
        assert jobq.get_job(job_id).status == JobStatus.PENDING  # type: ignore[union-attr]


@pytest.mark.databases("sqlite")
def test_cli_init_db_creates_the_default_sqlite_file(tmp_path: Path) -> None:
    app = Flask("cliapp", instance_path=str(tmp_path / "instance"))
    DBJobQ(app)
    result = app.test_cli_runner().invoke(args=["dbjobq", "init-db"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "instance" / "dbjobq.sqlite3").exists()


def test_cli_unreachable_database_is_one_clear_line(tmp_path: Path) -> None:
    app = Flask("cliapp", instance_path=str(tmp_path / "instance"))
    DBJobQ(app, database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none")
    result = app.test_cli_runner().invoke(args=["dbjobq", "init-db"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: Could not connect")
    assert "Traceback" not in result.output


def test_cli_stored_text_is_escaped(app_and_jobq: tuple[Flask, DBJobQ]) -> None:
    # `flask dbjobq` reuses the core's commands: stored control sequences print escaped there too.
    app, jobq = app_and_jobq
    with app.app_context():
        job_id = jobq.enqueue("app.jobs.evil\x1b[2J\x1b]0;pwned\x07", {}, queue="q\x1b[31m")
    runner = app.test_cli_runner()
    for args in (["jobs"], ["job", job_id], ["stats"]):
        result = runner.invoke(args=["dbjobq", *args])
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.output and "\x07" not in result.output
    assert "app.jobs.evil\\x1b[2J\\x1b]0;pwned\\x07" in runner.invoke(args=["dbjobq", "job", job_id]).output


def test_cli_worker_help_shows_the_apps_config(make_app: AppFactory) -> None:
    app, _ = make_app(DBJOBQ_CONCURRENCY=2, DBJOBQ_QUEUES=["mail"], DBJOBQ_LEASE_TIMEOUT=12.5)
    help_text = app.test_cli_runner().invoke(args=["dbjobq", "worker", "--help"]).output
    assert "[default: 2]" in help_text and "[default: 12.5]" in help_text and "[default: mail]" in help_text


@pytest.mark.databases("sqlite")
def test_cli_bulk_cancel_and_purge_dry_run(app_and_jobq: tuple[Flask, DBJobQ]) -> None:
    app, jobq = app_and_jobq
    with app.app_context():
        ids = jobq.enqueue_many(jobs.add, [{"a": i, "b": 1} for i in range(3)], queue="bulk")
    runner = app.test_cli_runner()
    asked = runner.invoke(args=["dbjobq", "cancel", "--queue", "bulk"], input="y\n")
    assert asked.exit_code == 0, asked.output
    assert "Cancel 3 pending or running job(s) on queue 'bulk'?" in asked.output
    with app.app_context():
        assert {jobq.get_job(i).status for i in ids} == {JobStatus.CANCELLED}  # type: ignore[union-attr]
    retried = runner.invoke(args=["dbjobq", "retry", "--status", "cancelled", "--yes", "--json"])
    assert json.loads(retried.stdout) == {"matched": 3, "retried": 3}
    dry = runner.invoke(args=["dbjobq", "purge", "--older-than", "1d", "--dry-run", "--json"])
    assert json.loads(dry.stdout) == {"dry_run": True, "would_delete": 0}


@pytest.mark.databases("sqlite")
def test_cli_worker_syncs_the_apps_declared_schedules(make_app: AppFactory) -> None:
    from dbjobq import ConfigurationError, declarations

    saved = dict(declarations._declared)
    try:
        app, _ = make_app(
            DBJOBQ_SCHEDULES={"sums": {"job": jobs.add, "every": 3600, "data": {"a": 1, "b": 1}}},
            DBJOBQ_POLL_INTERVAL=0.1,
        )
        result = app.test_cli_runner().invoke(args=["dbjobq", "worker", "--burst"])
        assert result.exit_code == 0, result.output
        listed = json.loads(app.test_cli_runner().invoke(args=["dbjobq", "schedules", "list", "--json"]).stdout)
        assert [(s["id"], s["origin"], s["schedule_expression"]) for s in listed] == [("sums", "code", "3600")]
        with pytest.raises(ConfigurationError, match=r"DBJOBQ_SCHEDULES\['x'\] needs 'job'"):
            make_app(name="broken", DBJOBQ_SCHEDULES={"x": {"every": 60}})
    finally:
        declarations._declared.clear()
        declarations._declared.update(saved)
