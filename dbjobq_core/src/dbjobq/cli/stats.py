"""``dbjobq stats``: counts by queue and status, the oldest due job's wait, recent throughput, workers."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import click
from rich.text import Text

from ..queue import JobQueue
from . import formatting
from .durations import format_duration
from .main import CliState, pass_state

#: The window for the throughput figure, in seconds.
THROUGHPUT_WINDOW = 60.0
#: A worker counts as live for the "no worker registers its type" figure if seen this recently (seconds).
ORPHAN_LIVE_WITHIN = 60.0
#: A finished status (completed, failed, cancelled) of a queue stops counting past this many jobs.
COUNT_CAP = 1_000


async def collect_stats(queue: JobQueue) -> dict[str, Any]:
    """Everything ``dbjobq stats`` shows, as a JSON-ready dict."""
    now = await queue.now()  # the database's clock, which stamped the heartbeats and due times
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    totals: dict[str, int] = defaultdict(int)
    capped: dict[str, list[str]] = {}
    claimed: dict[str, int] = {}
    # Bounded whatever the table holds: pending/running exact, finished statuses capped per queue.
    per_queue = await queue.queue_stats(COUNT_CAP)
    for stats in per_queue:
        for status, n in stats.counts.items():
            if n:
                counts[stats.name][status] = n
                totals[status] += n
        if stats.capped:
            capped[stats.name] = sorted(stats.capped)
        if stats.claimed:
            claimed[stats.name] = stats.claimed
    due = [s.oldest_due_at for s in per_queue if s.oldest_due_at is not None]
    finished = await queue.count_finished(THROUGHPUT_WINDOW)
    workers = await queue.list_workers()
    orphans = await queue.orphan_job_types(ORPHAN_LIVE_WITHIN)
    return {
        "counts": {q: dict(sorted(c.items())) for q, c in sorted(counts.items())},
        "totals": dict(sorted(totals.items())),
        "capped": dict(sorted(capped.items())),
        "claimed": dict(sorted(claimed.items())),
        "oldest_pending_age_seconds": max(0.0, now - min(due)) if due else None,
        "finished_last_minute": finished,
        "jobs_per_second": round(finished / THROUGHPUT_WINDOW, 3),
        "workers": [
            {
                "id": w.id,
                "hostname": w.hostname,
                "pid": w.pid,
                "queues": list(w.queues) if w.queues else None,
                "concurrency": w.concurrency,
                "last_heartbeat_age_seconds": max(0.0, now - w.last_heartbeat),
                "job_types": w.job_types,
            }
            for w in workers
        ],
        "pending_without_worker": orphans,
    }


@click.command(short_help="Counts by queue and status, wait, throughput, workers.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@pass_state
def stats(state: CliState, as_json: bool) -> None:
    """Show job counts by queue and status, how long the oldest due job has waited, jobs finished per
    second over the last minute, the registered workers, and pending jobs whose type no live worker
    registered (they wait: a typo, or a worker without that --import). Pending and running counts are
    exact; a finished status past 1,000 jobs in a queue shows as "1000+" (listed under "capped" in --json).
    Running jobs claimed ahead that have not started (in a worker's buffer past a heartbeat) are counted
    on a line of their own ("claimed" in --json)."""
    figures = state.run(collect_stats)
    if as_json:
        formatting.echo_json(figures)
        return
    out = formatting.console()
    if figures["counts"]:
        out.print(formatting.counts_table(figures["counts"], figures["totals"], figures["capped"]))
    else:
        out.print("No jobs.")
    claimed = sum(figures["claimed"].values())
    if claimed:
        out.print(Text(f"Claimed ahead, not started: {claimed} (counted in running)"))
    age = figures["oldest_pending_age_seconds"]
    out.print(Text(f"Oldest due pending job: {'none' if age is None else 'waiting ' + format_duration(age)}"))
    out.print(Text(
        f"Throughput: {figures['jobs_per_second']:g} jobs/s over the last minute "
        f"({figures['finished_last_minute']} finished)"
    ))
    workers = figures["workers"]
    out.print(Text(f"Workers: {len(workers)}"))
    for worker in workers:
        queues = ",".join(worker["queues"]) if worker["queues"] else "all queues"
        out.print(formatting.plain(
            f"  {worker['id']}  concurrency {worker['concurrency']}, {queues}, "
            f"last heartbeat {format_duration(worker['last_heartbeat_age_seconds'])} ago"
        ))
    orphans = figures["pending_without_worker"]
    if orphans:
        listed = ", ".join(f"{job_type} ({n})" for job_type, n in orphans.items())
        out.print(formatting.plain(f"Pending jobs whose type no live worker registered: {listed}"))
