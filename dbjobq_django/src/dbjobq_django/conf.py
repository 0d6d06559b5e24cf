"""The ``DBJOBQ`` settings dict, read through one accessor: :func:`get_settings`.

Every key is optional; the defaults are stated once, in :data:`DEFAULTS`. By default DBJobQ uses
the database of ``DATABASES["default"]`` (or the alias in ``DBJOBQ["DATABASE"]``) through the
matching async driver: ``postgresql`` -> asyncpg, ``sqlite3`` -> aiosqlite, ``mysql`` -> aiomysql.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import connections
from sqlalchemy.engine import URL, make_url

from dbjobq import ConfigurationError
from dbjobq.integration import (
    InvalidOptionError,
    WorkerConfig,
    declarations,
    did_you_mean,
    is_secret_key,
    mask_url,
    parse_url,
)

#: The ``DBJOBQ`` keys of the worker's options: every setting of WorkerConfig, upper-cased.
WORKER_KEYS: dict[str, str] = {name.upper(): name for name in WorkerConfig().settings()}

#: Every ``DBJOBQ`` key and its default (the worker's are WorkerConfig's, stated there).
DEFAULTS: dict[str, Any] = {
    "DATABASE": "default",  # the Django database alias jobs live in
    "DATABASE_URL": None,  # an async SQLAlchemy URL to that same database; derived when None
    "ENGINE_OPTIONS": {},  # extra create_async_engine() options
    "PGBOUNCER": False,  # PostgreSQL through PgBouncer in transaction pooling (SQLAlchemyStorage(pgbouncer=...))
    "LISTEN_URL": None,  # with PGBOUNCER: a direct async URL for LISTEN (else workers poll)
    "AUTODISCOVER": ("jobs", "tasks"),  # modules of installed apps that `runworker` imports
    "EAGER": False,  # run each job at enqueue (after the transaction commits), for tests
    "SCHEDULES": {},  # recurring jobs declared in code: {id: {"job": "app.jobs.f", "cron": "0 3 * * *"}}
    **{key: WorkerConfig().settings()[name] for key, name in WORKER_KEYS.items()},
}

#: Keys whose values may hold a password: messages never repeat them.
_SECRET_KEYS = ("DATABASE_URL", "ENGINE_OPTIONS", "LISTEN_URL")

#: Django vendor -> the async SQLAlchemy driver DBJobQ uses for it.
ASYNC_DRIVERS = {"postgresql": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite", "mysql": "mysql+aiomysql"}


@dataclass(frozen=True)
class Problem:
    """A configuration mistake: what is wrong and how to fix it (a system check reports it)."""

    id: str
    message: str
    hint: str
    warning: bool = False


@dataclass(frozen=True)
class DBJobQSettings:
    """The effective ``DBJOBQ`` settings (see :data:`DEFAULTS`); the worker's are :attr:`worker`; the
    repr masks ``database_url``."""

    database: str
    database_url: str | None
    engine_options: Mapping[str, Any]
    autodiscover: tuple[str, ...]
    #: The worker options (``CONCURRENCY``, ``QUEUES``, ``RETENTION``, ...), validated.
    worker: WorkerConfig
    #: Run jobs at enqueue (``EAGER``), for tests.
    eager: bool = False
    schedules: tuple[declarations.Declaration, ...] = ()
    #: PostgreSQL through PgBouncer in transaction pooling (``PGBOUNCER``).
    pgbouncer: bool = False
    #: A direct URL for LISTEN behind PgBouncer (``LISTEN_URL``).
    listen_url: str | None = None

    def storage_options(self) -> dict[str, Any]:
        """The storage's own keyword arguments (beside the URL and engine options)."""
        return {"pgbouncer": self.pgbouncer, "listen_url": self.listen_url}

    @property
    def queues(self) -> tuple[str, ...] | None:
        """The queues ``runworker`` serves by default (``None``: all)."""
        return self.worker.queues

    @property
    def concurrency(self) -> int:
        """Jobs a ``runworker`` runs at once."""
        return self.worker.concurrency

    def __repr__(self) -> str:
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown["database_url"] = None if self.database_url is None else mask_url(self.database_url)
        shown["listen_url"] = None if self.listen_url is None else mask_url(self.listen_url)
        shown["engine_options"] = {
            key: "***" if is_secret_key(str(key)) else value for key, value in self.engine_options.items()
        }
        return f"DBJobQSettings({', '.join(f'{name}={value!r}' for name, value in shown.items())})"

    def engine_url(self) -> URL:
        """The async SQLAlchemy URL of DBJobQ's database (``DATABASE_URL``, or derived from Django's).

        Raises ``ImproperlyConfigured`` saying how to fix a bad or sync URL.
        """
        url = self.database_url if self.database_url is not None else derive_url(self.database)
        try:
            return _parse_url(url)
        except ConfigurationError as exc:
            raise ImproperlyConfigured(f"DBJOBQ: {exc}") from None


