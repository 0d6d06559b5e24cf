"""Job functions shared by the core tests (and the worker subprocesses they start)."""

from __future__ import annotations

import asyncio
import contextvars
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from dbjobq import job

#: Names of the threads sync jobs ran in, by payload "key".
THREADS: dict[str, str] = {}
CALLS: list[dict[str, Any]] = []


@job()
def add(data: dict[str, Any]) -> int:
    return int(data["a"]) + int(data["b"])


@job(priority=5, queue="mail", max_retries=2)
async def send_email(data: dict[str, Any]) -> None:
    CALLS.append(data)


@job(max_retries=2, retry_delay=0)
def always_fails(data: dict[str, Any]) -> None:
    raise RuntimeError(f"boom {data.get('n', '')}")


@job(max_retries=1)
def fails_with_backoff(data: dict[str, Any]) -> None:
    raise KeyError("x")


@job(retry_delay=0, max_retries=3)
def fails_twice(data: dict[str, Any]) -> str:
    path = Path(data["counter"])
    count = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(count))
    if count <= 2:
        raise ValueError(f"attempt {count} fails")
    return "ok"


@job()
def record_thread(data: dict[str, Any]) -> str:
    THREADS[data["key"]] = threading.current_thread().name
    return threading.current_thread().name


@job(timeout=0.2)
async def too_slow(data: dict[str, Any]) -> None:
    await asyncio.sleep(30)


@job()
def blocking_sleep(data: dict[str, Any]) -> None:
    time.sleep(float(data["seconds"]))


@job()
async def wait_for_file(data: dict[str, Any]) -> str:
    """Runs until the file named in the payload exists (or 60 s pass); first touches ``started`` if given."""
    if "started" in data:
        Path(data["started"]).touch()
    deadline = time.monotonic() + 60
    while not os.path.exists(data["path"]) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return "released"


@job()
async def noop(data: dict[str, Any]) -> None:
    return None


@job()
async def log_run(data: dict[str, Any]) -> None:
    """Appends the job's marker to a file: one line per run, to count executions across processes."""
    with open(data["log"], "a") as handle:
        handle.write(f"{data['n']}\n")


@job()
def returns_object(data: dict[str, Any]) -> object:
    return object()


ACTIVE = {"now": 0, "peak": 0}


@job()
async def track_concurrency(data: dict[str, Any]) -> None:
    ACTIVE["now"] += 1
    ACTIVE["peak"] = max(ACTIVE["peak"], ACTIVE["now"])
    await asyncio.sleep(0.02)
    ACTIVE["now"] -= 1


# -- jobs that misbehave: the worker must survive each (tests/core/test_worker_robustness.py) ----------
TENANT: contextvars.ContextVar[str | None] = contextvars.ContextVar("tenant", default=None)


@job(priority=10)
async def set_tenant(data: dict[str, Any]) -> str | None:
    TENANT.set(data["tenant"])
    return TENANT.get()


@job()
async def read_tenant(data: dict[str, Any]) -> str | None:
    return TENANT.get()


@job()
def read_tenant_sync(data: dict[str, Any]) -> str | None:
    return TENANT.get()


@job()
def exits_sync(data: dict[str, Any]) -> None:
    sys.exit(3)


@job()
async def exits_async(data: dict[str, Any]) -> None:
    sys.exit(4)


@job()
async def raises_keyboard_interrupt(data: dict[str, Any]) -> None:
    raise KeyboardInterrupt


@job()
async def raises_cancelled_error(data: dict[str, Any]) -> None:
    raise asyncio.CancelledError("raised by the job itself")


class UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("this exception cannot be printed")


@job()
async def raises_unprintable(data: dict[str, Any]) -> None:
    raise UnprintableError()


@job()
def raises_huge(data: dict[str, Any]) -> None:
    raise ValueError("start-" + "x" * int(data["size"]) + "-end")


#: Events that hung jobs wait on, by payload "key" (set them to let the threads return).
RELEASES: dict[str, threading.Event] = {}


@job(timeout=0.2)
def hangs(data: dict[str, Any]) -> str:
    """A sync job that outlives its timeout: it returns only when its event is set (or after 60 s)."""
    RELEASES.setdefault(data["key"], threading.Event()).wait(60)
    return "returned"


@job(max_retries=1)
async def kills_its_process(data: dict[str, Any]) -> None:
    """A poison job: ends its worker's process as a segfault or the OOM killer would."""
    os._exit(13)


@job(max_retries=1)
def sigkills_its_process(data: dict[str, Any]) -> None:
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(60)


@job(max_retries=1, retry_delay=0)
async def reports_progress(data: dict[str, Any]) -> str:
    """Reports progress in a tight loop (async form at the end), then fails its first attempt if asked."""
    import dbjobq

    current = dbjobq.current_job()
    for n in range(int(data.get("steps", 2000))):
        current.set_progress(n / 2000, f"step {n}")
    await current.aset_progress(0.5, f"attempt {current.attempt}")
    if data.get("fail_first") and current.attempt == 1:
        raise RuntimeError("first attempt fails")
    if "release" in data:
        await wait_for_file({"path": data["release"]})
    return f"{current.id}:{current.attempt}"


@job()
def reports_progress_sync(data: dict[str, Any]) -> int:
    """A sync job reporting progress from its thread."""
    import dbjobq

    current = dbjobq.current_job()
    for n in range(1000):
        current.set_progress(n / 999, "sync")
    return current.attempt


@job()
async def log_then_wait(data: dict[str, Any]) -> str:
    """Appends ``run`` to the file ``log`` (one line per execution), then waits for the file ``path``."""
    with open(data["log"], "a") as handle:
        handle.write("run\n")
    return await wait_for_file({"path": data["path"]})


@job()
def traced_child(data: dict[str, Any]) -> None:
    """A sync job whose own span (in its thread) nests in the run's span."""
    from opentelemetry import trace

    with trace.get_tracer("job").start_as_current_span("inside the job"):
        pass


@job()
def returns_size(data: dict[str, Any]) -> str:
    """A result of ``size`` characters (the payload tests)."""
    return "r" * int(data["size"])


@job()
def raises_unencodable(data: dict[str, Any]) -> None:
    """An error whose text no database driver can encode (a lone surrogate)."""
    raise ValueError("\ud800 cannot be encoded")
