"""The public surface of dbjobq_fastapi."""

from __future__ import annotations

import dbjobq_fastapi


def test_exports_all_is_pinned_and_sorted() -> None:
    assert dbjobq_fastapi.__all__ == [
        "STATE_KEY",
        "DBJobQ",
        "ErrorOut",
        "JobOut",
        "JobPage",
        "JobStats",
        "QueueDep",
        "StatusCounts",
        "get_queue",
        "make_router",
    ]
    assert dbjobq_fastapi.__all__ == sorted(dbjobq_fastapi.__all__, key=lambda n: (not n.isupper(), n))
    for name in dbjobq_fastapi.__all__:
        assert getattr(dbjobq_fastapi, name) is not None
