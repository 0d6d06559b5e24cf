"""Flask configuration: the ``DBJOBQ_*`` keys, their defaults (stated once, here) and their validation."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from flask import Flask
from sqlalchemy.engine import URL

from dbjobq import ConfigurationError
from dbjobq.integration import (
    WorkerConfig,
    declarations,
    did_you_mean,
    is_memory_sqlite,
    is_secret_key,
    mask_url,
    parse_url,
)

PREFIX = "DBJOBQ_"

#: File name of the default SQLite database, in the app's instance folder.
DEFAULT_SQLITE_NAME = "dbjobq.sqlite3"

#: The worker's options that are config keys (every setting of WorkerConfig), key -> option name.
_WORKER_KEYS = {f"{PREFIX}{name.upper()}": name for name in WorkerConfig().settings()}

#: Every config key DBJobQ reads, with its default.
CONFIG_DEFAULTS: dict[str, Any] = {
    # None: sqlite+aiosqlite:///<instance folder>/dbjobq.sqlite3
    "DBJOBQ_DATABASE_URL": None,
    # Extra keyword arguments for SQLAlchemy's create_async_engine (pool size, echo, ...).
    "DBJOBQ_ENGINE_OPTIONS": {},
    # PostgreSQL through PgBouncer in transaction pooling, and a direct URL for LISTEN (else workers poll).
    "DBJOBQ_PGBOUNCER": False,
    "DBJOBQ_LISTEN_URL": None,
    # Seconds a sync call (enqueue, get_job, ...) waits for the database before TimeoutError; None waits.
    "DBJOBQ_CALL_TIMEOUT": 30.0,
    # Modules `flask dbjobq worker` imports before it starts, so their @job functions are registered.
    "DBJOBQ_IMPORTS": (),
    # The web dashboard's blueprint (needs Jinja2, which Flask has): its URL prefix (None: not added),
    # a function(action) -> bool deciding who may view ("view") and act ("retry", "cancel", ...), or
    # True to let everyone in. Without either, the dashboard refuses every request.
    "DBJOBQ_DASHBOARD_URL_PREFIX": "/dbjobq",
    "DBJOBQ_DASHBOARD_AUTHORIZE": None,
    "DBJOBQ_DASHBOARD_PUBLIC": False,
    # Run each job as it is enqueued through this extension, recording its outcome (for tests).
    "DBJOBQ_EAGER": False,
    # Recurring jobs declared in code, synced by workers when they start:
    # {"nightly-report": {"job": "myapp.jobs.report", "cron": "0 3 * * *", "tz": "Europe/Paris"}}.
    "DBJOBQ_SCHEDULES": {},
    # The worker's options (`flask dbjobq worker`'s command-line options override them); the defaults
    # are WorkerConfig's, stated there.
    **{key: WorkerConfig().settings()[name] for key, name in _WORKER_KEYS.items()},
}


@dataclass(frozen=True)
class Settings:
    """One app's validated DBJobQ settings (their repr masks the URL's password and secret options)."""

    database_url: str = field(repr=False)
    engine_options: dict[str, Any] = field(default_factory=dict, repr=False)
    call_timeout: float | None = 30.0
    imports: tuple[str, ...] = ()
    #: The worker's options (``DBJOBQ_CONCURRENCY``, ``DBJOBQ_QUEUES``, ...), validated.
    worker: WorkerConfig = field(default_factory=WorkerConfig)
    #: The directory to create before the first connection (the instance folder), if any.
    create_dir: str | None = None
    #: The dashboard: URL prefix (None: no blueprint), who may use it, or open to all.
    dashboard_url_prefix: str | None = "/dbjobq"
    dashboard_authorize: Callable[[str], bool] | None = None
    dashboard_public: bool = False
    #: Run jobs at enqueue (``DBJOBQ_EAGER``).
    eager: bool = False
    #: The recurring jobs ``DBJOBQ_SCHEDULES`` declares.
    schedules: tuple[declarations.Declaration, ...] = ()
    #: PostgreSQL through PgBouncer (``DBJOBQ_PGBOUNCER``), and the direct URL for LISTEN (``DBJOBQ_LISTEN_URL``).
    pgbouncer: bool = False
    listen_url: str | None = field(default=None, repr=False)

    def storage_options(self) -> dict[str, Any]:
        """The storage's own keyword arguments (beside the URL and engine options)."""
        return {"pgbouncer": self.pgbouncer, "listen_url": self.listen_url}

    def __repr__(self) -> str:
        shown = {"database_url": self.safe_url, "engine_options": mask_options(self.engine_options)}
        shown.update((f.name, getattr(self, f.name)) for f in fields(self) if f.repr)
        return f"Settings({', '.join(f'{name}={value!r}' for name, value in shown.items())})"

    @property
    def worker_options(self) -> dict[str, Any]:
        """The worker's options as keyword arguments (``concurrency``, ``queues``, ...)."""
        return self.worker.settings()

    @property
    def safe_url(self) -> str:
        """The database URL with any password hidden, for messages and logs."""
        return mask_url(self.database_url)


def mask_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Engine options for display: secret-named values (``connect_args={"password": …}``) masked."""
    return {
        key: "***" if is_secret_key(str(key)) else mask_options(value) if isinstance(value, Mapping) else value
        for key, value in options.items()
    }


def option_keys() -> dict[str, str]:
    """Constructor option name (``database_url``) -> config key (``DBJOBQ_DATABASE_URL``)."""
    return {key[len(PREFIX) :].lower(): key for key in CONFIG_DEFAULTS}


def check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``DBJobQ(**options)`` names and return them as config keys."""
    names = option_keys()
    unknown = [name for name in options if name not in names]
    if unknown:
        raise ConfigurationError(
            f"Unknown DBJobQ option {unknown[0]!r}{did_you_mean(unknown[0], list(names))}; "
            f"valid options: {', '.join(sorted(names))}"
        )
    return {names[name]: value for name, value in options.items()}