@functools.lru_cache(maxsize=64)
def _parse_url(url: str) -> URL:
    # Settings are read on every enqueue: parsing the same URL (and looking for its driver) once is enough.
    return parse_url(url)


def _forget_parsed_urls(*, setting: str, **kwargs: Any) -> None:
    if setting in ("DBJOBQ", "DATABASES"):
        _parse_url.cache_clear()  # a driver installed or removed since is seen again


setting_changed.connect(_forget_parsed_urls, dispatch_uid="dbjobq_django.conf.parsed_urls")


def raw_settings() -> dict[str, Any]:
    """``settings.DBJOBQ`` (``{}`` when unset); not validated."""
    value = getattr(django_settings, "DBJOBQ", None)
    return {} if value is None else value


def problems() -> list[Problem]:
    """Everything wrong with the ``DBJOBQ`` setting (the system checks report these)."""
    raw = raw_settings()
    if not isinstance(raw, Mapping):
        return [
            Problem(
                "dbjobq.E001",
                f"DBJOBQ must be a dict, not {type(raw).__name__}.",
                'Write e.g. DBJOBQ = {"CONCURRENCY": 4}, or remove the setting.',
            )
        ]
    found: list[Problem] = []
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        found.append(
            Problem(
                "dbjobq.E001",
                f"Unknown DBJOBQ key(s): {', '.join(map(repr, unknown))}"
                f"{did_you_mean(str(unknown[0]), list(DEFAULTS))}.",
                f"Valid keys: {', '.join(sorted(DEFAULTS))}.",
            )
        )
    values = {**DEFAULTS, **raw}
    found += _value_problems(values)
    if found:
        return found
    alias = values["DATABASE"]
    if alias not in django_settings.DATABASES:
        return [
            Problem(
                "dbjobq.E002",
                f"DBJOBQ['DATABASE'] is {alias!r}, which is not in DATABASES.",
                f"Use one of {', '.join(sorted(django_settings.DATABASES))}.",
            )
        ]
    url = values["DATABASE_URL"]
    if url is None:
        vendor = connections[alias].vendor
        if vendor not in ASYNC_DRIVERS:
            return [
                Problem(
                    "dbjobq.E003",
                    f"DBJobQ cannot use the {vendor!r} database {alias!r}.",
                    "DBJobQ supports PostgreSQL, SQLite and MySQL/MariaDB: point DBJOBQ['DATABASE'] at one of those.",
                )
            ]
        if vendor == "sqlite" and _is_memory(connections[alias].settings_dict.get("NAME")):
            found.append(
                Problem(
                    "dbjobq.W001",
                    f"The database {alias!r} is an in-memory SQLite database.",
                    "Workers run in other processes and cannot see it: use a SQLite file (or PostgreSQL).",
                    warning=True,
                )
            )
    try:
        get_settings_unchecked().engine_url()
    except ImproperlyConfigured as exc:
        hint = (
            "Give an async URL, e.g. postgresql+asyncpg://user:password@host/db, "
            "mysql+aiomysql://user@host/db or sqlite+aiosqlite:////path/to/db.sqlite3, "
            "or remove DATABASE_URL to derive it from DATABASES."
        )
        found.append(Problem("dbjobq.E004", str(exc), hint))
        return found
    if url is not None and connections[alias].vendor in ASYNC_DRIVERS and not same_database(derive_url(alias), url):
        found.append(
            Problem(
                "dbjobq.W002",
                f"DBJOBQ['DATABASE_URL'] names another database than DATABASES[{alias!r}].",
                "enqueue() writes jobs through Django's connection while workers read DATABASE_URL: point both "
                "at the same database (or remove DATABASE_URL to derive it).",
                warning=True,
            )
        )
    return found


