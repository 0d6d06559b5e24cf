"""Schedules as code: recurring jobs declared next to the code, and kept in step with the database.

A schedule is declared with ``@job(cron="0 3 * * *", tz="Europe/Paris")`` or ``@job(every=...)`` (its
id is the job type), or in a settings mapping (Django's ``DBJOBQ["SCHEDULES"]``, Flask's
``DBJOBQ_SCHEDULES``, ``DBJobQ(url, schedules=...)`` for FastAPI) of the form::

    {"nightly-report": {"job": "myapp.jobs.report", "cron": "0 3 * * *", "tz": "Europe/Paris",
                        "data": {"kind": "daily"}},
     "refresh-cache": {"job": refresh_cache, "every": timedelta(minutes=15)}}

Declarations are kept per process (like the ``@job`` registry). :func:`sync` makes the database agree
with them when a worker starts: new ones are added, changed ones updated, and schedules that came from
code and are no longer declared are removed. A schedule an operator made (CLI, admin, API) is never
changed or removed. Every step is a compare-and-set, so workers starting at once write one result.
"""

from __future__ import annotations

import difflib
import logging
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from . import registry, scheduling
from .errors import JobNotRegisteredError, ScheduleExistsError
from .models import Schedule, ScheduleType
from .serialization import dumps_payload, loads
from .storage.base import BaseStorage

logger = logging.getLogger(__name__)

#: The keys a settings entry may have.
KEYS = ("job", "cron", "every", "tz", "data", "queue", "priority", "max_retries")
#: Times a sync tries to update one schedule that other workers keep changing.
_ATTEMPTS = 3


@dataclass(frozen=True)
class Declaration:
    """One recurring job declared in code. ``queue``, ``priority`` and ``max_retries`` left ``None``
    take the job's ``@job`` defaults when the worker syncs (its module is imported by then)."""

    id: str
    job_type: str
    schedule_type: str
    expression: str
    tz: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None
    priority: int | None = None
    max_retries: int | None = None
    source: str = "code"

    def schedule(self) -> Schedule:
        """The schedule this declares (``next_run`` not computed yet), job defaults applied."""
        spec = registry.get_spec(self.job_type)
        return Schedule(
            id=self.id,
            job_type=self.job_type,
            job_data=dict(self.data),
            schedule_type=self.schedule_type,
            schedule_expression=self.expression,
            next_run=0.0,
            priority=self.priority if self.priority is not None else (spec.priority if spec else 0),
            max_retries=self.max_retries if self.max_retries is not None else (spec.max_retries if spec else 0),
            queue=self.queue if self.queue is not None else (spec.queue if spec else "default"),
            tz=self.tz,
            origin="code",
        )


def declaration(
    schedule_id: str,
    job: Callable[..., Any] | str,
    *,
    cron: str | None = None,
    every: float | timedelta | str | None = None,
    tz: str | None = None,
    data: Mapping[str, Any] | None = None,
    queue: str | None = None,
    priority: int | None = None,
    max_retries: int | None = None,
    source: str = "code",
) -> Declaration:
    """Validate one declaration (``ValueError``/``TypeError`` saying what to fix, naming ``source``)."""
    where = f"{source}: schedule {schedule_id!r}"
    if not isinstance(schedule_id, str) or not schedule_id or len(schedule_id) > 255:
        raise ValueError(f"{source}: a schedule id must be a non-empty string of at most 255 characters")
    if (cron is None) == (every is None):
        raise ValueError(f"{where} needs exactly one of cron='…' (e.g. '0 3 * * *') or every=… (e.g. 900 or '15m')")
    try:
        job_type = registry.job_name(job)
        if cron is not None:
            kind, expression = ScheduleType.CRON.value, cron
        else:
            kind, expression = ScheduleType.INTERVAL.value, f"{_seconds(every):g}"
        scheduling.validate(kind, expression)
        scheduling.validate_tz(kind, tz)
        payload = loads(dumps_payload(dict(data or {}) if isinstance(data, Mapping) or data is None else data))
    except (ValueError, TypeError, JobNotRegisteredError) as exc:
        raise type(exc)(f"{where}: {exc}") from None
    for name, value, low in (("priority", priority, None), ("max_retries", max_retries, 0)):
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or (low is not None and value < low)
        ):
            raise ValueError(f"{where}: {name} must be an int{' >= 0' if low is not None else ''}, not {value!r}")
    if queue is not None and (not isinstance(queue, str) or not queue or len(queue) > 64):
        raise ValueError(f"{where}: queue must be a non-empty string of at most 64 characters")
    return Declaration(schedule_id, job_type, kind, expression, tz, payload, queue, priority, max_retries, source)