def apply_defaults(app: Flask, defaults: Mapping[str, Any]) -> None:
    """``setdefault`` every key on ``app.config``: app config first, then extension options, then ours."""
    for key, value in CONFIG_DEFAULTS.items():
        app.config.setdefault(key, defaults.get(key, value))


def load_settings(app: Flask) -> Settings:
    """Read and validate the app's ``DBJOBQ_*`` config; raise ``ConfigurationError`` saying what to fix.

    A ``DBJOBQ_*`` key DBJobQ does not read is a warning, not an error (an app's config holds many keys,
    some meant for other code): it names the key DBJobQ probably expected.
    """
    config = app.config
    for key in config:
        if key.startswith(PREFIX) and key not in CONFIG_DEFAULTS:
            warnings.warn(
                f"Unknown config key {key}{did_you_mean(key, list(CONFIG_DEFAULTS))} is ignored; "
                f"DBJobQ reads: {', '.join(CONFIG_DEFAULTS)}",
                UserWarning,
                stacklevel=_app_stacklevel(),
            )
    url, create_dir = _database_url(app, config["DBJOBQ_DATABASE_URL"])
    engine_options = config["DBJOBQ_ENGINE_OPTIONS"] or {}
    if not isinstance(engine_options, Mapping):
        raise ConfigurationError(
            "DBJOBQ_ENGINE_OPTIONS must be a dict of create_async_engine() arguments, "
            f"not a {type(engine_options).__name__}"
        )
    call_timeout = config["DBJOBQ_CALL_TIMEOUT"]
    if call_timeout is not None:
        call_timeout = _positive_number("DBJOBQ_CALL_TIMEOUT", call_timeout)
    worker = WorkerConfig.from_options(
        {name: config[key] for key, name in _WORKER_KEYS.items()}, label=lambda name: f"{PREFIX}{name.upper()}"
    )
    prefix = config["DBJOBQ_DASHBOARD_URL_PREFIX"]
    if prefix is not None and (not isinstance(prefix, str) or not prefix.startswith("/")):
        raise ConfigurationError(f"DBJOBQ_DASHBOARD_URL_PREFIX must be a path like '/dbjobq' (or None), not {prefix!r}")
    authorize = config["DBJOBQ_DASHBOARD_AUTHORIZE"]
    if authorize is not None and not callable(authorize):
        raise ConfigurationError(
            "DBJOBQ_DASHBOARD_AUTHORIZE must be a function(action) -> bool (action is 'view', 'retry', ...)"
        )
    pgbouncer, listen_url = config["DBJOBQ_PGBOUNCER"], config["DBJOBQ_LISTEN_URL"]
    if not isinstance(pgbouncer, bool):
        raise ConfigurationError(f"DBJOBQ_PGBOUNCER must be True or False, not {pgbouncer!r}")
    if listen_url is not None and not isinstance(listen_url, str):
        raise ConfigurationError("DBJOBQ_LISTEN_URL must be a direct postgresql+asyncpg:// URL (str) or None")
    eager = config["DBJOBQ_EAGER"]
    if not isinstance(eager, bool):
        raise ConfigurationError(f"DBJOBQ_EAGER must be True or False, not {eager!r}")
    try:
        schedules = declarations.parse(config["DBJOBQ_SCHEDULES"], "DBJOBQ_SCHEDULES")
    except (ValueError, TypeError, LookupError) as exc:
        raise ConfigurationError(str(exc)) from None
    return Settings(
        eager=eager,
        schedules=tuple(schedules),
        dashboard_url_prefix=prefix,
        dashboard_authorize=authorize,
        dashboard_public=bool(config["DBJOBQ_DASHBOARD_PUBLIC"]),
        database_url=url,
        engine_options=dict(engine_options),
        call_timeout=call_timeout,
        imports=_names("DBJOBQ_IMPORTS", config["DBJOBQ_IMPORTS"]),
        worker=worker,
        create_dir=create_dir,
        pgbouncer=pgbouncer,
        listen_url=listen_url,
    )


def _database_url(app: Flask, value: Any) -> tuple[str, str | None]:
    if value is None or value == "":
        path = os.path.join(app.instance_path, DEFAULT_SQLITE_NAME)
        return f"sqlite+aiosqlite:///{path}", app.instance_path
    if not isinstance(value, (str, URL)):
        raise ConfigurationError(f"DBJOBQ_DATABASE_URL must be a database URL string, not a {type(value).__name__}")
    try:
        url = parse_url(value)
    except ConfigurationError as exc:
        raise ConfigurationError(f"DBJOBQ_DATABASE_URL: {exc}") from None
    create_dir = None
    sqlite_file = url.get_backend_name() == "sqlite" and not is_memory_sqlite(url) and url.database
    if sqlite_file and not os.path.isabs(str(url.database)):
        # As in Flask-SQLAlchemy, a relative SQLite path is relative to the instance folder.
        url = url.set(database=os.path.join(app.instance_path, str(url.database)))
        create_dir = app.instance_path
    return url.render_as_string(hide_password=False), create_dir


def _positive_number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigurationError(f"{key} must be a positive number of seconds, not {value!r}")
    return float(value)


def _names(key: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise ConfigurationError(f"{key} must be a list of names, not {value!r}")
    return tuple(value)


def _app_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the app's own ``DBJobQ(app)``/``init_app(app)`` line."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == package:
        frame, level = frame.f_back, level + 1
    return level
