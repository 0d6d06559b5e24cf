"""The ``dbjobq`` command group: the database URL, running async work, and turning errors into one line."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

import click

from .. import __version__
from ..errors import DBJobQError
from ..queue import JobQueue
from ..storage.sqlalchemy_storage import SQLAlchemyStorage
from ..storage.urls import parse_url
from .terminal import escape_control

T = TypeVar("T")

#: Environment variable read when ``--url`` is not given.
URL_ENV = "DBJOBQ_DATABASE_URL"
#: Environment variables read when ``--pgbouncer`` / ``--listen-url`` are not given.
PGBOUNCER_ENV = "DBJOBQ_PGBOUNCER"
LISTEN_URL_ENV = "DBJOBQ_LISTEN_URL"
#: The database used without ``--url`` or ``DBJOBQ_DATABASE_URL``: a file in the current directory.
DEFAULT_URL = "sqlite+aiosqlite:///dbjobq.sqlite3"

#: Errors that come from bad input or an unreachable database: shown as one line, never a traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (DBJobQError, ValueError, TypeError, LookupError, OSError)


_SQLALCHEMY_LINK = re.compile(r"\s*\(Background on this error at: [^)]*\)")


def one_line(exc: BaseException) -> str:
    """The exception's message on a single line, control characters escaped (it may quote stored text)."""
    message = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
    text = " ".join(part.strip() for part in message.splitlines() if part.strip())
    text = _SQLALCHEMY_LINK.sub("", text).strip()
    return escape_control(text) or type(exc).__name__


@dataclass(frozen=True)
class CliState:
    """What the group passes to every sub-command (its repr leaves the URL, which may hold a password, out)."""

    url: str = field(repr=False)
    #: PostgreSQL behind PgBouncer in transaction pooling (``SQLAlchemyStorage(pgbouncer=True)``).
    pgbouncer: bool = False
    #: A direct connection for LISTEN when ``pgbouncer`` is set.
    listen_url: str | None = field(default=None, repr=False)

    def storage(self) -> SQLAlchemyStorage:
        """A new (not yet initialised) storage for the URL."""
        return SQLAlchemyStorage(self.url, pgbouncer=self.pgbouncer, listen_url=self.listen_url)

    def run(self, work: Callable[[JobQueue], Awaitable[T]]) -> T:
        """Open the storage, run ``work(queue)`` on a fresh event loop, close the storage."""

        async def main() -> T:
            storage = self.storage()
            try:
                await storage.initialize()
                return await work(JobQueue(storage))
            finally:
                await storage.close()

        return asyncio.run(main())


class DBJobQGroup(click.Group):
    """A click group whose errors are one line on stderr: exit 1 for failures, 2 for usage errors."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the sub-command, turning expected errors into :class:`click.ClickException`."""
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            raise click.ClickException(one_line(exc)) from exc

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Like :meth:`click.Group.main`, but a usage error is a single ``Error:`` line too."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            exc.show()  # the help text, as click prints it
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx is not None else "dbjobq"
            _fail(f"{one_line(exc)} (see '{command} --help')", exc.exit_code)
        except click.ClickException as exc:
            _fail(one_line(exc), exc.exit_code)
        except (click.Abort, EOFError, KeyboardInterrupt):
            _fail("Aborted.", 1)
        sys.exit(result if isinstance(result, int) else 0)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


@click.group(
    cls=DBJobQGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--url",
    envvar=URL_ENV,
    show_envvar=True,
    default=DEFAULT_URL,
    show_default=True,
    metavar="URL",
    help="Database URL with an async driver: sqlite+aiosqlite:///path, postgresql+asyncpg://user@host/db "
    "or mysql+aiomysql://user@host/db.",
)
@click.option(
    "--pgbouncer",
    envvar=PGBOUNCER_ENV,
    show_envvar=True,
    is_flag=True,
    help="PostgreSQL is reached through PgBouncer in transaction pooling: no prepared statement outlives "
    "a transaction; LISTEN needs --listen-url, else workers poll.",
)
@click.option(
    "--listen-url",
    envvar=LISTEN_URL_ENV,
    show_envvar=True,
    metavar="URL",
    help="With --pgbouncer: a direct PostgreSQL URL (not through PgBouncer) for LISTEN, so idle workers "
    "wake within milliseconds.",
)
@click.version_option(__version__, "-V", "--version", prog_name="dbjobq")
@click.pass_context
def cli(ctx: click.Context, url: str, pgbouncer: bool, listen_url: str | None) -> None:
    """DBJobQ: an async job queue in your database.

    Run workers, enqueue and inspect jobs, manage recurring schedules. Every command creates the
    tables if they are missing. Add --json to jobs, job, stats and schedules list for scripts.
    """
    parse_url(url)  # a bad URL fails here, before any work, with the URL to use instead
    if listen_url is not None:
        parse_url(listen_url)
    SQLAlchemyStorage(url, pgbouncer=pgbouncer, listen_url=listen_url)  # a misplaced option fails here too
    ctx.obj = CliState(url, pgbouncer=pgbouncer, listen_url=listen_url)


pass_state = click.make_pass_decorator(CliState)
