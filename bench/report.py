"""Machine description and the Markdown report of a benchmark run."""

# The report is typeset Markdown: en dashes, multiplication and minus signs are meant.
# ruff: noqa: RUF001

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from . import environments

THROUGHPUT = {"W1": "enqueues/s", "W2": "jobs/s", "W3": "jobs/s", "W5": "jobs/s"}
#: Said beside every number measured on Redis.
REDIS_NOTE = "Redis here keeps nothing on disk (no RDB snapshots, no AOF): a crash loses every queued job"
REDIS_SYSTEMS = {"celery", "streaq"}
TITLES = {
    "W1": "W1 single enqueues, each awaited",
    "W2": "W2 bulk enqueue",
    "W3": "W3 drain pre-enqueued no-op jobs, one worker process, default concurrency",
    "W4": "W4 enqueue-to-start latency, idle worker in another process, one enqueue every 20 ms",
    "W4s": "W4 (same process) enqueue-to-start latency, worker sharing the JobQueue",
    "W5": "W5 drain with a backlog of finished + pending jobs",
    "W6": "W6 worker peak RSS through a large drain",
    "W7": "W7 scaling out: 1, 2 and 4 worker processes draining together",
    "W8": "W8 async jobs that each await 50 ms (an HTTP call), concurrency 200",
    "W9": "W9 sync jobs that each block 10 ms, concurrency 50",
    "W10": "W10 soak: steady enqueues on PostgreSQL for a long time, retention on",
    "W11": "W11 what each job leaves behind on PostgreSQL",
}


def _run(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def _version(system: str, package: str) -> str:
    python = environments.VENVS / system / "bin" / "python"
    if not python.exists():
        return "not installed"
    return _run([str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"])


def _redis() -> str:
    """Redis's version and persistence settings (the numbers on Redis depend on them)."""
    info = _run(["redis-cli", "-h", "127.0.0.1", "INFO", "server"])
    version = info.partition("redis_version:")[2].split()[:1]
    def config(name: str) -> str:  # redis-cli prints the name, then the value (empty: nothing printed)
        lines = _run(["redis-cli", "-h", "127.0.0.1", "CONFIG", "GET", name]).split("\n")
        return lines[1].strip() if len(lines) > 1 else ""

    save, aof = config("save"), config("appendonly")
    on_disk = "nothing on disk" if not save.strip() and aof == "no" else "persists"
    return f"{version[0] if version else '?'} (save '{save}', appendonly {aof}: {on_disk})"


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    cpu = "?"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal"):
                mem_kb = int(line.split()[1])
    os_name = "?"
    if Path("/etc/os-release").exists():
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    project_python = str(environments.project_python())
    return {
        "cpu": f"{cpu} ({os.cpu_count()} logical CPUs)",
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "os": f"{os_name}, Linux {platform.release()}",
        "python": _run([project_python, "-c", "import sys; print(sys.version.split()[0])"]),
        "postgresql": _run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "SHOW server_version"]) or "?",
        "mariadb": _run(["mysql", "-h", "127.0.0.1", "-uroot", "-N", "-e", "SELECT VERSION()"]) or "?",
        "sqlite": sqlite3.sqlite_version,
        "dbjobq": "this repository (" + _run(["git", "-C", str(environments.ROOT), "rev-parse", "--short", "HEAD"])
        + (", uncommitted changes" if _run(["git", "-C", str(environments.ROOT), "status", "--porcelain",
                                              "dbjobq_core"]) else "") + ")",
        "sqlalchemy": _run([project_python, "-c", "import sqlalchemy; print(sqlalchemy.__version__)"]),
        "pgqueuer": _version("pgqueuer", "pgqueuer"),
        "procrastinate": _version("procrastinate", "procrastinate"),
        "dbjobq 0.1.0": _version("dbjobq010", "dbjobq"),
        "celery": _version("celery", "celery") + " (Redis broker, kombu " + _version("celery", "kombu") + ")",
        "saq": _version("saq", "saq"),
        "streaq": _version("streaq", "streaq"),
        "redis": _redis(),
        "postgresql autovacuum": _run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "SHOW autovacuum"]),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def _values(runs: list[dict[str, Any]], key: str = "value") -> list[float]:
    return [float(r[key]) for r in runs if key in r and r[key] is not None]


