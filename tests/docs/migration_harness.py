"""Helpers for running the shared migration guide's "After" examples exactly as written.

The examples are of four kinds (see :func:`classify`): the legacy "Before" code (not run: that API
is gone), complete programs (run as scripts in a subprocess), framework snippets (run through the
framework's test client), and fragments (top-level ``await``, names like ``queue`` or ``my_task`` left
to the reader) that run in a namespace providing those names.
"""

from __future__ import annotations

import re

from tests.docs.markdown_blocks import Block

BEFORE, SCRIPT, FLASK, FASTAPI, DJANGO, FRAGMENT = "before", "script", "flask", "fastapi", "django", "fragment"

_PROGRAM = re.compile(r"^(asyncio\.run\(|if __name__ == [\"']__main__[\"']:)", re.MULTILINE)


def classify(block: Block) -> str:
    """Which kind of example a block of the guide is."""
    if "Before" in block.label or "(Old)" in block.label:
        return BEFORE
    if "from flask import" in block.code:
        return FLASK
    if "from fastapi import" in block.code:
        return FASTAPI
    if "from django" in block.code:
        return DJANGO
    if _PROGRAM.search(block.code):
        return SCRIPT
    return FRAGMENT


#: Runs one block file as ``__main__`` with the names a reader's program would already have imported
#: (the block's own imports and definitions take precedence), in the current directory.
SCRIPT_RUNNER = """
import asyncio, runpy, sys, time
from dbjobq import JobQueue, Worker, job
from dbjobq.models import Schedule
from dbjobq.storage import SQLAlchemyStorage


@job(name="docs_harness.test_job")
def test_job(data):
    return None


names = dict(asyncio=asyncio, time=time, JobQueue=JobQueue, Worker=Worker, job=job, Schedule=Schedule,
             SQLAlchemyStorage=SQLAlchemyStorage, test_job=test_job)
runpy.run_path(sys.argv[1], init_globals=names, run_name="__main__")
"""

#: Runs the Django view snippet: minimal settings, then the view called with a RequestFactory request.
DJANGO_RUNNER = """
import asyncio, json, sys
import django
from django.conf import settings

settings.configure(DEBUG=True, SECRET_KEY="docs", ALLOWED_HOSTS=["*"], INSTALLED_APPS=[], DATABASES={})
django.setup()

from django.test import RequestFactory
from dbjobq import JobQueue, job
from dbjobq.storage import SQLAlchemyStorage


@job(name="docs_harness.my_task")
def my_task(data):
    return data


async def main():
    async with SQLAlchemyStorage("sqlite+aiosqlite:///django_view.sqlite3") as storage:
        queue = JobQueue(storage)
        namespace = {"__name__": "views", "queue": queue, "my_task": my_task}
        exec(compile(open(sys.argv[1]).read(), "views.py", "exec"), namespace)
        request = RequestFactory().post("/enqueue", {"data": "hello"})
        response = await namespace["enqueue_job"](request)
        assert response.status_code == 200, response.status_code
        job_id = json.loads(response.content)["job_id"]
        stored = await queue.get_job(job_id)
        assert stored is not None and stored.data == {"data": "hello"}, stored
        print("view enqueued", job_id)

asyncio.run(main())
"""
