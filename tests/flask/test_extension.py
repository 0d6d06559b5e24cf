"""Setting up the extension: init_app, the app factory, several apps, config keys and their errors."""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import dbjobq_flask
from dbjobq import ConfigurationError, StorageClosedError, StorageError
from dbjobq_flask import CONFIG_DEFAULTS, DBJobQ, DBJobQState
from tests.flask import jobs
from tests.flask.conftest import AppFactory, dbjobq_threads


def _app(tmp_path: Path, name: str = "app", **config: object) -> Flask:
    app = Flask(name, instance_path=str(tmp_path / f"instance-{name}"))
    app.config.update(config)
    return app


def test_extension_all_is_pinned() -> None:
    assert dbjobq_flask.__all__ == ["CONFIG_DEFAULTS", "DBJobQ", "DBJobQState", "Settings"]
    assert dbjobq_flask.__all__ == sorted(dbjobq_flask.__all__)


def test_extension_config_defaults_are_set_with_setdefault(tmp_path: Path) -> None:
    app = _app(tmp_path, DBJOBQ_CONCURRENCY=3)
    DBJobQ(app)
    assert app.config["DBJOBQ_CONCURRENCY"] == 3
    for key, default in CONFIG_DEFAULTS.items():
        assert key in app.config
        if key != "DBJOBQ_CONCURRENCY":
            assert app.config[key] == default
    assert CONFIG_DEFAULTS["DBJOBQ_CONCURRENCY"] == 10  # the core CLI's default, stated there
    state = app.extensions["dbjobq"]
    assert isinstance(state, DBJobQState)
    assert state.settings.worker_options["concurrency"] == 3
    assert not state.started  # nothing starts before first use


def test_extension_default_database_is_sqlite_in_instance_folder(tmp_path: Path) -> None:
    app = _app(tmp_path)
    jobq = DBJobQ(app)
    state = app.extensions["dbjobq"]
    expected = os.path.join(app.instance_path, "dbjobq.sqlite3")
    assert state.settings.database_url == f"sqlite+aiosqlite:///{expected}"
    assert not os.path.exists(app.instance_path)
    try:
        with app.app_context():
            job_id = jobq.enqueue(jobs.add, {"a": 1, "b": 2})
            assert jobq.get_job(job_id) is not None
        assert os.path.exists(expected)
    finally:
        jobq.close(app)


def test_extension_relative_sqlite_path_is_in_instance_folder(tmp_path: Path) -> None:
    app = _app(tmp_path, DBJOBQ_DATABASE_URL="sqlite+aiosqlite:///jobs.db")
    DBJobQ(app)
    path = os.path.join(app.instance_path, "jobs.db")
    assert app.extensions["dbjobq"].settings.database_url == f"sqlite+aiosqlite:///{path}"


def test_extension_options_are_defaults_under_app_config(tmp_path: Path) -> None:
    jobq = DBJobQ(concurrency=4, queues=["mail"])
    first = _app(tmp_path, "first")
    second = _app(tmp_path, "second", DBJOBQ_CONCURRENCY=2)
    jobq.init_app(first)
    jobq.init_app(second)
    assert first.extensions["dbjobq"].settings.worker_options["concurrency"] == 4
    assert first.extensions["dbjobq"].settings.worker_options["queues"] == ("mail",)
    assert second.extensions["dbjobq"].settings.worker_options["concurrency"] == 2


def test_extension_second_init_app_raises(tmp_path: Path) -> None:
    app = _app(tmp_path)
    jobq = DBJobQ(app)
    with pytest.raises(RuntimeError, match="already set up"):
        jobq.init_app(app)
    with pytest.raises(RuntimeError, match="already set up"):
        DBJobQ().init_app(app)


def test_extension_app_factory_with_several_apps(make_app: AppFactory, tmp_path: Path) -> None:
    jobq = DBJobQ()
    first, _ = make_app("first", jobq)
    second, _ = make_app("second", jobq, DBJOBQ_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'other.db'}")
    with first.app_context():
        first_id = jobq.enqueue(jobs.add, {"a": 1, "b": 1})
    with second.app_context():
        second_id = jobq.enqueue(jobs.add, {"a": 2, "b": 2})
        assert jobq.get_job(first_id) is None  # another database
        assert jobq.get_job(second_id) is not None
    with first.app_context():
        assert [j.id for j in jobq.list_jobs()] == [first_id]
    assert len(dbjobq_threads()) == 2  # one loop thread per app


