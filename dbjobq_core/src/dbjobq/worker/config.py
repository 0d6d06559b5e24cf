"""Every worker option in one place: its default, its check and its help (:class:`WorkerConfig`).

``Worker(...)``, the ``dbjobq worker`` flags, Django's ``DBJOBQ`` dict, Flask's ``DBJOBQ_*`` keys and
FastAPI's ``DBJobQ(url, **options)`` all read this table: adding an option touches this module only.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ..errors import InvalidOptionError
from ..execution import SyncWrapper

DAY = 86400.0


def _option(default: Any, help: str, *, flags: tuple[str, ...] = (), setting: bool = True) -> Any:
    """A :class:`WorkerConfig` field: ``flags`` put it on the command line, ``setting`` in the settings."""
    return field(default=default, metadata={"help": help, "flags": flags, "setting": setting})


class _Invalid(ValueError):
    """A value out of its option's range; the message says what was expected."""




@dataclass(frozen=True)
class WorkerConfig:
    """A worker's options, with their defaults (stated here once) and their validation.

    ``WorkerConfig(concurrency=0)`` raises :class:`~dbjobq.errors.InvalidOptionError` (a
    :class:`~dbjobq.ConfigurationError`, so a ``ValueError``) for a bad value;
    :meth:`from_options` also rejects unknown names, suggesting the closest one.
    """

    concurrency: int = _option(10, "Jobs run at the same time.", flags=("--concurrency", "-c"))
    queues: tuple[str, ...] | None = _option(
        None, "Serve only this queue (repeat for several; default: all).", flags=("--queue", "-q")
    )
    poll_interval: float = _option(1.0, "Seconds between polls when no wake-up arrives.", flags=("--poll-interval",))
    schedule_poll_interval: float = _option(
        60.0, "Seconds between schedule checks.", flags=("--schedule-poll-interval",)
    )
    heartbeat_interval: float = _option(
        5.0, "Seconds between lease renewals (shorter than the lease timeout).", flags=("--heartbeat-interval",)
    )
    lease_timeout: float = _option(
        30.0, "Seconds a claim lasts without renewal; then the job is recovered.", flags=("--lease-timeout",)
    )
    shutdown_timeout: float = _option(
        30.0,
        "Seconds running jobs get to finish on stop before they go back to pending.",
        flags=("--shutdown-timeout",),
    )
    prefetch: int | None = _option(
        None, "Jobs claimed beyond the free slots (default: adapted to job duration).", flags=("--prefetch",)
    )
    retention: float | None = _option(7 * DAY, "Seconds completed and cancelled jobs are kept (None: forever).")
    failed_retention: float | None = _option(30 * DAY, "Seconds failed jobs are kept (None: forever).")
    maintenance_interval: float | None = _option(
        None, "Seconds between lease recovery passes (default: half the lease timeout, at most 30)."
    )
    flush_interval: float = _option(0.005, "Seconds finished jobs' outcomes wait to be recorded together.")
    flush_size: int = _option(200, "Outcomes recorded in one batch at most.")
    error_limit: int | None = _option(
        None,
        "Characters of a failure's text (type, message, traceback) stored with the job; the start and "
        "the end of a longer one are kept (default: whole, as far as the database server takes it).",
        flags=("--error-limit",),
    )
    # A worker's id must be unique: a shared setting would give every process the same one.
    name: str | None = _option(
        None, "The worker's id, stored on the jobs it runs (default: host:pid:random).", flags=("--name",),
        setting=False,
    )
    wrap_sync: SyncWrapper | None = _option(  # noqa: RUF009 - _option returns a dataclasses.field
        None, "Wraps each sync job call in its thread.", setting=False
    )
    metrics: bool | None = _option(
        None, "Record Prometheus metrics (None: when prometheus-client is installed; False: never)."
    )
    metrics_port: int | None = _option(
        None, "Serve this worker's Prometheus metrics on this port (needs dbjobq[metrics]).", flags=("--metrics-port",)
    )
    metrics_host: str = _option("127.0.0.1", "The address --metrics-port listens on.", flags=("--metrics-host",))
    tracing: bool | None = _option(
        None, "Trace job runs with OpenTelemetry (None: when a tracer provider is configured; False: never)."
    )

    def __post_init__(self) -> None:
        for option in dataclasses.fields(self):
            try:
                value = _check(option.name, getattr(self, option.name))
            except _Invalid as exc:
                message = f"{option.name} must be {exc}, not {getattr(self, option.name)!r}"
                raise InvalidOptionError(message, option.name) from None
            object.__setattr__(self, option.name, value)
        if self.heartbeat_interval >= self.lease_timeout:
            raise InvalidOptionError(
                f"heartbeat_interval ({self.heartbeat_interval:g}s) must be shorter than lease_timeout "
                f"({self.lease_timeout:g}s), or leases expire between two renewals",
                "heartbeat_interval",
            )

    @classmethod
    def from_options(
        cls, options: Mapping[str, Any], *, label: Callable[[str], str] = str, base: WorkerConfig | None = None
    ) -> WorkerConfig:
        """Validate ``options`` (option name -> value) over ``base`` (default: the defaults).

        ``label`` names an option in messages as the user wrote it (``DBJOBQ_CONCURRENCY``, ...).
        Raises :class:`~dbjobq.errors.InvalidOptionError` with a did-you-mean hint for an unknown name.
        """
        names = option_names()
        for name in options:
            if name not in names:
                raise InvalidOptionError(
                    f"Unknown worker option {label(name)!s}{did_you_mean(name, names, label)}; "
                    f"valid options: {', '.join(label(n) for n in names)}",
                    name,
                )
        values = {**(base.options() if base is not None else {}), **options}
        for name, value in options.items():
            try:
                values[name] = _check(name, value)
            except _Invalid as exc:
                raise InvalidOptionError(f"{label(name)} must be {exc}, not {value!r}", name) from None
        try:
            return cls(**values)
        except InvalidOptionError as exc:  # a rule between options (heartbeat vs lease)
            message = str(exc)
            for name in ("heartbeat_interval", "lease_timeout"):
                message = message.replace(name, label(name))
            raise InvalidOptionError(message, exc.option) from None

    def options(self) -> dict[str, Any]:
        """Option name -> value (shallow): ``Worker(queue, **config.options())`` builds this worker."""
        return {option.name: getattr(self, option.name) for option in dataclasses.fields(self)}

    def settings(self) -> dict[str, Any]:
        """The options a settings file may set (every one but the per-process ``name`` and code hooks)."""
        return {name: value for name, value in self.options().items() if name in setting_names()}