def _med(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def _cell(values: list[float], digits: int = 0) -> str:
    if not values:
        return "error"
    if len(values) == 1:
        return _fmt(values[0], digits)
    return f"{_fmt(_med(values), digits)} ({_fmt(min(values), digits)}–{_fmt(max(values), digits)})"


def _ratio_text(workload: str, label: str, table: dict[str, list[dict[str, Any]]], key: str = "value") -> str:
    """DBJobQ on the same database divided by this system (throughput: >1 is faster; latency: <1 is faster).

    Systems on Redis are compared with DBJobQ on PostgreSQL. Only rows of the same run are compared.
    """
    system, database = label.split("/")
    if system == "dbjobq":
        return "—"
    reference = f"dbjobq/{database}" if f"dbjobq/{database}" in table else "dbjobq/postgresql"
    if reference not in table or _run_of(table[reference]) != _run_of(table[label]):
        return "n/a"
    mine = _med(_values(table[reference], key))
    theirs = _med(_values(table[label], key))
    if mine is None or not theirs:
        return "n/a"
    suffix = " (vs PostgreSQL)" if reference.split("/")[1] != database else ""
    return f"{mine / theirs:.2f}×{suffix}"


def _run_of(runs: list[dict[str, Any]]) -> float | None:
    return runs[0].get("run_started") if runs else None


def _row_label(label: str, runs: list[dict[str, Any]], latest: float | None) -> str:
    """The row's name, marked † on Redis, and dated when it comes from another run than the section's."""
    name = label + (" †" if label.split("/")[0] in REDIS_SYSTEMS else "")
    started = _run_of(runs)
    quick = bool(runs and runs[0].get("quick"))
    if started is not None and (started != latest or quick):
        date = time.strftime("%Y-%m-%d", time.gmtime(started))
        name += f" ({'quick run' if quick else 'run'} of {date})"
    return name


def markdown(results: dict[str, Any]) -> str:
    lines: list[str] = []
    add = lines.append
    history = results.get("history", [])
    quick = " (quick mode: small sizes, not the reference numbers)" if results["quick"] and not history else ""
    add(f"# DBJobQ benchmark results{quick}")
    add("")
    if history:
        add("This file merges several runs of `python -m bench.run` (`--merge`): each section says when it was "
            "measured, rows from another run than their section's are dated, and ratios compare rows of one run "
            "only. Every run uses a fresh database per measurement; numbers are medians with (min–max) over the "
            "runs. **DBJobQ ÷ other**: DBJobQ's median over the other's on the same database (Redis peers: against "
            "DBJobQ on PostgreSQL): for throughput above 1× means DBJobQ is faster, for latency and memory below 1× "
            "means DBJobQ is lower.")
        add("")
        add("Rows from different runs may come from different machines (see the CPU column): compare within a run.")
        add("")
        add("| run started | minutes | mode | runs per system | DBJobQ | CPU | load average at start "
            "| workloads (rows) |")
        add("|---|---|---|---|---|---|---|---|")
        for run in history:
            rows = "; ".join(f"{w}: {', '.join(labels)}" for w, labels in run["workloads"].items())
            add(f"| {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(run['started']))} | "
                f"{(run['finished'] - run['started']) / 60:.0f} | {'QUICK' if run['quick'] else 'full'} | "
                f"{run['runs']} | {run['dbjobq']} | {run.get('cpu', '?')} | {run.get('load', '?')} | {rows} |")
        add("")
    else:
        add(f"Generated by `python -m bench.run` ({'`--quick`, ' if results['quick'] else ''}{results['runs']} run(s) "
            f"per system, systems alternating run by run) on "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(results['started']))}, "
            f"{(results['finished'] - results['started']) / 60:.0f} minutes. Every run uses a fresh database. "
            "Numbers are medians with (min–max) over the runs. **DBJobQ ÷ other**: DBJobQ's median over the other's "
            "on the same database: for throughput above 1× means DBJobQ is faster, for latency and memory below 1× "
            "means DBJobQ is lower.")
        add("")
    add("## Machine" + (" (of the latest run)" if history else ""))
    add("")
    add("| | |")
    add("|---|---|")
    for key, value in results["machine"].items():
        add(f"| {key} | {value} |")
    add("")
    add("The databases run on the same host as the benchmark (shared CPUs). Other libraries run with their "
        "defaults, through their documented APIs, each in its own virtualenv under `bench/.venvs/`.")
    add("")
    workloads = results["workloads"]
    for workload, table in workloads.items():
        meta = results.get("meta", {}).get(workload, {})
        sizes = {**results["sizes"], **meta.get("sizes", {})}
        latest = meta.get("started")
        quick_section = meta.get("quick", results["quick"])
        when = time.strftime("%Y-%m-%d", time.gmtime(latest)) if latest else ""
        add(f"## {TITLES.get(workload, workload)}" + (" — QUICK RUN (small sizes)" if quick_section else ""))
        add("")
        if when:
            add(f"Measured {when}" + (f", {meta['runs']} run(s) per system" if meta.get("runs") else "") + ".")
            add("")
        if any(label.split("/")[0] in REDIS_SYSTEMS for label in table):
            add(f"† on Redis: {REDIS_NOTE}. Ratios for Redis rows are against DBJobQ on PostgreSQL.")
            add("")
        if workload in SECTIONS:
            SECTIONS[workload](lines, table, sizes, latest)
            _errors(lines, table)
            add("")
            continue
        if workload in ("W1", "W2", "W3"):
            size = {"W1": sizes["w1"], "W2": sizes["w2"], "W3": sizes["w3"]}[workload]
            add(f"Jobs: {size:,}" + (f" (capped per system: {sizes['w3_caps']})" if workload == "W3" else "") + ".")
            add("")
            extra = " | exactly once (DB check) |" if workload == "W3" else " |"
            add(f"| system / database | {THROUGHPUT[workload]} | DBJobQ ÷ other{extra}")
            add("|---|---|---|" + ("---|" if workload == "W3" else ""))
            for label, runs in table.items():
                row = (f"| {_row_label(label, runs, latest)} | {_cell(_values(runs))} | "
                       f"{_ratio_text(workload, label, table)} |")
                if workload == "W3":
                    checks = [r.get("exactly_once") for r in runs if "exactly_once" in r]
                    row += f" {'yes' if checks and all(checks) else 'NO'} ({len(checks)} runs) |"
                add(row)
        elif workload in ("W4", "W4s"):
            add(f"{sizes['w4']} jobs, one every {sizes['w4_interval'] * 1000:.0f} ms; latency = job function start − "
                "enqueue time (both `time.time()`), measured inside the job.")
            add("")
            add("| system / database | p50 ms | p95 ms | p99 ms | max ms | p50 DBJobQ ÷ other |")
            add("|---|---|---|---|---|---|")
            for label, runs in table.items():
                add(f"| {_row_label(label, runs, latest)} | {_cell(_values(runs, 'p50_ms'), 1)} | "
                    f"{_cell(_values(runs, 'p95_ms'), 1)} | "
                    f"{_cell(_values(runs, 'p99_ms'), 1)} | {_cell(_values(runs, 'max_ms'), 1)} | "
                    f"{_ratio_text(workload, label, table, 'p50_ms')} |")
        elif workload == "W5":
            add(f"Backlog: {sizes['w5_finished']:,} completed + {sizes['w5_pending']:,} pending jobs, inserted in SQL "
                f"with the core's row shape. The worker (defaults) drains {sizes['w5_drain']:,} jobs first from an "
                "empty table, then with the backlog in place; target: backlog rate ≥ 80 % of the empty rate.")
            add("")
            add("| database | empty table jobs/s | with backlog jobs/s | ratio | claim uses a sequential scan |")
            add("|---|---|---|---|---|")
            for label, runs in table.items():
                seq = [r.get("seq_scan") for r in runs if "seq_scan" in r]
                add(f"| {label} | {_cell(_values(runs, 'empty_rate'))} | {_cell(_values(runs, 'backlog_rate'))} | "
                    f"{_cell([v * 100 for v in _values(runs, 'ratio')], 1)} % | "
                    f"{'YES' if any(seq) else 'no' if seq else 'n/a'} |")
            for label, runs in table.items():
                plans = [r for r in runs if "plan" in r]
                if plans:
                    add("")
                    how = "EXPLAIN ANALYZE" if "postgresql" in label else "EXPLAIN"
                    add(f"Claim plan on {label} ({how}, backlog in place):")
                    add("")
                    add("```")
                    lines.extend(plans[-1]["plan"])
                    add("```")
        elif workload == "W6":
            add(f"Peak RSS (`ru_maxrss`) of the worker process draining {sizes['w6_small']:,} jobs, then, in a new "
                f"process, {sizes['w6_large']:,} jobs (capped per system: {sizes['w6_caps']}).")
            add("")
            add("| system / database | small drain MiB | large drain MiB | growth MiB | large DBJobQ ÷ other |")
            add("|---|---|---|---|---|")
            for label, runs in table.items():
                small, large = _cell(_values(runs, "small_peak_mb"), 1), _cell(_values(runs, "large_peak_mb"), 1)
                add(f"| {label} | {small} | {large}"
                    f" | {_cell(_values(runs, 'growth_mb'), 1)} | {_ratio_text(workload, label, table)} |")
        _errors(lines, table)
        add("")
    add("## Targets (issue 8)")
    add("")
    add("| target | measured | met |")
    add("|---|---|---|")
    for name, measured, met in targets(results):
        add(f"| {name} | {measured} | {'yes' if met else 'no' if met is not None else 'n/a'} |")
    add("")
    later = targets_19(results)
    if later:
        add("## Targets (issue 19)")
        add("")
        add("| target | measured | met |")
        add("|---|---|---|")
        for name, measured, met in later:
            add(f"| {name} | {measured} | {'yes' if met else 'no' if met is not None else 'n/a'} |")
        add("")
    add("Raw numbers: `bench/results.json` (quick mode: `bench/.work/results-quick.json`).")
    return "\n".join(lines) + "\n"


