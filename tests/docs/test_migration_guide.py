"""Every "After" example of the shared sync-to-async migration guide runs as written.

The guide is vendored verbatim as ``shared_migration_guide.md``: a pinned checksum keeps it unedited,
and where the development workspace's upstream copy is present a test keeps the two equal. No block
is edited: complete programs run as
scripts in a temporary directory; fragments run with top-level ``await`` in a namespace that provides
what the guide leaves to the reader (``storage`` on a temporary SQLite file, ``queue``, a registered
``my_task``…); the Flask and FastAPI snippets are driven through their test clients and the Django
view through a RequestFactory request in a subprocess with minimal settings.
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import inspect
import os
import subprocess
import sys
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from dbjobq import JobQueue, Worker, job
from dbjobq.models import Schedule
from dbjobq.storage import SQLAlchemyStorage
from tests.docs import migration_harness as harness
from tests.docs.markdown_blocks import Block, python_blocks
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
VENDORED = Path(__file__).with_name("shared_migration_guide.md")
SHARED = ROOT.parent / "shared" / "migration-guide.md"  # the upstream guide, beside checkouts in the workspace
#: SHA-256 of the vendored guide, so that no edit slips into the copy the tests run.
VENDORED_SHA256 = "9a037a982bf309b8979191c4f0bcacfc15a5948766a9d2881547b943c9676361"

BLOCKS = python_blocks(VENDORED)


def _of(kind: str) -> list[Block]:
    return [block for block in BLOCKS if harness.classify(block) == kind]


def _ids(block: Block) -> str:
    return f"line{block.line}"


# -- the jobs the guide's fragments take for granted -------------------------------------------------
@job(name="docs_harness.my_task")
def my_task(data: dict[str, Any]) -> dict[str, Any]:
    """The guide's ``my_task``: any registered job."""
    return data


@job(name="docs_harness.send_email")
def send_email(data: dict[str, Any]) -> None:
    """The guide's ``send_email``, for the enqueue that precedes its new definition."""


@job(max_retries=3, name="docs_harness.process_order")
def process_order(data: dict[str, Any]) -> None:
    """The guide's ``process_order`` (Step 3), for Step 4's enqueue."""


@job(name="__main__.cleanup_task")
def cleanup_task(data: dict[str, Any]) -> str:
    """The job the guide's interval schedule names (``__main__.cleanup_task``)."""
    return f"cleaned {data['target']}"


def test_migration_guide_vendored_copy_is_unedited() -> None:
    digest = hashlib.sha256(VENDORED.read_bytes()).hexdigest()
    assert digest == VENDORED_SHA256, (
        "tests/docs/shared_migration_guide.md changed: it is the shared guide verbatim. If the shared guide "
        "itself changed, copy it again, update VENDORED_SHA256 and make docs/migration-guide.md match"
    )


def test_migration_guide_vendored_copy_matches_shared() -> None:
    if not SHARED.exists():
        pytest.skip("the upstream guide is not part of this checkout: the vendored copy's checksum is checked instead")
    assert VENDORED.read_text(encoding="utf-8") == SHARED.read_text(encoding="utf-8"), (
        "The shared migration guide changed: copy it to tests/docs/shared_migration_guide.md and update "
        "docs/migration-guide.md to match"
    )


