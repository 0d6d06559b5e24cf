"""``dbjobq migrate``: bring the database to this dbjobq's schema version, saying from which."""

from __future__ import annotations

import asyncio

import click

from ..redaction import mask_url
from ..storage.schema import SCHEMA_VERSION
from .main import CliState, pass_state


@click.command(short_help="Upgrade the tables to this dbjobq's schema (print the version before/after).")
@pass_state
def migrate(state: CliState) -> None:
    """Create missing tables and upgrade existing ones to this dbjobq's schema version, in place.

    Safe to run again, and while workers run (each upgrade step checks what exists first). Workers
    and ``init-db`` upgrade the same way when they start; this command does it ahead of a deploy.
    """

    async def run() -> tuple[int | None, int | None]:
        storage = state.storage()
        try:
            before = await storage.stored_schema_version()
            await storage.initialize()
            return before, await storage.stored_schema_version()
        finally:
            await storage.close()

    before, after = asyncio.run(run())
    where = mask_url(state.storage().url)
    if before is None:
        click.echo(f"Created the DBJobQ tables at schema version {after} in {where}")
    elif before == after:
        click.echo(f"Schema version {after} (current for this dbjobq: {SCHEMA_VERSION}): nothing to do in {where}")
    else:
        click.echo(f"Upgraded the schema from version {before} to {after} in {where}")