def option_names() -> list[str]:
    """Every option's name, in declaration order."""
    return [option.name for option in dataclasses.fields(WorkerConfig)]


def setting_names() -> list[str]:
    """The options that settings (Django ``DBJOBQ``, Flask ``DBJOBQ_*``) may set."""
    return [option.name for option in dataclasses.fields(WorkerConfig) if option.metadata["setting"]]


def option_help(name: str) -> str:
    """The help text of option ``name``."""
    return str(_fields()[name].metadata["help"])


def option_flags(name: str) -> tuple[str, ...]:
    """The command-line flags of option ``name`` (empty: not on the command line)."""
    return tuple(_fields()[name].metadata["flags"])


def default(name: str) -> Any:
    """The default value of option ``name``."""
    return _fields()[name].default


def did_you_mean(name: str, candidates: Sequence[str], label: Callable[[str], str] = str) -> str:
    """`` (did you mean X?)`` for the candidate closest to ``name``, or an empty string."""
    close = difflib.get_close_matches(name.lower(), [c.lower() for c in candidates], n=1)
    if not close:
        return ""
    match = next(c for c in candidates if c.lower() == close[0])
    return f" (did you mean {label(match)}?)"


def _fields() -> dict[str, dataclasses.Field[Any]]:
    return {option.name: option for option in dataclasses.fields(WorkerConfig)}


# -- checks: each returns the normalised value or raises _Invalid(what was expected) -----------------
def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _int(value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _Invalid("a positive integer" if minimum == 1 else f"an integer >= {minimum}")
    return value


def _seconds(value: Any, *, positive: bool) -> float:
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if not _is_number(value) or value < 0 or (positive and value == 0):
        raise _Invalid("a positive number of seconds" if positive else "a number of seconds >= 0")
    return float(value)


def _queues(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if (
        isinstance(value, str)
        or not isinstance(value, (Sequence, set, frozenset))
        or not all(isinstance(q, str) and q for q in value)
    ):
        raise _Invalid('a list of names (queue names, e.g. ["mail"]) or None for all queues')
    return tuple(value) or None


def _check(name: str, value: Any) -> Any:
    """``value`` checked and normalised for option ``name``."""
    if name == "concurrency" or name == "flush_size":
        return _int(value, 1)
    if name == "queues":
        return _queues(value)
    if name in ("poll_interval", "schedule_poll_interval", "heartbeat_interval", "lease_timeout"):
        return _seconds(value, positive=True)
    if name == "shutdown_timeout" or name == "flush_interval":
        return _seconds(value, positive=False)
    if name == "error_limit":
        if value is None:
            return None
        try:
            return _int(value, 1000)
        except _Invalid:
            raise _Invalid("an integer >= 1000 (characters) or None (store errors whole)") from None
    if name == "prefetch":
        return None if value is None else _int(value, 0)
    if name in ("retention", "failed_retention"):
        if value is None:
            return None
        try:
            return _seconds(value, positive=False)
        except _Invalid:
            raise _Invalid("seconds, a timedelta or None (keep forever)") from None
    if name == "maintenance_interval":
        return None if value is None else _seconds(value, positive=True)
    if name == "name":
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise _Invalid("a non-empty string or None")
        return value
    if name in ("metrics", "tracing"):
        if value is not None and not isinstance(value, bool):
            raise _Invalid("True, False or None (automatic)")
        return value
    if name == "metrics_port":
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
            raise _Invalid("a port number (0 to 65535) or None")
        return value
    if name == "metrics_host":
        if not isinstance(value, str) or not value.strip():
            raise _Invalid("a host name or address")
        return value
    if name == "wrap_sync":
        if value is not None and not callable(value):
            raise _Invalid("a callable taking the job call, or None")
        return value
    raise AssertionError(f"no check for worker option {name!r}")  # pragma: no cover - a new option needs one


#: Every option's default: ``Worker(...)``'s signature and the adapters' settings read them here.
DEFAULTS = WorkerConfig()