def _errors(lines: list[str], table: dict[str, list[dict[str, Any]]]) -> None:
    for label, runs in table.items():
        for run in runs:
            if "error" in run:
                error = run["error"]
                lines += ["", f"Error in {label}: `{error.splitlines()[-1] if error.splitlines() else error}`"]


def _w7(lines: list[str], table: dict[str, list[dict[str, Any]]], sizes: dict[str, Any], latest: float | None) -> None:
    add = lines.append
    add(f"{sizes['w7']:,} pre-enqueued no-op jobs; 1, 2 and 4 worker processes (defaults, burst mode) start together "
        "on one word from the runner; rate = jobs ÷ (last process's end − first process's start); a fresh database per "
        "process count; exactly-once checked in the database afterwards. Where the time goes: CPU seconds of the "
        "worker processes themselves (Python and the driver), of everything else on the machine during the drain "
        "(the database server, and any other tenant of this shared machine), and idle CPU, from /proc/stat. "
        f"This machine has {os.cpu_count()} cores: more processes cannot add cores, the question is whether the rate "
        "holds (no collapse from claim contention).")
    add("")
    add("| system / database | processes | jobs/s | ÷ 1 process | jobs per process | worker CPU µs/job "
        "| worker CPU s | other CPU s | idle CPU s | exactly once |")
    add("|---|---|---|---|---|---|---|---|---|---|")
    for label, runs in table.items():
        for run in runs:
            cells = run.get("by_processes", {})
            one = cells.get("1", {}).get("rate")
            for count, c in cells.items():
                ratio = f"{c['rate'] / one:.2f}×" if one else "n/a"
                add(f"| {_row_label(label, runs, latest)} | {count} | {_fmt(c['rate'])} | {ratio} | "
                    f"{', '.join(f'{j:,}' for j in c['per_process'])} | {_fmt(c['worker_cpu_us_per_job'])} | "
                    f"{c['worker_cpu_s']:.2f} | {c['other_cpu_s']:.2f} | {max(0.0, c['idle_cpu_s']):.2f} | "
                    f"{'yes' if c['exactly_once'] else 'NO'} |")


