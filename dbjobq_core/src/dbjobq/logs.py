"""The log lines of a worker embedded in a web server whose logging covers only the server's loggers.

uvicorn and gunicorn configure their own loggers (``uvicorn``, ``gunicorn.error``) and leave the root
logger without handlers, at WARNING: the ``dbjobq`` logger's INFO lines (a job finished) would be
dropped, and its warnings printed bare by logging's last resort. The library never configures logging
otherwise; but when the application configured nothing for ``dbjobq`` (no handler on it or on the root
logger, no level), :func:`log_through_host` sends its records to the server's handlers, at the
server's level. ``dbjobq`` keeps propagating, and once the application configures the root logger,
that configuration takes over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

LIBRARY_LOGGER = "dbjobq"


class _HostHandler(logging.Handler):
    """Hands ``dbjobq`` records to the handlers of a host logger (the web server's)."""

    def __init__(self, host: logging.Logger) -> None:
        super().__init__()
        self.host = host

    def emit(self, record: logging.LogRecord) -> None:
        if logging.getLogger().handlers:
            return  # the application configured logging since: the root logger has the record
        if record.levelno < self.host.getEffectiveLevel():
            return
        for handler in handlers_of(self.host):
            if record.levelno >= handler.level:
                handler.handle(record)


def handlers_of(logger: logging.Logger) -> list[logging.Handler]:
    """The handlers a record logged on ``logger`` reaches (its own, then its parents' while it propagates)."""
    found: list[logging.Handler] = []
    current: logging.Logger | None = logger
    while current is not None:
        found.extend(current.handlers)
        if not current.propagate:
            break
        current = current.parent
    return found


def log_through_host(host_loggers: Sequence[str]) -> Callable[[], None]:
    """If logging is not configured for ``dbjobq``, log it through the first of ``host_loggers`` that
    has handlers, at INFO (the server's level still applies). Return a function that undoes it.

    Does nothing (and returns a no-op) when the ``dbjobq`` logger has a handler or a level of its own,
    when the root logger has handlers, or when no host logger has any.
    """
    library = logging.getLogger(LIBRARY_LOGGER)
    if library.handlers or library.level != logging.NOTSET or logging.getLogger().handlers:
        return _nothing
    existing = logging.Logger.manager.loggerDict
    hosts = [logging.getLogger(name) for name in host_loggers if isinstance(existing.get(name), logging.Logger)]
    host = next((logger for logger in hosts if handlers_of(logger)), None)
    if host is None:
        return _nothing
    handler = _HostHandler(host)
    library.addHandler(handler)
    library.setLevel(logging.INFO)

    def undo() -> None:
        library.removeHandler(handler)
        if library.level == logging.INFO:
            library.setLevel(logging.NOTSET)

    return undo


def _nothing() -> None:
    return None
