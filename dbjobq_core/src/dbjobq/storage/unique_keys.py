"""Unique keys at enqueue: a job whose key is held by a waiting, pending or running job is not added.

The database decides, through the unique index over held keys (``schema.UNIQUE_KEY_INDEX``, a generated
column on MySQL/MariaDB): each keyed row is inserted on its own (``DefaultImpl.insert_unique``: ON
CONFLICT DO NOTHING where the database has it, else in a savepoint), and a row not inserted means the
key is held, so the holder's id is read instead. That holds across processes and inside the caller's
own transaction: a second inserter waits for the first one's transaction and then sees its row.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from .. import errors
from ..models import EnqueuedIds
from .dialects.default import INSERT_BATCH_SIZE
from .schema import jobs

if TYPE_CHECKING:
    from .dialects.default import DefaultImpl

logger = logging.getLogger(__name__)

#: How often to try again when the holder finished between the violation and the read of its id.
_ATTEMPTS = 5


async def insert_keyed(impl: DefaultImpl, conn: Any, rows: Sequence[Mapping[str, Any]]) -> EnqueuedIds:
    """Insert ``rows`` (:func:`.records.job_insert_params`, stamped by the database's clock) on ``conn``
    (an ``AsyncConnection`` or ``AsyncSession``, in its transaction); keyed rows one by one in a
    savepoint each, the others in bulk. The ids in order, with duplicates."""
    ids: list[str] = []
    duplicates: set[int] = set()
    seen: dict[str, str] = {}
    plain: list[Mapping[str, Any]] = []
    for position, row in enumerate(rows):
        key = row["unique_key"]
        if key is None:
            plain.append(row)
            ids.append(row["id"])
        elif key in seen:
            ids.append(seen[key])
            duplicates.add(position)
        else:
            holder = await _insert_or_find_holder(impl, conn, row)
            seen[key] = holder or row["id"]
            ids.append(seen[key])
            if holder is not None:
                duplicates.add(position)
                logger.debug(
                    "Unique key %r is held by job %s: nothing added",
                    key,
                    holder,
                    extra={"action": "enqueue_duplicate", "job_id": holder},
                )
    for start in range(0, len(plain), INSERT_BATCH_SIZE):
        await conn.execute(impl.insert_jobs_statement(), list(plain[start : start + INSERT_BATCH_SIZE]))
    return EnqueuedIds(ids, frozenset(duplicates))


async def _insert_or_find_holder(impl: DefaultImpl, conn: Any, row: Mapping[str, Any]) -> str | None:
    """Insert ``row``; ``None`` if it was added, else the id of the job holding its key."""
    stamped = impl.clock_stamped(row)
    for _ in range(_ATTEMPTS):
        if await impl.insert_unique(conn, stamped):
            return None
        held = impl.unique_key_held(row["unique_key"])
        holder = (await conn.execute(select(jobs.c.id).where(held).limit(1))).scalar()
        if holder is not None:
            return str(holder)
        # The holder finished in between: the key is free now, so the insert is tried again.
    raise errors.StorageError(
        f"Could not enqueue the job with unique key {row['unique_key']!r}: its holder kept changing; try again"
    )
