"""The benchmark's W5 step that explains the claim (bench/workloads/dbjobq_backlog.py) keeps up with the
claim it explains: it runs on every database (on 50 rows a scan of the table may be the cheaper plan:
W5 judges the plan on a million)."""

from __future__ import annotations

import re
from types import SimpleNamespace

from bench.workloads import dbjobq_backlog
from dbjobq import JobQueue
from tests.core import jobs


async def test_the_w5_explain_step_runs_and_the_claim_uses_its_index(db_url: str, queue: JobQueue) -> None:
    await queue.enqueue_many(jobs.add, [{"a": n, "b": 0} for n in range(50)])
    plain_url = re.sub(r"^(\w+)\+\w+://", r"\1://", db_url)
    explained = await dbjobq_backlog.explain(SimpleNamespace(url=plain_url))
    assert explained["claimed"] == 20
    assert explained["plan"]
    if queue.storage.dialect == "postgresql":  # type: ignore[attr-defined]
        assert any("ix_dbjobq_jobs_claim" in line for line in explained["plan"]), explained["plan"]
