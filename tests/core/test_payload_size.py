"""Payloads of any size: data, results and errors stored whole on every database; past the server's
statement limit (MySQL/MariaDB's max_allowed_packet) a clear error at enqueue, a marker on outcomes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from dbjobq import JobQueue, PayloadTooLargeError, Worker
from dbjobq.models import JobStatus, Outcome
from dbjobq.storage import SQLAlchemyStorage
from dbjobq.storage.payloads import packet_bytes
from tests.core import jobs

KB, MB = 1024, 1024 * 1024


async def _burst(queue: JobQueue, **options: Any) -> Worker:
    worker = Worker(queue, poll_interval=0.05, **options)
    await asyncio.wait_for(worker.run(burst=True), timeout=120)
    return worker


@pytest.mark.parametrize("size", [200 * KB, 10 * MB], ids=["200kB", "10MB"])
async def test_payload_size_data_results_and_errors_round_trip_whole(queue: JobQueue, size: int) -> None:
    blob = "d" * (size - 6) + "\"\\'é\n\0"  # with characters a MySQL client escapes, one of two UTF-8 bytes
    data_id = await queue.enqueue(jobs.returns_size, {"size": size, "blob": blob})
    error_id = await queue.enqueue(jobs.raises_huge, {"size": size})
    [many_id] = await queue.enqueue_many(jobs.returns_size, [{"size": 1, "blob": blob}])
    await _burst(queue, concurrency=2)

    done = await queue.get_job(data_id)
    assert done is not None and done.status == "completed", done and done.error
    assert done.data["blob"] == blob and done.result == "r" * size
    failed = await queue.get_job(error_id)
    assert failed is not None and failed.status == "failed"
    assert failed.error is not None and failed.error.startswith("ValueError: start-" + "x" * size + "-end\n")
    assert "Traceback (most recent call last)" in failed.error and "truncated by dbjobq" not in failed.error
    bulk = await queue.get_job(many_id)
    assert bulk is not None and bulk.data["blob"] == blob and bulk.status == "completed"


def _mysql_only(storage: SQLAlchemyStorage) -> None:
    if storage.dialect != "mysql":
        pytest.skip("only MySQL/MariaDB bound a statement's size (max_allowed_packet); elsewhere values hold 1 GB")


async def _packet(storage: SQLAlchemyStorage) -> int:
    limit = await storage._db.impl.packet_limit(storage._db)
    assert limit is not None
    return limit


async def test_payload_size_over_max_allowed_packet_is_refused_and_nothing_written(
    storage: SQLAlchemyStorage, queue: JobQueue
) -> None:
    _mysql_only(storage)
    too_big = {"blob": "x" * (await _packet(storage))}
    with pytest.raises(PayloadTooLargeError, match="max_allowed_packet = 16,777,216 bytes") as raised:
        await queue.enqueue(jobs.add, too_big)
    assert "Nothing was enqueued" in str(raised.value) and isinstance(raised.value, ValueError)
    with pytest.raises(PayloadTooLargeError):
        await queue.enqueue_many(jobs.add, [{"a": 1, "b": 2}, too_big, {"a": 3, "b": 4}])
    assert await queue.list_jobs() == []  # not one job of the batch

    # Many large jobs at once: split into statements that each fit.
    ids = await queue.enqueue_many(jobs.returns_size, [{"size": 1, "blob": "y" * (3 * MB)} for _ in range(8)])
    assert len(await queue.list_jobs()) == len(ids) == 8


async def test_payload_size_result_and_error_over_the_limit_are_cut_with_a_marker(
    storage: SQLAlchemyStorage, queue: JobQueue
) -> None:
    _mysql_only(storage)
    size = await _packet(storage) + MB
    result_id = await queue.enqueue(jobs.returns_size, {"size": size})
    error_id = await queue.enqueue(jobs.raises_huge, {"size": size})
    await _burst(queue, concurrency=1)

    done = await queue.get_job(result_id)
    assert done is not None and done.status == "completed"
    assert isinstance(done.result, str) and done.result.startswith(
        '"rrrr'
    )  # the start of the JSON text, kept as a string
    assert "[truncated by dbjobq: " in done.result and "max_allowed_packet" in done.result
    failed = await queue.get_job(error_id)
    assert failed is not None and failed.status == "failed" and failed.error is not None
    assert failed.error.startswith("ValueError: start-xxx") and "[truncated by dbjobq: " in failed.error
    assert len(failed.error) > size // 2  # cut to what fits, not dropped


async def test_payload_size_one_outcome_that_cannot_be_written_does_not_block_the_others(
    storage: SQLAlchemyStorage, queue: JobQueue
) -> None:
    ids = [await queue.enqueue(jobs.add, {"a": i, "b": 1}) for i in range(4)]
    claimed = await storage.claim_jobs(10, worker_id="w", lease_timeout=30)
    assert sorted(j.id for j in claimed) == sorted(ids)
    outcomes = [
        Outcome(j.id, j.lease_token or "", JobStatus.COMPLETED, result=json.dumps(i)) for i, j in enumerate(claimed)
    ]
    # Text that no database driver can encode (a lone surrogate): the database refuses this outcome.
    bad = claimed[1]
    outcomes[1] = Outcome(bad.id, bad.lease_token or "", JobStatus.FAILED, error="ValueError: \ud800 unencodable")

    accepted = await storage.record_outcomes(outcomes)

    assert accepted == set(ids)
    refused = await queue.get_job(bad.id)
    assert refused is not None and refused.status == "failed"
    assert refused.error is not None and refused.error.startswith("OutcomeNotRecorded: DBJobQ could not record")
    assert "UnicodeEncodeError" in refused.error or "surrogate" in refused.error
    for i, job in enumerate(claimed):
        if job.id != bad.id:
            landed = await queue.get_job(job.id)
            assert landed is not None and (landed.status, landed.result) == ("completed", i)


async def test_payload_size_a_worker_batch_with_an_unwritable_error_records_the_rest(queue: JobQueue) -> None:
    good = [await queue.enqueue(jobs.add, {"a": i, "b": 1}) for i in range(5)]
    bad = await queue.enqueue(jobs.raises_unencodable)
    # A long flush interval gathers the six outcomes into one batch.
    await _burst(queue, concurrency=6, flush_interval=0.3)
    failed = await queue.get_job(bad)
    assert failed is not None and failed.status == "failed"
    assert failed.error is not None and failed.error.startswith("OutcomeNotRecorded:")
    assert [(await queue.get_job(i)).result for i in good] == [1, 2, 3, 4, 5]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    ["", '{"i": 1}', "a\\b'c\"d\ne\rf\0g\x1a", "é€😀 'x'", "x" * 600 + "'\n", "é'" * 400, '"' * 5000],
    ids=["empty", "plain", "escaped", "non-ascii", "long", "long-non-ascii", "long-quotes"],
)
def test_payload_size_packet_bytes_is_the_escaped_utf8_length(text: str) -> None:
    # What the MySQL client sends for a string value (PyMySQL's escaping, as aiomysql's), short or long.
    from pymysql.converters import escape_string

    assert packet_bytes(text) == len(escape_string(text).encode("utf-8"))