def _ideal(lines: list[str], table: dict[str, list[dict[str, Any]]], sizes: dict[str, Any], latest: float | None,
           workload: str) -> None:
    add = lines.append
    key = workload.lower()
    n, sleep, concurrency = sizes[key], sizes[f"{key}_sleep"], sizes[f"{key}_concurrency"]
    ideal = concurrency / sleep
    kind = ("async jobs that each `await asyncio.sleep(0.05)` (Celery: `time.sleep`, cooperative under its gevent "
            "pool)" if workload == "W8" else "sync jobs that each `time.sleep(0.01)` (DBJobQ runs them in its thread "
            "pool)")
    how = (" (pgqueuer: `max_concurrent_tasks`; Celery: `-P gevent -c 200`, the pool Celery's concurrency docs "
           "name for I/O-bound tasks)" if workload == "W8" else "")
    add(f"{n:,} pre-enqueued {kind}, one worker at concurrency {concurrency}{how}. "
        f"Ideal: {concurrency} ÷ {sleep * 1000:.0f} ms = {ideal:,.0f} jobs/s; target "
        f"{'80' if workload == 'W8' else '70'} % of it. Exactly-once checked in the store afterwards.")
    add("")
    add("| system / database | jobs/s | % of ideal | DBJobQ ÷ other | exactly once |")
    add("|---|---|---|---|---|")
    for label, runs in table.items():
        checks = [r.get("exactly_once") for r in runs if "exactly_once" in r]
        add(f"| {_row_label(label, runs, latest)} | {_cell(_values(runs))} | "
            f"{_cell([v * 100 for v in _values(runs, 'of_ideal')], 1)} % | {_ratio_text(workload, label, table)} | "
            f"{'yes' if checks and all(checks) else 'NO'} ({len(checks)} runs) |")
    if any(label.startswith("celery/") for label in table):
        add("")
        add("Celery's time runs from its first task's start to the last completion (its worker's start-up, about "
            "2 s, is left out); the others' include their worker's start.")