def parse(settings: Any, source: str) -> list[Declaration]:
    """The declarations of a settings mapping ``{id: {"job": …, "cron"|"every": …, …}}`` (see the module
    docstring); ``source`` names the setting in messages (``DBJOBQ['SCHEDULES']``)."""
    if settings is None:
        return []
    if not isinstance(settings, Mapping):
        raise TypeError(
            f"{source} must be a dict of schedule id -> {{'job': …, 'cron' or 'every': …}}, "
            f"not {type(settings).__name__}"
        )
    found = []
    for schedule_id, entry in settings.items():
        if not isinstance(entry, Mapping):
            raise TypeError(
                f"{source}[{schedule_id!r}] must be a dict such as {{'job': 'myapp.jobs.report', 'cron': '0 3 * * *'}}"
            )
        unknown = [key for key in entry if key not in KEYS]
        if unknown:
            close = difflib.get_close_matches(str(unknown[0]), KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"{source}[{schedule_id!r}]: unknown key {unknown[0]!r}{hint}; valid keys: {', '.join(KEYS)}"
            )
        if "job" not in entry:
            raise ValueError(f"{source}[{schedule_id!r}] needs 'job': a @job function or its job type")
        options = {key: value for key, value in entry.items() if key != "job"}
        found.append(declaration(schedule_id, entry["job"], source=source, **options))
    return found


