"""Job ids: time-ordered UUIDv7 with a random tail, so the next id cannot be guessed from the last."""

from __future__ import annotations

import itertools
import time
import uuid
from types import ModuleType

import pytest

from dbjobq.integration import new_job_row
from dbjobq.models import NewJob

FROZEN_NS = 1_790_000_000_123_456_789  # one fixed instant: every id below is made "in the same millisecond"


def _id_as_int(job_id: str) -> int:
    return uuid.UUID(job_id).int


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time_ns", lambda: FROZEN_NS)


@pytest.fixture
def fresh_ids(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The ids module as in a new process (no id made yet); its state is restored afterwards."""
    from dbjobq.storage import ids

    monkeypatch.setattr(ids, "_last_millis", 0)
    monkeypatch.setattr(ids, "_counter", 0)
    return ids


@pytest.mark.usefixtures("frozen_clock")
def test_ids_made_in_the_same_millisecond_are_not_adjacent() -> None:
    made = [new_job_row(NewJob("t.job", "{}"), time.time())["id"] for _ in range(200)]
    values = [_id_as_int(i) for i in made]
    assert all(abs(b - a) > 1 << 32 for a, b in itertools.pairwise(values))
    tails = {v & ((1 << 62) - 1) for v in values}
    assert len(tails) == len(values)  # a fresh random tail each time, not a counter


@pytest.mark.usefixtures("frozen_clock")
def test_ids_keep_one_process_order_within_a_millisecond(fresh_ids: ModuleType) -> None:
    made = [fresh_ids.new_job_id() for _ in range(5_000)]  # more than the counter holds: borrows the next ms
    assert made == sorted(made) and len(set(made)) == len(made)
    stamps = {uuid.UUID(i).int >> 80 for i in made}
    assert min(stamps) >= FROZEN_NS // 1_000_000 and max(stamps) <= FROZEN_NS // 1_000_000 + 3


def test_ids_are_uuid7_ordered_by_time(monkeypatch: pytest.MonkeyPatch, fresh_ids: ModuleType) -> None:
    start = FROZEN_NS
    clock = iter([start, start + 5_000_000, start + 2_000_000])  # the clock steps back
    monkeypatch.setattr(time, "time_ns", lambda: next(clock))
    first, later, after_step_back = (fresh_ids.new_job_id() for _ in range(3))
    parsed = uuid.UUID(first)
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert parsed.int >> 80 == start // 1_000_000
    assert first < later < after_step_back  # never out of order in one process
    assert all(str(uuid.UUID(made)) == made for made in (first, later, after_step_back))  # canonical text


def test_ids_tokens_are_random() -> None:
    from dbjobq.storage import ids

    assert len({ids.new_token() for _ in range(100)}) == 100
