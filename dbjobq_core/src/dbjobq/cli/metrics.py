"""``dbjobq metrics``: the database gauges for Prometheus on their own port (a sidecar to scrape when the
dashboard is not served, or is closed to Prometheus)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from typing import Any

import click

from ..metrics import DatabaseMetrics, available
from ..queue import JobQueue
from ..redaction import mask_url
from ..storage.urls import parse_url
from .main import CliState, pass_state


class _LoopThread:
    """An event loop in a thread of its own: the HTTP server's threads read the database through it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="dbjobq-metrics-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 60.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@click.command(short_help="Serve the database gauges for Prometheus.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=9464, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free one).")
@click.option("--cache", "cache_seconds", default=5.0, show_default=True, type=click.FloatRange(0),
              help="Seconds one database read serves scrapes for.")
@pass_state
def metrics(state: CliState, host: str, port: int, cache_seconds: float) -> None:
    """Serve dbjobq_jobs{queue,status}, dbjobq_queue_oldest_pending_age_seconds{queue},
    dbjobq_queue_paused{queue} and dbjobq_workers_alive at http://HOST:PORT/metrics until Ctrl+C.

    Readable by anyone who reaches HOST:PORT (127.0.0.1 by default). Workers serve their own metrics
    with `dbjobq worker --metrics-port`.
    """
    if not available():
        raise click.ClickException("dbjobq metrics needs prometheus-client: pip install 'dbjobq[metrics]'")
    from prometheus_client import CollectorRegistry, start_http_server

    click.echo(f"Opening {mask_url(parse_url(state.url))} …")
    runner = _LoopThread()
    storage = state.storage()
    try:
        runner.run(storage.initialize())
        queue = JobQueue(storage)
        gauges = DatabaseMetrics(cache_seconds=cache_seconds)

        class Collector:
            def collect(self) -> Any:
                return runner.run(gauges.families(queue))

        registry = CollectorRegistry(auto_describe=False)
        registry.register(Collector())  # type: ignore[arg-type]
        server, _thread = start_http_server(port, addr=host, registry=registry)
        shown = f"[{host}]" if ":" in host else host
        click.echo(f"Metrics at http://{shown}:{server.server_port}/metrics")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
        server.shutdown()
    finally:
        runner.run(storage.close())
        runner.stop()
    click.echo("Metrics stopped.")