def _seconds(every: float | timedelta | str | None) -> float:
    if isinstance(every, timedelta):
        seconds = every.total_seconds()
    elif isinstance(every, str):
        from .cli.durations import parse_duration  # a plain parser: "15m", "2h30m", "90"

        seconds = parse_duration(every)
    elif isinstance(every, (int, float)) and not isinstance(every, bool):
        seconds = float(every)
    else:
        raise TypeError(f"every must be seconds, a timedelta or a duration such as '15m', not {every!r}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"every must be a positive duration, not {every!r}")
    return seconds


# -- the process's declarations ---------------------------------------------------------------
_declared: dict[str, Declaration] = {}
_lock = threading.Lock()


def declare(*declarations: Declaration) -> None:
    """Add declarations to this process's (idempotent). The same id declared differently is a
    ``ValueError`` naming both places: one schedule, one definition."""
    with _lock:
        for new in declarations:
            known = _declared.get(new.id)
            if known is not None and replace(known, source=new.source) != new:
                raise ValueError(
                    f"Schedule {new.id!r} is declared twice, differently ({known.source} and {new.source}): "
                    "give one of them another id"
                )
            _declared.setdefault(new.id, new)


def declare_source(source: str, declarations: Sequence[Declaration]) -> None:
    """Make ``declarations`` the ones ``source`` (a setting) declares, replacing what it declared before
    (settings changed, e.g. in a test); checked against the others as :func:`declare` does."""
    with _lock:
        previous = {key: value for key, value in _declared.items() if value.source == source}
        for key in previous:
            del _declared[key]
    try:
        declare(*declarations)
    except ValueError:
        with _lock:
            for new in declarations:
                if _declared.get(new.id) == new:
                    del _declared[new.id]
            _declared.update(previous)
        raise


def declared() -> list[Declaration]:
    """This process's declarations, by id."""
    with _lock:
        return [_declared[key] for key in sorted(_declared)]


# -- syncing ----------------------------------------------------------------------------------
@dataclass
class SyncResult:
    """What a sync did, by schedule id: ``kept`` are operators' schedules that share an id with a
    declaration (left alone), ``stranded`` code schedules this process can no longer vouch for."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    stranded: list[str] = field(default_factory=list)


def same_definition(a: Schedule, b: Schedule) -> bool:
    """True if two schedules run the same job on the same timetable (``enabled`` and times aside)."""
    return _definition(a) == _definition(b)


def _definition(s: Schedule) -> tuple[Any, ...]:
    return (s.job_type, s.job_data, s.schedule_type, s.schedule_expression, s.tz, s.queue, s.priority, s.max_retries)


def _timing(s: Schedule) -> tuple[Any, ...]:
    return (s.schedule_type, s.schedule_expression, s.tz)


async def sync(
    storage: BaseStorage, declarations: Sequence[Declaration] | None = None, *, now: float | None = None
) -> SyncResult:
    """Make the database's schedules agree with ``declarations`` (default: this process's).

    A new declaration is added (enabled, first firing at its next occurrence); a changed one is
    updated (its next run recomputed if its timetable changed; whether it is enabled stays the
    operator's choice); a schedule from code that is no longer declared is removed when its job type
    is registered here (this process has that code, so its absence is deliberate); otherwise it is
    left and logged as stranded. Operators' schedules are never touched.
    """
    wanted = {d.id: d.schedule() for d in (declared() if declarations is None else declarations)}
    now = await storage.now() if now is None else now  # the database's clock, as fire_due_schedules uses
    result = SyncResult()
    existing = {s.id: s for s in await storage.list_schedules()}
    for schedule_id, want in wanted.items():
        await _apply(storage, want, existing.get(schedule_id), now, result)
    for schedule_id, have in existing.items():
        if have.origin != "code" or schedule_id in wanted:
            continue
        if registry.get_spec(have.job_type) is None:
            result.stranded.append(schedule_id)
            logger.warning(
                "Schedule %s came from code but is not declared in this worker, and its job type %s is not "
                "registered here: left in place (delete it with `dbjobq schedules delete %s` if its code is gone)",
                schedule_id,
                have.job_type,
                schedule_id,
                extra={"action": "schedule_stranded", "schedule_id": schedule_id},
            )
        elif await storage.delete_schedule(schedule_id, if_updated_at=have.updated_at):
            result.removed.append(schedule_id)
    if result.added or result.changed or result.removed:
        logger.info(
            "Schedules from code: %d added, %d changed, %d removed, %d unchanged",
            len(result.added),
            len(result.changed),
            len(result.removed),
            len(result.unchanged),
            extra={"action": "schedules_synced"},
        )
    return result


async def _apply(storage: BaseStorage, want: Schedule, have: Schedule | None, now: float, result: SyncResult) -> None:
    """Add or update one declared schedule, compare-and-set, re-reading when another worker got there first."""
    for _ in range(_ATTEMPTS):
        if have is None:
            # From 0: an interval is aligned to the epoch (every 15m fires at :00, :15, ... UTC), so every
            # worker computes the same first run.
            want.next_run = scheduling.next_after(want, now)
            try:
                await storage.create_schedule(want)
            except ScheduleExistsError:
                have = await storage.get_schedule(want.id)  # another worker added it meanwhile
                continue
            result.added.append(want.id)
            return
        if have.origin != "code":
            result.kept.append(want.id)
            logger.warning(
                "Schedule %s is declared in code but an operator made one with that id: left as the operator "
                "made it (delete it, or give the declaration another id)",
                want.id,
                extra={"action": "schedule_kept", "schedule_id": want.id},
            )
            return
        if same_definition(have, want):
            result.unchanged.append(want.id)
            return
        updated = replace(
            have,
            **{
                k: getattr(want, k)
                for k in (
                    "job_type",
                    "job_data",
                    "schedule_type",
                    "schedule_expression",
                    "tz",
                    "queue",
                    "priority",
                    "max_retries",
                )
            },
        )
        if _timing(updated) != _timing(have):
            updated.next_run = scheduling.next_after(replace(updated, next_run=0.0), now)
        if await storage.update_schedule(updated, if_updated_at=have.updated_at):
            result.changed.append(want.id)
            return
        have = await storage.get_schedule(want.id)  # changed or removed meanwhile: look again
    raise RuntimeError(f"Schedule {want.id!r} kept changing while it was synced: start the worker again")
