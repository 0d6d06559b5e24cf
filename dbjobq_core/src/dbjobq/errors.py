"""The exceptions DBJobQ raises. Each class's docstring is its default message."""

from __future__ import annotations


class DBJobQError(Exception):
    """A DBJobQ error."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class ConfigurationError(DBJobQError, ValueError):
    """DBJobQ is misconfigured."""


class InvalidOptionError(ConfigurationError):
    """A worker option has a bad value or an unknown name; ``option`` names it."""

    def __init__(self, message: str, option: str) -> None:
        super().__init__(message)
        self.option = option


class StorageError(DBJobQError):
    """The database could not complete the operation."""


class StorageNotInitializedError(StorageError):
    """Storage not initialized: call `await storage.initialize()` (or use `async with storage:`) first."""


class StorageClosedError(StorageError):
    """Storage is closed: create a new SQLAlchemyStorage to use the database again."""


class WorkerError(DBJobQError):
    """A worker stopped on an error of its own (one of its loops died; the log has the traceback)."""


class JobNotFoundError(DBJobQError, LookupError):
    """No job has that id."""


class InvalidJobStateError(DBJobQError):
    """The job is not in a state that allows this operation."""


class ScheduleExistsError(DBJobQError):
    """A schedule with that id already exists: choose another id or update the existing schedule."""


class ScheduleNotFoundError(DBJobQError, LookupError):
    """No schedule has that id."""


class JobNotRegisteredError(DBJobQError, LookupError):
    """The job type is not registered: decorate the function with `@job()` and import its module in the
    worker (e.g. `dbjobq worker --import myapp.jobs`)."""


class PayloadTooLargeError(DBJobQError, ValueError):
    """The job's data is larger than the database server accepts in one statement (MySQL/MariaDB's
    `max_allowed_packet`): nothing was written. Store large content elsewhere and enqueue a reference
    to it, or raise `max_allowed_packet` on the server."""
