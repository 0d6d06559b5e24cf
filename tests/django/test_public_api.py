"""The public surface of dbjobq_django."""

from __future__ import annotations

import dbjobq_django


def test_public_api_all_is_pinned() -> None:
    assert dbjobq_django.__all__ == [
        "DBJobQSettings",
        "__version__",
        "aenqueue",
        "enqueue",
        "get_job",
        "get_queue",
        "get_settings",
    ]
    assert dbjobq_django.__all__ == sorted(dbjobq_django.__all__)
    for name in dbjobq_django.__all__:
        assert hasattr(dbjobq_django, name)
    from dbjobq_django import testing

    assert testing.__all__ == ["assert_enqueued", "enqueued_jobs", "run_due_jobs"]


def test_public_api_app_config() -> None:
    from django.apps import apps

    config = apps.get_app_config("dbjobq")
    assert config.name == "dbjobq_django"
    assert {m._meta.db_table for m in config.get_models()} == {
        "dbjobq_jobs",
        "dbjobq_schedules",
        "dbjobq_workers",
        "dbjobq_meta",
        "dbjobq_queues",
        "dbjobq_limits",
    }