def test_extension_without_init_app_says_how_to_fix(tmp_path: Path) -> None:
    app = _app(tmp_path)
    jobq = DBJobQ()
    with app.app_context(), pytest.raises(RuntimeError, match=r"did you forget to call jobq\.init_app"):
        jobq.enqueue("x")


def test_extension_outside_app_context_says_how_to_fix(tmp_path: Path) -> None:
    jobq = DBJobQ(_app(tmp_path))
    with pytest.raises(RuntimeError, match="app_context"):
        jobq.get_job("x")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"DBJOBQ_DATABASE_URL": "postgresql://u@localhost/db"}, "DBJOBQ_DATABASE_URL.*postgresql\\+asyncpg"),
        ({"DBJOBQ_DATABASE_URL": "sqlite:///jobs.db"}, "DBJOBQ_DATABASE_URL.*sqlite\\+aiosqlite"),
        ({"DBJOBQ_DATABASE_URL": "oracle+oracledb://u@h/db"}, "Unsupported database"),
        ({"DBJOBQ_DATABASE_URL": 42}, "DBJOBQ_DATABASE_URL must be a database URL"),
        ({"DBJOBQ_ENGINE_OPTIONS": "pool_size=5"}, "DBJOBQ_ENGINE_OPTIONS must be a dict"),
        ({"DBJOBQ_CONCURRENCY": 0}, "DBJOBQ_CONCURRENCY must be a positive integer"),
        ({"DBJOBQ_CONCURRENCY": "4"}, "DBJOBQ_CONCURRENCY must be a positive integer"),
        ({"DBJOBQ_POLL_INTERVAL": -1}, "DBJOBQ_POLL_INTERVAL must be a positive number"),
        ({"DBJOBQ_CALL_TIMEOUT": 0}, "DBJOBQ_CALL_TIMEOUT must be a positive number"),
        ({"DBJOBQ_QUEUES": [1]}, "DBJOBQ_QUEUES must be a list of names"),
        ({"DBJOBQ_IMPORTS": {"a": 1}}, "DBJOBQ_IMPORTS must be a list of names"),
    ],
)
def test_extension_misconfiguration_is_a_clear_error(
    tmp_path: Path, config: dict[str, object], message: str
) -> None:
    app = _app(tmp_path, **config)
    with pytest.raises(ConfigurationError, match=message):
        DBJobQ(app)
    assert "dbjobq" not in app.extensions


def test_extension_unknown_config_key_warns_with_a_hint(tmp_path: Path) -> None:
    app = _app(tmp_path, DBJOBQ_DATABASE_URI="sqlite+aiosqlite:///x.db", DBJOBQ_CONCURENCY=4)
    with pytest.warns(UserWarning) as caught:
        jobq = DBJobQ(app)
    messages = [str(w.message) for w in caught]
    assert any("DBJOBQ_DATABASE_URI (did you mean DBJOBQ_DATABASE_URL?) is ignored" in m for m in messages)
    assert any("DBJOBQ_CONCURENCY (did you mean DBJOBQ_CONCURRENCY?)" in m for m in messages)
    assert caught[0].filename == __file__  # points at the app's DBJobQ(app) call
    assert "dbjobq" in app.extensions  # set up anyway, with the defaults
    jobq.close(app)
    with pytest.warns(UserWarning, match="DBJOBQ_DATABASE_URI") as caught:
        DBJobQ().init_app(_app(tmp_path, name="factory", DBJOBQ_DATABASE_URI="x"))
    assert caught[0].filename == __file__


def test_extension_bad_value_still_raises_beside_an_unknown_key(tmp_path: Path) -> None:
    app = _app(tmp_path, DBJOBQ_OTHER_LIBRARY_SETTING=1, DBJOBQ_CONCURRENCY=0)
    with pytest.warns(UserWarning, match="DBJOBQ_OTHER_LIBRARY_SETTING"), pytest.raises(
        ConfigurationError, match="DBJOBQ_CONCURRENCY must be a positive integer"
    ):
        DBJobQ(app)


def test_extension_unknown_option_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="did you mean database_url"):
        DBJobQ(database_uri="sqlite+aiosqlite:///x.db")


