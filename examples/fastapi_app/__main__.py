"""Run the example in-process, no server needed: ``python -m examples.fastapi_app``.

It starts the app's lifespan (storage and embedded worker), signs up a user, asks for a report as
that user, waits for it and shows the admin stats. To serve the app over HTTP instead:
``pip install uvicorn`` then ``uvicorn examples.fastapi_app.main:app``.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from .main import create_app

ADMIN = {"X-Admin-Token": "demo-token"}
ANN = {"Authorization": "Bearer ann-token"}
BOB = {"Authorization": "Bearer bob-token"}


async def wait_for_job(
    client: httpx.AsyncClient, status_url: str, headers: dict[str, str], timeout: float = 10.0
) -> dict[str, Any]:
    """Poll the app's report status endpoint until the job has finished."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = (await client.get(status_url, headers=headers)).json()
        if body["status"] in ("completed", "failed", "cancelled") or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.05)


async def main(url: str) -> int:
    app = create_app(
        url,
        run_worker=True,
        admin_token=ADMIN["X-Admin-Token"],
        user_tokens={"ann-token": "ann", "bob-token": "bob"},
        poll_interval=0.2,
    )
    # httpx's ASGITransport runs no lifespan: run it around the requests, as a server would.
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://example") as client:
            signup = (await client.post("/signup", json={"email": "ada@example.com"})).json()
            print(f"POST /signup -> {signup}")
            report = (await client.post("/reports", json={"numbers": [3, 1, 4, 1, 5, 9, 2, 6]}, headers=ANN)).json()
            print(f"POST /reports as ann -> job {report['job_id']}")
            done = await wait_for_job(client, report["status_url"], ANN)
            print(f"GET {report['status_url']} as ann -> {done}")
            other = await client.get(report["status_url"], headers=BOB)
            print(f"GET {report['status_url']} as bob -> {other.status_code} (not his report)")
            stats = (await client.get("/admin/dbjobq/stats", headers=ADMIN)).json()
            print(f"GET /admin/dbjobq/stats -> {stats['total']}")
            refused = await client.get("/admin/dbjobq/stats")
            print(f"GET /admin/dbjobq/stats without the token -> {refused.status_code}")
    return 0 if done["status"] == "completed" and other.status_code == 404 else 1


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        sys.exit(asyncio.run(main(f"sqlite+aiosqlite:///{Path(tmp) / 'fastapi_app.sqlite3'}")))
