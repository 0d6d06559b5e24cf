"""``dbjobq web``: the dashboard on uvicorn, read-only unless started with a token."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress

import click

from ..errors import ConfigurationError
from ..queue import JobQueue
from ..redaction import mask_url
from ..storage.sqlalchemy_storage import SQLAlchemyStorage
from ..storage.urls import parse_url
from .main import CliState, pass_state

#: Environment variable read when ``--token`` is not given.
TOKEN_ENV = "DBJOBQ_WEB_TOKEN"


@click.command(short_help="Serve the web dashboard.")
@click.option("--url", "url", default=None, metavar="URL", help="Database URL (default: the group's --url).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option(
    "--token",
    envvar=TOKEN_ENV,
    show_envvar=True,
    default=None,
    help="Allow actions (retry, cancel, …) to whoever presents this token; without it the dashboard is read-only.",
)
@pass_state
def web(state: CliState, url: str | None, host: str, port: int, token: str | None) -> None:
    """Serve the dashboard (overview, jobs, schedules, workers, queues) until Ctrl+C.

    Pages are readable by anyone who reaches HOST:PORT (127.0.0.1 by default). Actions need --token:
    open the printed link once, and the browser keeps the token in a cookie.
    """
    try:
        import uvicorn

        from ..web.asgi import create_app
    except (ImportError, ConfigurationError):
        raise click.ClickException("dbjobq web needs the web extra: pip install 'dbjobq[web]'") from None
    if token is not None and len(token) < 8:
        raise click.BadParameter("use at least 8 characters", param_hint="--token")
    database = url or state.url
    parsed = parse_url(database)
    click.echo(f"Opening {mask_url(parsed)} …")

    async def serve() -> None:
        storage = SQLAlchemyStorage(database)
        await storage.initialize()
        try:
            click.echo("Database ready.")
            app = create_app(JobQueue(storage), token=token)
            server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on"))
            shown = f"[{host}]" if ":" in host else host
            link = f"http://{shown}:{port}/"
            click.echo(f"Dashboard at {link}" + ("" if token is None else f"?token={token}"))
            if token is None:
                click.echo("Read-only: start with --token to allow retry, cancel and the other actions.")
            if not _is_loopback(host):
                click.echo(f"Warning: listening on {host}: every page is readable by anyone who reaches it.", err=True)
            await server.serve()
        finally:
            await storage.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
    click.echo("Dashboard stopped.")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