def _w10(lines: list[str], table: dict[str, list[dict[str, Any]]], sizes: dict[str, Any], latest: float | None) -> None:
    add = lines.append
    for label, runs in table.items():
        for run in runs:
            if "error" in run:
                continue
            add(f"{label}: {run['jobs']:,} single enqueues at {run['achieved_rate']:.0f} jobs/s (asked "
                f"{sizes['w10_rate']:.0f}) for {run['duration_s'] / 60:.1f} min; one worker process with defaults "
                f"and `retention={run['retention_s']:.0f}` s; the server's autovacuum setting is in the machine "
                "table above.")
            add("")
            if run.get("plot"):
                add(f"![W10 soak]({Path(run['plot']).name})")
                add("")
            add("| minute | jobs | p50 ms | p99 ms | max ms |")
            add("|---|---|---|---|---|")
            for m in run["series"]["minutes"]:
                add(f"| {m['minute'] + 1} | {m['count']:,} | {m['p50_ms']:.1f} | {m['p99_ms']:.1f} | "
                    f"{m['max_ms']:.1f} |")
            add("")
            add("| time | live rows | dead rows | pending | table MiB | indexes MiB | total MiB | worker RSS MiB |")
            add("|---|---|---|---|---|---|---|---|")
            samples = run["series"]["samples"]
            step = max(1, len(samples) // 12)
            for sample in [*samples[::step], *([samples[-1]] if (len(samples) - 1) % step else [])]:
                add(f"| {sample['t'] / 60:.1f} min | {sample['live_tuples']:,} | {sample['dead_tuples']:,} | "
                    f"{sample['pending']:,} | {sample['heap_bytes'] / 2**20:.1f} | "
                    f"{sample['index_bytes'] / 2**20:.1f} | "
                    f"{sample['total_bytes'] / 2**20:.1f} | {sample['worker_rss_mb']:.1f} |")


def _w11(lines: list[str], table: dict[str, list[dict[str, Any]]], sizes: dict[str, Any], latest: float | None) -> None:
    add = lines.append
    add("N single enqueues while one worker of the same system (defaults, same process) runs them; once all have "
        "run, the statistics and sizes of every table the system writes per job (pg_stat_user_tables, "
        "pg_total_relation_size: table + indexes + TOAST). Finished rows are whatever the system keeps by default "
        "(DBJobQ: 7 days of retention; procrastinate: kept; pgqueuer: deleted, one log row each). Dead tuples are "
        "what no vacuum has reclaimed yet: measured with the server's autovacuum setting as it is.")
    add("")
    add("| system | jobs | autovacuum | dead tuples / job | bytes / job (all its tables) | jobs table bytes / job "
        "| pending rows | HOT updates / updates |")
    add("|---|---|---|---|---|---|---|---|")
    for label, runs in table.items():
        for run in runs:
            if "error" in run:
                continue
            updates = sum(t["updates"] for t in run["tables"].values())
            hot = sum(t["hot_updates"] for t in run["tables"].values())
            add(f"| {_row_label(label, runs, latest)} | {run['n']:,} | {run['autovacuum']} | "
                f"{run['dead_tuples_per_job']:.2f} | {_fmt(run['bytes_per_job'])} | "
                f"{_fmt(run['jobs_table_bytes_per_job'])} | {run['pending_rows']} | {hot:,} / {updates:,} |")
    add("")
    add("| system | index | size KiB | definition |")
    add("|---|---|---|---|")
    for label, runs in table.items():
        for run in runs:
            for name, index in run.get("indexes", {}).items():
                add(f"| {label.split('/')[0]} | {name} | {index['bytes'] / 1024:,.0f} | `{index['definition']}` |")


SECTIONS: dict[str, Any] = {
    "W7": _w7,
    "W8": lambda lines, table, sizes, latest: _ideal(lines, table, sizes, latest, "W8"),
    "W9": lambda lines, table, sizes, latest: _ideal(lines, table, sizes, latest, "W9"),
    "W10": _w10,
    "W11": _w11,
}


def targets(results: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    w = results["workloads"]

    def med(workload: str, label: str, key: str = "value") -> float | None:
        return _med(_values(w.get(workload, {}).get(label, []), key))

    out: list[tuple[str, str, bool | None]] = []

    def ratio(name: str, workload: str, factor: float) -> None:
        mine, theirs = med(workload, "dbjobq/postgresql"), med(workload, "pgqueuer/postgresql")
        if mine is None or theirs is None:
            out.append((name, "not measured", None))
            return
        out.append((name, f"{mine:,.0f} vs {theirs:,.0f} = {mine / theirs:.2f}×", mine >= factor * theirs))

    ratio("W3 PostgreSQL ≥ 2× pgqueuer", "W3", 2.0)
    ratio("W1 ≥ 1× pgqueuer", "W1", 1.0)
    ratio("W2 ≥ 1× pgqueuer", "W2", 1.0)
    p50, theirs = med("W4", "dbjobq/postgresql", "p50_ms"), med("W4", "pgqueuer/postgresql", "p50_ms")
    p99 = med("W4", "dbjobq/postgresql", "p99_ms")
    if p50 is not None and theirs is not None:
        out.append(("W4 p50 ≤ pgqueuer's", f"{p50:.1f} ms vs {theirs:.1f} ms", p50 <= theirs))
    if p99 is not None:
        out.append(("W4 p99 ≤ 10 ms (PostgreSQL)", f"{p99:.1f} ms", p99 <= 10))
    sq = med("W3", "dbjobq/sqlite")
    out.append(("SQLite W3 ≥ 10,000 jobs/s", _fmt(sq), None if sq is None else sq >= 10_000))
    sq4 = med("W4s", "dbjobq/sqlite", "p50_ms")
    out.append(("SQLite W4 same process p50 ≤ 5 ms", "n/a" if sq4 is None else f"{sq4:.1f} ms",
                None if sq4 is None else sq4 <= 5))
    my = med("W3", "dbjobq/mysql")
    out.append(("MariaDB W3 ≥ 3,000 jobs/s", _fmt(my), None if my is None else my >= 3_000))
    for label, runs in w.get("W5", {}).items():
        r = _med(_values(runs, "ratio"))
        seq = [x.get("seq_scan") for x in runs if "seq_scan" in x]
        out.append((f"W5 {label}: backlog rate ≥ 80 % of empty", "n/a" if r is None else f"{r * 100:.1f} %",
                    None if r is None else r >= 0.8))
        out.append((f"W5 {label}: claim without sequential scan", "seq scan" if any(seq) else "index" if seq else "n/a",
                    None if not seq else not any(seq)))
    for label, runs in w.get("W6", {}).items():
        if not label.startswith("dbjobq/"):
            continue
        g = _med(_values(runs, "growth_mb"))
        out.append((f"W6 {label}: RSS flat (10× the jobs, growth < 20 MiB)", "n/a" if g is None else f"+{g:.1f} MiB",
                    None if g is None else g < 20))
    return out


def targets_19(results: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """Issue 19's targets that the suite measures (W7 no collapse, W8 ≥ 80 % and W9 ≥ 70 % of ideal, W10 flat)."""
    w = results["workloads"]
    out: list[tuple[str, str, bool | None]] = []
    quick = {k: " (quick run)" if m.get("quick") else "" for k, m in results.get("meta", {}).items()}
    for label, runs in w.get("W7", {}).items():
        for run in runs:
            cells = run.get("by_processes", {})
            if "1" in cells and cells:
                worst = min(c["rate"] for c in cells.values()) / cells["1"]["rate"]
                out.append((f"W7 {label}: no collapse (every process count ≥ 0.8× one process){quick.get('W7', '')}",
                            f"worst {worst:.2f}×", worst >= 0.8))
    for workload, share in (("W8", 0.8), ("W9", 0.7)):
        for label, runs in w.get(workload, {}).items():
            if not label.startswith("dbjobq/"):
                continue
            of = _med(_values(runs, "of_ideal"))
            out.append((f"{workload} {label} ≥ {share * 100:.0f} % of ideal{quick.get(workload, '')}",
                        "n/a" if of is None else f"{of * 100:.1f} %", None if of is None else of >= share))
    for label, runs in w.get("W10", {}).items():
        for run in runs:
            samples = run.get("series", {}).get("samples", [])
            if len(samples) < 6:
                continue
            third = len(samples) // 3
            for key, name in (("total_bytes", "table+index size"), ("dead_tuples", "dead tuples"),
                              ("worker_rss_mb", "worker RSS")):
                middle = statistics.fmean(s[key] for s in samples[third:2 * third]) or 1
                last = statistics.fmean(s[key] for s in samples[2 * third:])
                out.append((f"W10 {label}: {name} flat (last third ≤ 1.1× middle third){quick.get('W10', '')}",
                            f"{last / middle:.2f}×", last / middle <= 1.1))
    return out


def summary(results: dict[str, Any]) -> str:
    rows = []
    for workload, table in results["workloads"].items():
        for label, runs in table.items():
            key = "p50_ms" if workload.startswith("W4") else "value"
            rows.append(f"{workload:4} {label:26} {_cell(_values(runs, key), 1)}")
    for name, measured, ok in [*targets(results), *targets_19(results)]:
        rows.append(f"target: {name}: {measured} -> {'ok' if ok else 'MISSED' if ok is not None else 'n/a'}")
    return "\n".join(rows)


if __name__ == "__main__":  # python -m bench.report: re-render bench/RESULTS.md from bench/results.json
    import json

    BENCH = Path(__file__).resolve().parent
    (BENCH / "RESULTS.md").write_text(markdown(json.loads((BENCH / "results.json").read_text())))