def test_extension_unreachable_database_raises_then_recovers(tmp_path: Path) -> None:
    app = _app(tmp_path, DBJOBQ_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    jobq = DBJobQ(app)
    try:
        with app.app_context():
            with pytest.raises(StorageError, match="missing-dir' does not exist"):
                jobq.get_job("x")
            assert not dbjobq_threads()  # a failed start leaves nothing running
            (tmp_path / "missing-dir").mkdir()
            assert jobq.get_job("x") is None
    finally:
        jobq.close(app)


def test_extension_close_stops_the_thread_and_refuses_use(app_and_jobq: tuple[Flask, DBJobQ]) -> None:
    app, jobq = app_and_jobq
    with app.app_context():
        jobq.enqueue(jobs.add, {"a": 1, "b": 2})
        assert len(dbjobq_threads()) == 1
        jobq.close()
        assert not dbjobq_threads()
        jobq.close()  # idempotent
        with pytest.raises(StorageClosedError, match="closed"):
            jobq.enqueue(jobs.add, {"a": 1, "b": 2})


def test_extension_forgotten_app_is_closed_when_collected(tmp_path: Path) -> None:
    app = _app(tmp_path, DBJOBQ_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'gc.db'}")
    jobq = DBJobQ(app)
    with app.app_context():
        jobq.enqueue(jobs.add, {"a": 1, "b": 2})
    assert len(dbjobq_threads()) == 1
    del app
    gc.collect()
    assert not dbjobq_threads()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://ann:hunter2@db:port/app",
        "postgresql://ann:hunter2@db/app?password=hunter2",
        b"postgresql+asyncpg://ann:hunter2@db/app",
    ],
)
def test_extension_url_errors_never_repeat_the_password(tmp_path: Path, url: object) -> None:
    app = _app(tmp_path, DBJOBQ_DATABASE_URL=url)
    with pytest.raises(ConfigurationError) as info:
        DBJobQ(app)
    assert "DBJOBQ_DATABASE_URL" in str(info.value) and "hunter2" not in str(info.value)


def test_extension_state_and_settings_mask_the_url(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        DBJOBQ_DATABASE_URL="postgresql+asyncpg://ann:hunter2@db/app?password=hunter2",
        DBJOBQ_ENGINE_OPTIONS={"connect_args": {"password": "hunter2"}},
    )
    DBJobQ(app)
    state = app.extensions["dbjobq"]
    for shown in (repr(state), repr(state.settings), state.settings.safe_url):
        assert "hunter2" not in shown
    assert "postgresql+asyncpg://ann:***@db/app?password=***" in repr(state.settings)
    assert state.settings.database_url.endswith("password=hunter2")  # the real URL is kept for connecting


def test_extension_accepts_postgres_asyncpg_and_names_the_async_url_for_postgres(tmp_path: Path) -> None:
    app = _app(tmp_path, DBJOBQ_DATABASE_URL="postgres+asyncpg://ann@db.example.com/app")
    DBJobQ(app)
    assert app.extensions["dbjobq"].settings.database_url == "postgresql+asyncpg://ann@db.example.com/app"
    with pytest.raises(ConfigurationError, match=r"postgresql\+asyncpg://ann@db.example.com/app"):
        DBJobQ(_app(tmp_path, name="other", DBJOBQ_DATABASE_URL="postgres://ann@db.example.com/app"))


def test_extension_pgbouncer_config_reaches_the_storage(tmp_path: Path) -> None:
    direct = "postgresql+asyncpg://app@127.0.0.1:5432/app"
    app = _app(
        tmp_path,
        DBJOBQ_DATABASE_URL="postgresql+asyncpg://app@127.0.0.1:6432/app",
        DBJOBQ_PGBOUNCER=True,
        DBJOBQ_LISTEN_URL=direct,
    )
    DBJobQ(app)
    impl = app.extensions["dbjobq"].new_storage()._db.impl  # no connection is made
    assert impl.pgbouncer and str(impl.listen_url) == direct
    with pytest.raises(ConfigurationError, match="DBJOBQ_PGBOUNCER"):
        DBJobQ(_app(tmp_path, "bad", DBJOBQ_PGBOUNCER="yes"))


def test_extension_enqueue_carries_the_callers_trace(make_app: AppFactory, spans: Any) -> None:
    from opentelemetry import trace

    from dbjobq import testing
    from tests.tracing import traceparent_of

    app, jobq = make_app()
    with app.test_request_context("/signup"), trace.get_tracer("app").start_as_current_span("POST /signup") as request:
        job_id = jobq.enqueue(jobs.add, {"a": 1, "b": 2})
        [many] = jobq.enqueue_many(jobs.add, [{"a": 2, "b": 2}])
    with app.app_context():
        for found in (jobq.get_job(job_id), jobq.get_job(many)):
            assert found is not None and found.meta["traceparent"].startswith(traceparent_of(request) + "-")
        jobq.run(testing.run_due_jobs)
    runs = [s for s in spans.get_finished_spans() if s.name == "tests.flask.jobs.add"]
    assert len(runs) == 2
    assert {s.context.trace_id for s in runs} == {request.get_span_context().trace_id}