def test_migration_guide_every_block_is_accounted_for() -> None:
    kinds = Counter(harness.classify(block) for block in BLOCKS)
    assert kinds == {"before": 11, "script": 6, "fragment": 14, "flask": 1, "fastapi": 1, "django": 1}
    for block in BLOCKS:
        compile(block.code, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


# -- complete programs ---------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("block", _of(harness.SCRIPT), ids=_ids)
def test_migration_guide_program_runs(block: Block, tmp_path: Path) -> None:
    (tmp_path / "example.py").write_text(block.code)
    (tmp_path / "runner.py").write_text(harness.SCRIPT_RUNNER)
    proc = subprocess.run(
        [sys.executable, "runner.py", "example.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert proc.returncode == 0, f"{block.where}\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr
    if "Complete" in block.code or "new_app.py" in block.code:
        assert "Pending: 0, Completed: 2" in proc.stdout
    if "test_migration" in block.code:
        assert "Migration test passed!" in proc.stdout


# -- fragments -----------------------------------------------------------------------------------
async def _run_fragment(code: str, namespace: dict[str, Any], where: str) -> None:
    compiled = compile(code, where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(compiled, namespace)
    if inspect.iscoroutine(result):
        await result


async def _cleanup(namespace: dict[str, Any], storage: SQLAlchemyStorage) -> None:
    for value in list(namespace.values()):
        if isinstance(value, Worker) and value.is_running():
            await value.stop()
    for value in list(namespace.values()):
        if isinstance(value, SQLAlchemyStorage) and value is not storage:
            await value.close()


@pytest.mark.parametrize("block", _of(harness.FRAGMENT), ids=_ids)
async def test_migration_guide_fragment_runs(
    block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # fragments that open sqlite+aiosqlite:///jobs.db write here
    async with SQLAlchemyStorage(f"sqlite+aiosqlite:///{tmp_path / 'harness.sqlite3'}") as storage:
        queue = JobQueue(storage)
        namespace: dict[str, Any] = {
            "__name__": "migration_guide_example",
            "asyncio": asyncio,
            "time": time,
            "JobQueue": JobQueue,
            "Worker": Worker,
            "job": job,
            "Schedule": Schedule,
            "SQLAlchemyStorage": SQLAlchemyStorage,
            "storage": storage,
            "queue": queue,
            "data": {"key": "value"},
            "my_task": my_task,
            "send_email": send_email,
            "process_order": process_order,
        }
        try:
            await _run_fragment(block.code, namespace, block.where)
            await _exercise_definitions(block, namespace, queue)
        finally:
            await _cleanup(namespace, storage)


async def _exercise_definitions(block: Block, namespace: dict[str, Any], queue: JobQueue) -> None:
    """Call what a fragment only defines, and check what it claims."""
    if "setup_storage" in namespace:
        created = await namespace["setup_storage"]()
        assert isinstance(created, SQLAlchemyStorage)
        await created.close()
    if "caller" in namespace:
        await namespace["caller"]()
    if "sync_caller" in namespace:
        await asyncio.to_thread(namespace["sync_caller"])
        assert len(await queue.list_jobs()) == 2  # caller() and sync_caller() each enqueued my_task
    if "job_id" in namespace and isinstance(namespace["job_id"], str):
        assert await queue.get_job(namespace["job_id"]) is not None
    if "process_order" in block.code and "def process_order" in block.code:
        namespace["process_order"]({"order_id": 1, "user_id": 2, "amount": 3.5})
    if block.code.lstrip().startswith("import time\nfrom dbjobq.models import Schedule"):
        # The worker the block started fires the interval schedule at once, and runs the job.
        async def cleaned() -> bool:
            done = await queue.get_completed_jobs()
            return bool(done) and done[0].result == "cleaned temp_files"

        await wait_until(cleaned, timeout=15)


# -- framework snippets --------------------------------------------------------------------------
def _storage_for_sync(tmp_path: Path) -> SQLAlchemyStorage:
    storage = SQLAlchemyStorage(f"sqlite+aiosqlite:///{tmp_path / 'flask.sqlite3'}")
    asyncio.run(storage.initialize())
    return storage


@pytest.mark.parametrize("block", _of(harness.FLASK), ids=_ids)
def test_migration_guide_flask_snippet(block: Block, tmp_path: Path) -> None:
    storage = _storage_for_sync(tmp_path)
    try:
        namespace: dict[str, Any] = {"__name__": "flask_example", "storage": storage, "my_task": my_task}
        exec(compile(block.code, block.where, "exec"), namespace)
        response = namespace["app"].test_client().get("/process")
        assert response.status_code == 200
        job_id = response.get_json()["job_id"]
        stored = async_to_sync(JobQueue(storage).get_job)(job_id)
        assert stored is not None
        assert (stored.type, stored.data) == ("docs_harness.my_task", {"data": "value"})
    finally:
        async_to_sync(storage.close)()


@pytest.mark.parametrize("block", _of(harness.FASTAPI), ids=_ids)
def test_migration_guide_fastapi_snippet(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette's StarletteDeprecationWarning: it prefers httpx2 to httpx
        from fastapi.testclient import TestClient

    monkeypatch.chdir(tmp_path)  # the snippet's storage is sqlite+aiosqlite:///jobs.db
    namespace: dict[str, Any] = {"__name__": "fastapi_example", "my_task": my_task}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the guide uses @app.on_event, now deprecated
        exec(compile(block.code, block.where, "exec"), namespace)
        with TestClient(namespace["app"]) as client:
            job_id = client.post("/process", json={"n": 1}).json()["job_id"]
            deadline = time.monotonic() + 15
            while (body := client.get(f"/job/{job_id}").json())["status"] != "completed":
                assert time.monotonic() < deadline, body
                time.sleep(0.05)
            assert body == {"id": job_id, "status": "completed", "attempts": 1}


@pytest.mark.slow
@pytest.mark.parametrize("block", _of(harness.DJANGO), ids=_ids)
def test_migration_guide_django_view(block: Block, tmp_path: Path) -> None:
    (tmp_path / "views_block.py").write_text(block.code)
    (tmp_path / "runner.py").write_text(harness.DJANGO_RUNNER)
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    proc = subprocess.run(
        [sys.executable, "runner.py", "views_block.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "view enqueued" in proc.stdout


#: Each topic of the shared guide (its heading) and what our own guide must say about it.
TOPICS = {
    "Overview": ["## What you gain", "Concurrency without threads", "Recurring jobs"],
    "1. All Storage Methods Are Now Async": ["### The storage is async", "await storage.initialize()"],
    "2. Database URLs Require Async Drivers": ["sqlite+aiosqlite://", "postgresql+asyncpg://", "mysql+aiomysql://"],
    "3. JobQueue Methods Are Async": ["### `JobQueue` methods are coroutines"],
    "4. Worker Lifecycle Is Async": ["### The worker's life cycle is async", "await worker.stop()"],
    "5. Job Data Structure Changed": ["### Jobs take one data dict"],
    "Step 1: Update Dependencies": ["**Install the async driver**", "dbjobq[postgres]", "dbjobq[mysql]"],
    "Step 2: Update Storage Initialization": ["**initialise the storage**"],
    "Step 3: Convert Job Functions": ["**Convert each job function**"],
    "Step 4: Update Job Enqueuing": ["**Convert each enqueue call**"],
    "Step 5: Update Worker Management": ["**Await the worker**"],
    "Step 6: Wrap in Async Context": ["asyncio.run(main())"],
    "Complete Migration Example": ["# new_app.py", "Pending: 0, Completed: 2"],
    "Flask Integration": ["**Flask**", "async_to_sync"],
    "FastAPI Integration": ["**FastAPI**", "on_event"],
    "Django Integration": ["**Django**", "aenqueue"],
    "1. Worker Lifecycle Control": ["### Pause and resume", "worker.pause()"],
    "2. Recurring Schedules": ["### Recurring schedules", 'schedule_type="interval"'],
    "3. Improved Error Handling": ["### Errors you can read", "get_failed_jobs()"],
    "Issue 1: \"Object <async_generator> can't be used in 'await'\"": ["**Iterating over `list_jobs()`.**"],
    'Issue 2: "RuntimeError: Event loop is closed"': ['**"RuntimeError: Event loop is closed"**'],
    'Issue 3: "Storage not initialized"': ['**"Storage not initialized".**'],
    'Issue 4: "Can\'t call async function from sync code"': ["**Calling async code from sync code.**"],
    "Testing Your Migration": ["## Check your migration", "check_migration.py"],
    "Performance Considerations": ["## Performance", "enqueue_many"],
    "Getting Help": ["## Getting help"],
    "Next Steps": ["## Next steps"],
}


def test_migration_guide_ours_covers_every_topic() -> None:
    shared = VENDORED.read_text(encoding="utf-8")
    ours = (ROOT / "docs" / "migration-guide.md").read_text(encoding="utf-8")
    headings = [line.lstrip("#").strip() for line in shared.splitlines() if line.startswith(("## ", "### "))]
    grouping = {
        "Breaking Changes",
        "Step-by-Step Migration",
        "Integration Patterns",
        "New Features",
        "Common Migration Issues",
        "Before (Sync Version)",
        "After (Async Version)",
        "Sync Version (Old)",
        "Async Version (New)",
        "Benchmark Example",
    }
    assert set(headings) - grouping == set(TOPICS), "a topic of the shared guide has no counterpart listed here"
    for topic, phrases in TOPICS.items():
        for phrase in phrases:
            assert phrase in ours, f"docs/migration-guide.md does not cover {topic!r}: missing {phrase!r}"
