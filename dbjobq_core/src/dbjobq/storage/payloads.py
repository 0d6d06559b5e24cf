"""Payloads against the server's limit on one statement (MySQL/MariaDB's ``max_allowed_packet``).

The columns hold any size (``LONGTEXT`` on MySQL/MariaDB, ``TEXT`` elsewhere), but a MySQL/MariaDB
server refuses a statement larger than ``max_allowed_packet`` (16 MB by default). So, where a
dialect reports such a limit: enqueue refuses data that cannot fit, before anything is written
(:func:`check_rows`); a result or error that cannot fit is cut with a marker saying so
(:func:`fit_outcome`), never lost silently; and bulk inserts are split so that no statement
outgrows it (:func:`split_rows`). PostgreSQL and SQLite report no limit (1 GB per value).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .. import errors
from ..models import Outcome

#: Bytes of a statement besides the payload itself (the SQL, the other columns, the protocol).
STATEMENT_OVERHEAD = 64 * 1024
#: The characters a MySQL client escapes with a backslash in a string literal (one byte more each).
_ESCAPED = ("\\", "'", '"', "\n", "\r", "\0", "\x1a")


#: The same characters as one regex class: for short texts one ``findall`` is cheaper than seven counts.
_ESCAPED_ANY = re.compile("[" + re.escape("".join(_ESCAPED)) + "]")
#: From this length on, seven ``str.count`` passes are cheaper than the regex (measured with CPython 3.11).
_COUNT_FROM = 512


def packet_bytes(text: str | None) -> int:
    """The bytes ``text`` takes in a statement sent to a MySQL/MariaDB server (UTF-8, escapes included)."""
    if text is None:
        return 0
    size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    if len(text) < _COUNT_FROM:
        return size + len(_ESCAPED_ANY.findall(text))
    return size + sum(map(text.count, _ESCAPED))


def check_rows(rows: Sequence[Mapping[str, Any]], limit: int | None) -> None:
    """Raise :class:`~dbjobq.errors.PayloadTooLargeError` if one row's data cannot fit in ``limit``."""
    if limit is None:
        return
    for row in rows:
        size = packet_bytes(row["data"]) + STATEMENT_OVERHEAD
        if size > limit:
            raise errors.PayloadTooLargeError(
                f"Job data of {packet_bytes(row['data']):,} bytes (job type {row['type']!r}) is over what the "
                f"database server accepts in one statement: max_allowed_packet = {limit:,} bytes, less "
                f"{STATEMENT_OVERHEAD:,} for the rest of the statement. Nothing was enqueued. Store large "
                "content elsewhere (a file, object storage) and enqueue a reference to it, or raise the "
                "server's max_allowed_packet (SET GLOBAL max_allowed_packet = …, and in its configuration file)."
            )


def split_rows(rows: Sequence[Mapping[str, Any]], count: int, limit: int | None) -> Iterator[list[Mapping[str, Any]]]:
    """``rows`` in batches of at most ``count`` rows and, under a ``limit``, of about half of it in bytes."""
    budget = None if limit is None else max(limit // 2, 1)
    batch: list[Mapping[str, Any]] = []
    size = 0
    for row in rows:
        row_size = packet_bytes(row["data"]) + 512 if budget is not None else 0
        if batch and (len(batch) >= count or (budget is not None and size + row_size > budget)):
            yield batch
            batch, size = [], 0
        batch.append(row)
        size += row_size
    if batch:
        yield batch


def fit_outcome(outcome: Outcome, limit: int | None) -> Outcome:
    """``outcome`` with its result and error cut, each with a marker, if together they cannot fit in
    ``limit``. A cut result stays JSON: a string holding the start of the result's JSON and the marker."""
    if limit is None:
        return outcome
    budget = limit - STATEMENT_OVERHEAD
    result_size, error_size = packet_bytes(outcome.result), packet_bytes(outcome.error)
    if result_size + error_size <= budget:
        return outcome
    share = budget // 2 if outcome.result is not None and outcome.error is not None else budget
    result, error = outcome.result, outcome.error
    if result is not None and result_size > share:
        result = _cut_json(result, share, limit)
    if error is not None and error_size > share:
        error = _cut_text(error, share, limit)
    return dataclasses.replace(outcome, result=result, error=error)


def marker(over: int, limit: int) -> str:
    """The note that ends a cut value."""
    return (
        f"… [truncated by dbjobq: {over:,} bytes over the server's max_allowed_packet of {limit:,} bytes; "
        "raise it on the database server to keep such values whole]"
    )


def _cut_text(text: str, budget: int, limit: int) -> str:
    note = marker(packet_bytes(text) - budget, limit)
    keep = budget - packet_bytes(note) - 16
    head = _prefix(text, keep)
    return f"{head}\n{note}"


def _cut_json(text: str, budget: int, limit: int) -> str:
    note = marker(packet_bytes(text) - budget, limit)
    # JSON-encoding the start of the text escapes its quotes and backslashes again: measure, then trim.
    keep = budget - packet_bytes(note) - 16
    while True:
        cut = json.dumps(_prefix(text, keep) + note)
        size = packet_bytes(cut)
        if size <= budget or keep <= 0:
            return cut
        keep -= max(size - budget, 1024)


def _prefix(text: str, budget: int) -> str:
    """The longest start of ``text`` that takes at most ``budget`` bytes in a statement."""
    if budget <= 0:
        return ""
    head = text[:budget]  # at least one byte per character: never more than budget characters fit
    while packet_bytes(head) > budget:
        head = head[: max(len(head) - (packet_bytes(head) - budget), 0)]
    return head
