"""The storage contract is true: every storage method a caller uses is declared by ``BaseStorage``,
and the management tools (the CLI, the dashboard, the Django admin, the FastAPI router) go through
``JobQueue``, the management API."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from dbjobq import JobQueue
from dbjobq.storage import BaseStorage, SQLAlchemyStorage

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "dbjobq_core" / "src" / "dbjobq"
#: Every caller of a storage: the core (but the storage package, which implements the contract),
#: the adapters and the examples.
CALLERS = sorted(
    [p for p in CORE.rglob("*.py") if (CORE / "storage") not in p.parents]
    + [p for name in ("dbjobq_django", "dbjobq_flask", "dbjobq_fastapi") for p in (ROOT / name / "src").rglob("*.py")]
    + list((ROOT / "examples").rglob("*.py"))
)
#: Tools for operators, which must manage jobs and schedules through JobQueue (the storage only opened/closed).
MANAGEMENT_TOOLS = sorted(
    [
        *(CORE / "cli").glob("*.py"),
        *(CORE / "web").glob("*.py"),
        ROOT / "dbjobq_django" / "src" / "dbjobq_django" / "admin.py",
        ROOT / "dbjobq_fastapi" / "src" / "dbjobq_fastapi" / "_router.py",
    ]
)
LIFECYCLE = {"initialize", "close", "stored_schema_version"}  # creating, upgrading and closing the store

_STORAGE_NAME = re.compile(r"(^|_)(storage|store)$")
DECLARED = {name for name, _ in inspect.getmembers(BaseStorage) if not name.startswith("_")}


def _is_storage(node: ast.expr) -> bool:
    """True for an expression that names a storage: ``storage``, ``self.storage``, ``queue.storage``…"""
    if isinstance(node, ast.Name):
        return bool(_STORAGE_NAME.search(node.id))
    return isinstance(node, ast.Attribute) and bool(_STORAGE_NAME.search(node.attr))


def storage_uses(source: str, filename: str = "<source>") -> list[tuple[int, str]]:
    """(line, what) for each storage method called, and each storage looked up by ``getattr``/``hasattr``
    or tested with ``isinstance`` (a method found that way is not in the contract)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and _is_storage(func.value):
            found.append((node.lineno, func.attr))
        elif (
            isinstance(func, ast.Name)
            and func.id in ("getattr", "hasattr", "isinstance")
            and node.args
            and _is_storage(node.args[0])
        ):
            found.append((node.lineno, f"{func.id}()"))
    return sorted(found)


def test_storage_contract_declares_every_method_callers_use() -> None:
    undeclared = [
        f"{path.relative_to(ROOT)}:{line} uses storage.{what}"
        for path in CALLERS
        for line, what in storage_uses(path.read_text(), str(path))
        if what not in DECLARED
    ]
    assert not undeclared, "Declare these in BaseStorage (or call a declared method):\n" + "\n".join(undeclared)


def test_storage_contract_management_tools_go_through_the_queue() -> None:
    around = [
        f"{path.relative_to(ROOT)}:{line} calls storage.{what}"
        for path in MANAGEMENT_TOOLS
        for line, what in storage_uses(path.read_text(), str(path))
        if what not in LIFECYCLE
    ]
    assert not around, "Manage jobs and schedules through JobQueue (add the method there):\n" + "\n".join(around)


def test_storage_contract_checker_catches_an_undeclared_call() -> None:
    source = (
        "async def f(queue, storage):\n"
        "    await queue.storage.count_jobs()\n"
        "    await storage.secret_method()\n"
        "    prune = getattr(self.storage, 'prune_workers', None)\n"
        "    await queue.get_job('x')\n"
    )
    uses = storage_uses(source)
    assert uses == [(2, "count_jobs"), (3, "secret_method"), (4, "getattr()")]
    assert [what for _, what in uses if what not in DECLARED] == ["secret_method", "getattr()"]


def test_storage_contract_is_implemented_and_the_queue_manages_it() -> None:
    assert not getattr(SQLAlchemyStorage, "__abstractmethods__", None)
    # Every management operation of the storage has its JobQueue face.
    management = {
        "count_jobs", "count_matching", "queue_stats", "page_jobs", "count_finished", "list_workers",
        "cancel_job", "retry_job", "retry_failed", "delete_job", "purge", "create_schedule", "get_schedule",
        "list_schedules", "update_schedule", "delete_schedule",
    }  # fmt: skip
    assert management <= DECLARED
    faces = {"count_jobs": "job_counts", "count_matching": "count_jobs", "retry_failed": "retry_failed_jobs"}
    missing = sorted(name for name in management if not callable(getattr(JobQueue, faces.get(name, name), None)))
    assert not missing