def _value_problems(values: Mapping[str, Any]) -> list[Problem]:
    found: list[Problem] = []

    def bad(key: str, expected: str) -> None:
        # The URL and engine options may hold a password: name the wrong type, never echo the value.
        given = f"a {type(values[key]).__name__}" if key in _SECRET_KEYS else repr(values[key])
        found.append(
            Problem(
                "dbjobq.E005",
                f"DBJOBQ[{key!r}] must be {expected}, not {given}.",
                f"Fix DBJOBQ[{key!r}] or remove it to use the default ({DEFAULTS[key]!r}).",
            )
        )

    if not isinstance(values["DATABASE"], str):
        bad("DATABASE", "a database alias (str)")
    if values["DATABASE_URL"] is not None and not isinstance(values["DATABASE_URL"], str):
        bad("DATABASE_URL", "an async SQLAlchemy URL (str) or None")
    if not isinstance(values["ENGINE_OPTIONS"], Mapping):
        bad("ENGINE_OPTIONS", "a dict")
    if not isinstance(values["PGBOUNCER"], bool):
        bad("PGBOUNCER", "True or False")
    if values["LISTEN_URL"] is not None and not isinstance(values["LISTEN_URL"], str):
        bad("LISTEN_URL", "a direct async PostgreSQL URL (str) or None")
    try:
        worker_config(values)
    except InvalidOptionError as exc:
        key = exc.option.upper()
        hint = f"Fix DBJOBQ[{key!r}] or remove it to use the default ({DEFAULTS[key]!r})."
        found.append(Problem("dbjobq.E005", f"{exc}.", hint))
    try:
        declarations.parse(values["SCHEDULES"], SCHEDULES_SOURCE)
    except (ValueError, TypeError, LookupError) as exc:
        found.append(
            Problem(
                "dbjobq.E005",
                f"{exc}.",
                'Write e.g. DBJOBQ["SCHEDULES"] = {"nightly-report": {"job": "myapp.jobs.report", '
                '"cron": "0 3 * * *", "tz": "Europe/Paris"}}.',
            )
        )
    autodiscover = values["AUTODISCOVER"]
    if isinstance(autodiscover, str) or not isinstance(autodiscover, Sequence):
        bad("AUTODISCOVER", "a list of module names")
    if not isinstance(values["EAGER"], bool):
        bad("EAGER", "True or False")
    return found


def worker_config(values: Mapping[str, Any]) -> WorkerConfig:
    """The worker options among ``DBJOBQ`` ``values``; ``ConfigurationError`` names the bad key."""
    options = {name: values[key] for key, name in WORKER_KEYS.items() if key in values}
    return WorkerConfig.from_options(options, label=lambda name: f"DBJOBQ[{name.upper()!r}]")


#: Where DBJobQ's messages say Django's schedules come from.
SCHEDULES_SOURCE = "DBJOBQ['SCHEDULES']"


def declare_schedules() -> None:
    """Make the ``SCHEDULES`` setting's declarations the process's (workers sync them when they start).

    An invalid ``DBJOBQ`` declares none: the system checks report it, and ``runworker`` refuses it.
    """
    raw = raw_settings()
    declared = _schedules(raw.get("SCHEDULES")) if isinstance(raw, Mapping) else []
    declarations.declare_source(SCHEDULES_SOURCE, declared)


def _redeclare_schedules(*, setting: str, **kwargs: Any) -> None:
    if setting == "DBJOBQ":
        declare_schedules()


