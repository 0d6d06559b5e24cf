"""docs/django-tasks.md: its settings, tasks, migration and tests run here as a reader's project would."""

from __future__ import annotations

import io
import json
import re
import sys
import types
import unittest
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command

from dbjobq_django.models import Schedule as ScheduleRow
from dbjobq_django.tasks import compat
from dbjobq_django.tasks.backend import OPTION_DEFAULTS, DBJobQBackend, option_problems
from tests.django.testapp import tasks as testapp_tasks
from tests.docs.markdown_blocks import blocks

DOC = Path(__file__).resolve().parents[2] / "docs" / "django-tasks.md"
#: The docs' app "myapp" is played by modules made from the blocks inside the installed test app.
PACKAGE = "tests.django.testapp"


# Imported under the test settings' QUEUES before the docs' settings (which lack its queue) apply.
assert testapp_tasks.async_add.queue_name == "other"


def _block(name: str) -> str:
    [block] = [b for b in blocks(DOC) if b.language == "python" and b.filename == name]
    assert block.fragment, f"{block.where}: Django code needs a project, mark it <!-- fragment -->"
    code = block.code.replace("myapp.tasks", f"{PACKAGE}.docs_tasks")
    if compat.FRAMEWORK == "django_tasks":  # Django < 6: the backport's import name
        code = code.replace("from django.tasks import", "from django_tasks import")
    return code


def _module(name: str, code: str) -> types.ModuleType:
    module = types.ModuleType(f"{PACKAGE}.{name}")
    sys.modules[module.__name__] = module
    exec(compile(code, f"{DOC.name}:{name}", "exec"), module.__dict__)
    return module


def _documented_tasks_settings() -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(_block("settings.py").replace("# ...", ""), "settings.py", "exec"), namespace)
    tasks: dict[str, Any] = namespace["TASKS"]
    return tasks


def test_tasks_docs_settings_and_options_table() -> None:
    documented = _documented_tasks_settings()
    assert documented["default"]["BACKEND"] == f"{DBJobQBackend.__module__.rsplit('.', 1)[0]}.DBJobQBackend"
    assert option_problems(documented["default"]["OPTIONS"]) == []
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| `([^`]*)` \|", DOC.read_text(), re.M))
    assert set(rows) == set(OPTION_DEFAULTS)
    for key, default in OPTION_DEFAULTS.items():
        assert eval(rows[key]) == default, key


@pytest.mark.django_db(transaction=True)
def test_tasks_docs_tasks_run_and_schedule(settings: Any) -> None:
    documented = _documented_tasks_settings()["default"]
    # The documented settings, with retries due at once so that one burst run sees them through.
    settings.TASKS = {"default": {**documented, "OPTIONS": {**documented["OPTIONS"], "retry_delay": 0}}}
    tasks = _module("docs_tasks", _block("myapp/tasks.py"))
    welcome = tasks.send_welcome_email.enqueue("ada@example.com")
    feed = tasks.import_feed.enqueue("https://example.com/feed")
    ping = tasks.ping.enqueue("db1")
    call_command("runworker", "--burst", "--log-level", "WARNING", stdout=io.StringIO())
    for result in (welcome, feed, ping):
        result.refresh()
        assert result.status == compat.SUCCESSFUL, result.errors
    assert welcome.return_value == 1 and mail.outbox[0].to == ["ada@example.com"]
    assert feed.return_value == {"url": "https://example.com/feed", "attempts": 2, "task_id": feed.id}
    assert [e.exception_class for e in feed.errors] == [ConnectionError]
    assert ping.return_value == "pong from db1" and ping.task.priority == 10

    migration = _module("docs_migration", _block("myapp/migrations/0002_nightly_report.py"))
    migration.schedule(None, None)
    row = ScheduleRow.objects.get(id=tasks.import_feed.module_path)
    assert (row.schedule_type, row.schedule_expression) == ("cron", "0 3 * * *")
    assert json.loads(row.job_data)["args"] == ["https://example.com/feed"]


@pytest.mark.django_db(transaction=True)
def test_tasks_docs_tests_pass(settings: Any) -> None:
    settings.TASKS = _documented_tasks_settings()
    _module("docs_tasks", _block("myapp/tasks.py"))
    tests = _module("docs_tests", _block("myapp/tests.py"))
    outcome = unittest.TextTestRunner(stream=io.StringIO(), verbosity=0).run(
        unittest.defaultTestLoader.loadTestsFromTestCase(tests.TaskTests)
    )
    assert outcome.wasSuccessful() and outcome.testsRun == 2, outcome.failures + outcome.errors
