"""W10's plot: ``python -m bench.plot SERIES.json OUT.png TITLE`` with bench/.venvs/plot's interpreter.

matplotlib lives only in that virtualenv (``python -m bench.environments plot``), never in the project.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main() -> None:
    source, target, title = sys.argv[1], sys.argv[2], sys.argv[3]
    data = json.loads(Path(source).read_text())
    minutes, samples = data["minutes"], data["samples"]
    fig, axes = plt.subplots(4, 1, figsize=(9, 11), sharex=True)
    fig.suptitle(title)
    t = [s["t"] / 60 for s in samples]

    ax = axes[0]
    x = [m["minute"] + 0.5 for m in minutes]
    ax.plot(x, [m["p50_ms"] for m in minutes], marker="o", label="p50")
    ax.plot(x, [m["p99_ms"] for m in minutes], marker="o", label="p99")
    ax.set_ylabel("enqueue→start ms")
    ax.set_yscale("log")
    ax.legend()
    ax.set_title("latency per minute")

    ax = axes[1]
    ax.plot(t, [s["dead_tuples"] for s in samples], label="dead tuples")
    ax.plot(t, [s["live_tuples"] for s in samples], label="live tuples")
    ax.plot(t, [s["pending"] for s in samples], label="pending rows")
    ax.set_ylabel("rows")
    ax.legend()
    ax.set_title("dbjobq_jobs rows (pg_stat_user_tables)")

    ax = axes[2]
    ax.plot(t, [s["heap_bytes"] / 2**20 for s in samples], label="table")
    ax.plot(t, [s["index_bytes"] / 2**20 for s in samples], label="indexes")
    ax.plot(t, [s["total_bytes"] / 2**20 for s in samples], label="total")
    ax.set_ylabel("MiB")
    ax.legend()
    ax.set_title("dbjobq_jobs size")

    ax = axes[3]
    ax.plot(t, [s["worker_rss_mb"] for s in samples])
    ax.set_ylabel("MiB")
    ax.set_xlabel("minutes")
    ax.set_title("worker RSS")
    fig.tight_layout()
    fig.savefig(target, dpi=90)


if __name__ == "__main__":
    main()