setting_changed.connect(_redeclare_schedules, dispatch_uid="dbjobq_django.conf.schedules")


def _schedules(value: Any) -> list[declarations.Declaration]:
    """The declared schedules, or none when the setting is invalid (the checks report it)."""
    try:
        return declarations.parse(value, SCHEDULES_SOURCE)
    except (ValueError, TypeError, LookupError):
        return []


def _is_memory(name: Any) -> bool:
    text = str(name or "")
    return text in ("", ":memory:") or "mode=memory" in text


def get_settings_unchecked() -> DBJobQSettings:
    """The settings merged with :data:`DEFAULTS`, without the database checks (the checks use this).

    Raises ``ImproperlyConfigured`` for a bad worker option (its check is the constructor's own).
    """
    values = {**DEFAULTS, **raw_settings()}
    try:
        worker = worker_config(values)
    except ConfigurationError as exc:
        raise ImproperlyConfigured(str(exc)) from None
    return DBJobQSettings(
        database=values["DATABASE"],
        database_url=values["DATABASE_URL"],
        engine_options=dict(values["ENGINE_OPTIONS"]),
        autodiscover=tuple(values["AUTODISCOVER"]),
        worker=worker,
        eager=values["EAGER"],
        schedules=tuple(_schedules(values["SCHEDULES"])),
        pgbouncer=bool(values["PGBOUNCER"]),
        listen_url=values["LISTEN_URL"],
    )


def get_settings() -> DBJobQSettings:
    """The effective ``DBJOBQ`` settings; raises ``ImproperlyConfigured`` (with the fix) if invalid."""
    errors = [p for p in problems() if not p.warning]
    if errors:
        raise ImproperlyConfigured(f"{errors[0].message} {errors[0].hint}")
    return get_settings_unchecked()


def derive_url(alias: str) -> str:
    """The async SQLAlchemy URL for Django's database ``alias`` (its live settings, e.g. a test database)."""
    connection = connections[alias]
    vendor = connection.vendor
    if vendor not in ASYNC_DRIVERS:
        raise ImproperlyConfigured(
            f"DBJobQ cannot use the {vendor!r} database {alias!r}: it supports PostgreSQL, SQLite and "
            "MySQL/MariaDB (set DBJOBQ['DATABASE'] or DBJOBQ['DATABASE_URL'])"
        )
    return async_url(vendor, connection.settings_dict)


def async_url(vendor: str, params: Mapping[str, Any]) -> str:
    """The async SQLAlchemy URL for a Django ``DATABASES`` entry of ``vendor``."""
    options = params.get("OPTIONS") or {}
    if vendor == "sqlite":
        return URL.create(ASYNC_DRIVERS[vendor], database=str(params.get("NAME") or "")).render_as_string(
            hide_password=False
        )
    query: dict[str, str] = {}
    if vendor == "mysql":
        query["charset"] = str(options.get("charset", "utf8mb4"))
    elif "sslmode" in options:
        query["ssl"] = str(options["sslmode"])
    url = URL.create(
        ASYNC_DRIVERS[vendor],
        username=params.get("USER") or None,
        password=params.get("PASSWORD") or None,
        host=params.get("HOST") or None,
        port=int(params["PORT"]) if params.get("PORT") else None,
        database=params.get("NAME") or None,
        query=query,
    )
    return url.render_as_string(hide_password=False)


def same_database(url_a: str | URL, url_b: str | URL) -> bool:
    """True if two URLs name the same database (driver, credentials and options aside)."""
    default_ports = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}

    def key(url: str | URL) -> tuple[Any, ...]:
        try:
            parsed = make_url(url)
        except Exception:
            return (str(url),)
        backend = parsed.get_backend_name()
        if backend == "sqlite":
            return (backend, os.path.abspath(parsed.database or ""))
        backend = {"mariadb": "mysql", "postgres": "postgresql"}.get(backend, backend)
        host = "localhost" if parsed.host in (None, "", "127.0.0.1", "::1") else parsed.host
        return (backend, host, parsed.port or default_ports.get(backend), parsed.database)

    return key(url_a) == key(url_b)
