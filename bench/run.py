"""The side-by-side benchmark.

``python -m bench.run [--quick] [--only W1,W3] [--systems …] [--databases …] [--runs N]``.

Every run gets a fresh throw-away database; the systems of one workload alternate run by run
(A B C A B C …). Each workload step is a subprocess of that system's interpreter that prints JSON.
Writes bench/RESULTS.md and bench/results.json (quick mode: bench/.work/RESULTS-quick.md and .json).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import databases, environments, report

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

#: (system, database) pairs, and the module that drives each system.
TARGETS: list[tuple[str, str]] = [
    ("dbjobq", "postgresql"),
    ("pgqueuer", "postgresql"),
    ("procrastinate", "postgresql"),
    ("dbjobq010", "postgresql"),
    ("dbjobq", "sqlite"),
    ("dbjobq010", "sqlite"),
    ("dbjobq", "mysql"),
    ("saq", "postgresql"),
    ("celery", "redis"),
    ("streaq", "redis"),
]
MODULES = {
    "dbjobq": "bench.workloads.dbjobq_current",
    "pgqueuer": "bench.workloads.pgqueuer_queue",
    "procrastinate": "bench.workloads.procrastinate_queue",
    "dbjobq010": "bench.workloads.dbjobq010_queue",
    "saq": "bench.workloads.saq_queue",
    "celery": "bench.workloads.celery_queue",
    "streaq": "bench.workloads.streaq_queue",
}
PEERS = ("saq", "celery", "streaq")
#: Workloads each system can run (dbjobq 0.1.0 has no bulk API; W5/W6/W7/W9/W10 measure DBJobQ's engine).
SUPPORTED = {
    "W1": {"dbjobq", "pgqueuer", "procrastinate", "dbjobq010", *PEERS},
    "W2": {"dbjobq", "pgqueuer", "procrastinate", *PEERS},
    "W3": {"dbjobq", "pgqueuer", "procrastinate", "dbjobq010", *PEERS},
    "W4": {"dbjobq", "pgqueuer", "procrastinate", "dbjobq010", *PEERS},
    "W5": {"dbjobq"},
    "W6": {"dbjobq", "pgqueuer", "procrastinate"},
    "W7": {"dbjobq"},
    "W8": {"dbjobq", "pgqueuer", "celery"},
    "W9": {"dbjobq"},
    "W10": {"dbjobq"},
    "W11": {"dbjobq", "pgqueuer", "procrastinate"},
}
#: Workloads that run once (not alternated) however many runs are asked: long, or a state measurement.
SINGLE_RUN = {"W7": 1, "W10": 1, "W11": 1}


@dataclass
class Sizes:
    w1: int = 5_000
    w2: int = 50_000
    w3: int = 20_000
    w4: int = 300
    w4_interval: float = 0.02
    w5_finished: int = 1_000_000
    w5_pending: int = 100_000
    w5_drain: int = 20_000
    w6_small: int = 10_000
    w6_large: int = 100_000
    #: Slow systems drain fewer jobs so a run ends in reasonable time (the rate is what is compared).
    w3_caps: dict[str, int] = field(default_factory=lambda: {"dbjobq010": 2_000})
    w6_caps: dict[str, int] = field(default_factory=lambda: {"procrastinate": 20_000})
    #: W7: jobs drained by 1, 2 and 4 worker processes together.
    w7: int = 50_000
    w7_processes: tuple[int, ...] = (1, 2, 4)
    #: W8: async jobs awaiting ``w8_sleep`` s at concurrency ``w8_concurrency``.
    w8: int = 20_000
    w8_sleep: float = 0.05
    w8_concurrency: int = 200
    #: W9: sync jobs blocking ``w9_sleep`` s at concurrency ``w9_concurrency``.
    w9: int = 5_000
    w9_sleep: float = 0.01
    w9_concurrency: int = 50
    #: W10: steady enqueue rate (jobs/s) for ``w10_duration`` s, finished jobs kept ``w10_retention`` s.
    w10_rate: float = 300.0
    w10_duration: float = 1800.0
    w10_retention: float = 300.0
    #: W11: jobs through the queue before the footprint is measured (capped for slow systems).
    w11: int = 100_000
    w11_caps: dict[str, int] = field(default_factory=lambda: {"procrastinate": 20_000})


QUICK = Sizes(
    w1=300, w2=5_000, w3=2_000, w4=40, w5_finished=20_000, w5_pending=5_000, w5_drain=2_000,
    w6_small=500, w6_large=5_000,
    w3_caps={"dbjobq010": 100, "procrastinate": 300, "celery": 500, "saq": 500, "streaq": 500}, w6_caps={},
    w7=3_000, w8=2_000, w9=1_000, w10_duration=90.0, w10_retention=30.0,
    w11=3_000, w11_caps={"procrastinate": 1_000},
)
#: Left out of quick mode to keep it under three minutes: dbjobq 0.1.0's idle poll backs off to 10 s
#: (W4), W6 is about DBJobQ's own memory, and the Redis/SAQ peers' worker start-up costs seconds.
QUICK_SKIP = {
    "W2": set(PEERS),
    "W4": {"dbjobq010", *PEERS},
    "W6": {"pgqueuer", "procrastinate", "dbjobq010"},
    "W8": {"celery"},
}


class StepError(RuntimeError):
    pass


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def step(system: str, command: str, url: str, timeout: float = 1800, **options: Any) -> dict[str, Any]:
    """Run one workload command of ``system`` in its interpreter; return its JSON result."""
    python = environments.python_for(system)
    args = [str(python), "-m", MODULES[system], command, "--url", url]
    for key, value in options.items():
        if value is True:
            args.append(f"--{key}")
        elif value is not False:
            args += [f"--{key}", str(value)]
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise StepError(f"{system} {command} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return dict(json.loads(lines[-1]))


# -- workloads: each takes (system, url, sizes) and returns a result dict with a "value" ---------
def w1(system: str, url: str, sizes: Sizes) -> dict[str, Any]:
    result = step(system, "enqueue_single", url, n=sizes.w1)
    return {**result, "value": result["rate"]}


def w2(system: str, url: str, sizes: Sizes) -> dict[str, Any]:
    result = step(system, "enqueue_bulk", url, n=sizes.w2)
    return {**result, "value": result["rate"]}


def w3(system: str, url: str, sizes: Sizes) -> dict[str, Any]:
    n = min(sizes.w3, sizes.w3_caps.get(system, sizes.w3))
    return drain_checked(system, url, n, "W3")


def drain_checked(system: str, url: str, n: int, workload: str, **options: Any) -> dict[str, Any]:
    """Fill ``n`` jobs, drain them with one worker, check in the store that each ran exactly once."""
    fill_options = {k: v for k, v in options.items() if k in ("sleep", "sync")}
    step(system, "fill", url, n=n, **fill_options)
    result = step(system, "drain", url, n=n, **options)
    check = step(system, "verify", url, n=n)
    exactly_once = check["ok"] and result["jobs"] == n and result.get("distinct", n) == n
    if not exactly_once:
        log(f"{workload} {system}: exactly-once check FAILED: {result} {check}")
    return {**result, "value": result["rate"], "n": n, "exactly_once": exactly_once, "check": check}


def w4(system: str, url: str, sizes: Sizes, *, same_process: bool = False) -> dict[str, Any]:
    if same_process:
        result = step(system, "latency_same_process", url, n=sizes.w4, interval=sizes.w4_interval)
        return {**result, "value": result["p50_ms"]}
    step(system, "fill", url, n=0)  # creates the schema
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        out_path = out.name
    python = environments.python_for(system)
    worker = subprocess.Popen(
        [str(python), "-m", MODULES[system], "idle_worker", "--url", url, "--out", out_path, "--n", str(sizes.w4)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert worker.stdout is not None
        line = worker.stdout.readline()
        if "READY" not in line:
            raise StepError(f"{system} idle worker did not start: {worker.stderr.read() if worker.stderr else ''}")
        step(system, "latency_producer", url, n=sizes.w4, interval=sizes.w4_interval)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    values = json.loads(Path(out_path).read_text()) if Path(out_path).stat().st_size else []
    os.unlink(out_path)
    ordered = sorted(values)
    if not ordered:
        raise StepError(f"{system}: no latency recorded")

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000

    result = {"p50_ms": pick(0.5), "p95_ms": pick(0.95), "p99_ms": pick(0.99), "max_ms": ordered[-1] * 1000,
              "count": len(ordered)}
    return {**result, "value": result["p50_ms"]}


def w4_same(system: str, url: str, sizes: Sizes) -> dict[str, Any]:
    return w4(system, url, sizes, same_process=True)


def w5(system: str, url: str, sizes: Sizes) -> dict[str, Any]:
    """Drain rate with an empty table vs with the backlog (same database, the empty run first)."""
    n = sizes.w5_drain
    step(system, "fill", url, n=n)
    empty = step(system, "drain_count", url, n=n)
    loaded = step(system, "backlog", url, finished=sizes.w5_finished, n=sizes.w5_pending)
    backlog = step(system, "drain_count", url, n=n)
    plan = step(system, "explain", url)
    ratio = backlog["rate"] / empty["rate"]
    return {"value": backlog["rate"], "empty_rate": empty["rate"], "backlog_rate": backlog["rate"],
            "ratio": ratio, "backlog_rows": loaded["rows"], "backlog_insert_s": loaded["seconds"],
            "seq_scan": plan["seq_scan"], "plan": plan["plan"], "statement": plan["statement"]}


def w6(system: str, url: str, sizes: Sizes) -> dict[str, Any]:
    """Peak RSS of the worker process draining a small and a large backlog (fresh process each)."""
    large = min(sizes.w6_large, sizes.w6_caps.get(system, sizes.w6_large))
    small = min(sizes.w6_small, large // 10 or 1)
    results = {}
    for label, n in (("small", small), ("large", large)):
        step(system, "fill", url, n=n)
        results[label] = step(system, "drain", url, n=n)
        results[label]["n"] = n
    growth = results["large"]["peak_rss_mb"] - results["small"]["peak_rss_mb"]
    return {"value": results["large"]["peak_rss_mb"], "small_n": small, "large_n": large,
            "small_peak_mb": results["small"]["peak_rss_mb"], "large_peak_mb": results["large"]["peak_rss_mb"],
            "growth_mb": growth, "large_rate": results["large"]["rate"]}


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields) - idle) / ticks, sum(fields) / ticks


def w7(system: str, url: str, sizes: Sizes) -> dict[str, Any]:
    """Scaling out: N jobs drained by 1, 2 and 4 worker processes started together (fresh fill each)."""
    python = environments.python_for(system)
    n = sizes.w7
    out: dict[str, Any] = {"n": n, "by_processes": {}}
    cores = os.cpu_count() or 1
    kind = {"postgresql": "postgresql", "mysql": "mysql", "sqlite": "sqlite"}[url.split(":", 1)[0]]
    for index, count in enumerate(sizes.w7_processes):
        if index:  # a fresh database per process count
            databases.drop(url)
            url = databases.create(kind)
        step(system, "fill", url, n=n)
        procs = [
            subprocess.Popen([str(python), "-m", MODULES[system], "drain_gated", "--url", url, "--n", str(n)],
                             cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
            for _ in range(count)
        ]
        try:
            for proc in procs:  # each has opened its storage and waits for the word
                assert proc.stdout is not None
                if "READY" not in proc.stdout.readline():
                    raise StepError(f"W7 worker did not start: {proc.communicate()[1][-2000:]}")
            busy0, total0 = machine_cpu()
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write("GO\n")
                proc.stdin.flush()
            outputs = [proc.communicate(timeout=1800) for proc in procs]
            busy1, total1 = machine_cpu()
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        reports = []
        for proc, (stdout, stderr) in zip(procs, outputs, strict=True):
            lines = [line for line in stdout.splitlines() if line.startswith("{")]
            if proc.returncode != 0 or not lines:
                raise StepError(f"W7 worker failed ({proc.returncode}): {stderr[-2000:]}")
            reports.append(json.loads(lines[-1]))
        check = step(system, "verify", url, n=n)
        wall = max(r["end"] for r in reports) - min(r["start"] for r in reports)
        worker_cpu = sum(r["cpu_s"] for r in reports)
        machine_busy = busy1 - busy0
        machine_total = (total1 - total0) or 1.0
        executed = sum(r["jobs"] for r in reports)
        cell = {
            "rate": n / wall, "seconds": wall, "executed": executed, "per_process": [r["jobs"] for r in reports],
            "exactly_once": bool(check["ok"]) and executed == n, "check": check,
            # Where the time goes: the workers' own CPU (Python + driver), everything else that ran
            # (the database server, other tenants of this machine), and idle cores.
            "worker_cpu_s": worker_cpu, "worker_cpu_us_per_job": worker_cpu / n * 1e6,
            "other_cpu_s": max(0.0, machine_busy - worker_cpu), "idle_cpu_s": max(0.0, machine_total - machine_busy),
            "cores": cores, "busy_share": machine_busy / machine_total,
        }
        if not cell["exactly_once"]:
            log(f"W7 {system} x{count}: exactly-once check FAILED: {reports} {check}")
        out["by_processes"][str(count)] = cell
    databases.drop(url)  # the runner drops the first database again: IF EXISTS
    rates = [c["rate"] for c in out["by_processes"].values()]
    out["value"] = out["by_processes"][str(sizes.w7_processes[0])]["rate"]
    out["exactly_once"] = all(c["exactly_once"] for c in out["by_processes"].values())
    out["min_over_one"] = min(rates) / rates[0]
    return out


def w8(system: str, url: str, sizes: Sizes) -> dict[str, Any]:
    """Async jobs that each await ``w8_sleep`` s (an HTTP call) at concurrency ``w8_concurrency``."""
    result = drain_checked(system, url, sizes.w8, "W8", sleep=sizes.w8_sleep, concurrency=sizes.w8_concurrency)
    ideal = sizes.w8_concurrency / sizes.w8_sleep
    return {**result, "ideal": ideal, "of_ideal": result["value"] / ideal}


def w9(system: str, url: str, sizes: Sizes) -> dict[str, Any]:
    """Sync jobs that each block ``w9_sleep`` s (a thread pool's job) at concurrency ``w9_concurrency``."""
    result = drain_checked(system, url, sizes.w9, "W9", sleep=sizes.w9_sleep, sync=True,
                           concurrency=sizes.w9_concurrency)
    ideal = sizes.w9_concurrency / sizes.w9_sleep
    return {**result, "ideal": ideal, "of_ideal": result["value"] / ideal}


def w10(system: str, url: str, sizes: Sizes) -> dict[str, Any]:
    """Soak: a steady enqueue rate for a long time on PostgreSQL, retention on; series + a PNG plot."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        out_path = out.name
    timeout = sizes.w10_duration + 600
    result = step(system, "soak", url, timeout=timeout, rate=sizes.w10_rate, duration=sizes.w10_duration,
                  retention=sizes.w10_retention, out=out_path)
    series = json.loads(Path(out_path).read_text())
    os.unlink(out_path)
    result["series"] = series
    minutes = series["minutes"]
    result["value"] = max((m["p99_ms"] for m in minutes), default=0.0)
    quick = sizes.w10_duration < Sizes().w10_duration
    png = BENCH / ("w10-soak-quick.png" if quick else "w10-soak.png")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(series, fh)
    autovacuum = databases.pg_setting(url, "autovacuum")
    result["autovacuum"] = autovacuum
    label = f"{'QUICK RUN, ' if quick else ''}{sizes.w10_duration / 60:.1f} min, autovacuum {autovacuum}"
    title = (f"W10 soak: DBJobQ on PostgreSQL, {sizes.w10_rate:.0f} jobs/s, retention {sizes.w10_retention:.0f} s "
             f"({label})")
    proc = subprocess.run([str(environments.ensure("plot")), "-m", "bench.plot", fh.name, str(png), title],
                          cwd=ROOT, capture_output=True, text=True)
    os.unlink(fh.name)
    if proc.returncode != 0:
        log(f"W10 plot failed: {proc.stderr[-1000:]}")
    else:
        result["plot"] = str(png.relative_to(ROOT))
    return result


def w11(system: str, url: str, sizes: Sizes) -> dict[str, Any]:
    """What each job leaves behind on PostgreSQL: after N jobs flowed through, dead tuples and bytes per job."""
    n = min(sizes.w11, sizes.w11_caps.get(system, sizes.w11))
    flow = step(system, "flow", url, n=n)
    footprint = databases.pg_footprint(url, FOOTPRINT_TABLES[system])
    per_job = {
        "dead_tuples_per_job": footprint["dead_tuples"] / n,
        "bytes_per_job": footprint["total_bytes"] / n,
        "jobs_table_bytes_per_job": footprint["tables"][FOOTPRINT_TABLES[system][0]]["total_bytes"] / n,
    }
    return {"n": n, "flow": flow, **footprint, **per_job, "value": per_job["bytes_per_job"]}


#: Tables a system writes per job (the first is its jobs table) for W11's footprint.
FOOTPRINT_TABLES = {
    "dbjobq": ["dbjobq_jobs"],
    "pgqueuer": ["pgqueuer", "pgqueuer_log", "pgqueuer_statistics"],
    "procrastinate": ["procrastinate_jobs", "procrastinate_events"],
}


WORKLOADS: dict[str, Callable[[str, str, Sizes], dict[str, Any]]] = {
    "W1": w1, "W2": w2, "W3": w3, "W4": w4, "W4s": w4_same, "W5": w5, "W6": w6,
    "W7": w7, "W8": w8, "W9": w9, "W10": w10, "W11": w11,
}
#: Databases per workload where not every database applies.
DATABASES_FOR = {"W8": {"postgresql", "redis"}, "W9": {"postgresql"}, "W10": {"postgresql"}, "W11": {"postgresql"}}
DEFAULT_WORKLOADS = "W1,W2,W3,W4,W4s,W5,W6,W7,W8,W9,W11"
#: Quick mode's default: W7 (three databases x seven worker processes) and W11 only when named.
QUICK_WORKLOADS = "W1,W2,W3,W4,W4s,W5,W6,W8,W9"


def targets_for(workload: str, systems: list[str], dbs: list[str], quick: bool) -> list[tuple[str, str]]:
    if workload == "W4s":
        return [("dbjobq", "sqlite")] if "dbjobq" in systems and "sqlite" in dbs else []
    supported = SUPPORTED[workload] - (QUICK_SKIP.get(workload, set()) if quick else set())
    allowed = DATABASES_FOR.get(workload, set(dbs))
    return [(s, d) for s, d in TARGETS if s in systems and d in dbs and d in allowed and s in supported]


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    sizes = QUICK if args.quick else Sizes()
    if args.w7_jobs:
        sizes.w7 = args.w7_jobs
    if args.w10_minutes:
        sizes.w10_duration = args.w10_minutes * 60
    runs = args.runs or (1 if args.quick else 3)
    workloads = (args.only or (QUICK_WORKLOADS if args.quick else DEFAULT_WORKLOADS)).split(",")
    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown:
        raise SystemExit(f"unknown workload(s) {', '.join(unknown)}: choose from {', '.join(WORKLOADS)}")
    systems = args.systems.split(",")
    dbs = args.databases.split(",")
    needed = {s for w in workloads for s, _ in targets_for(w, systems, dbs, args.quick)}
    for system in sorted(needed - {"dbjobq"}):
        environments.ensure(system)
    started = time.time()
    results: dict[str, Any] = {"started": started, "quick": args.quick, "runs": runs, "sizes": sizes.__dict__,
                               "machine": report.machine(), "workloads": {}, "meta": {}}
    for workload in workloads:
        cells = targets_for(workload, systems, dbs, args.quick)
        workload_runs = SINGLE_RUN.get(workload, runs)
        if workload == "W5" and not args.quick and args.w5_runs == 1:
            workload_runs = 1
        table: dict[str, list[dict[str, Any]]] = {f"{s}/{d}": [] for s, d in cells}
        for index in range(workload_runs):
            for system, database in cells:  # A B C, A B C, …
                label = f"{system}/{database}"
                url = databases.create(database)
                begun = time.perf_counter()
                load = os.getloadavg()[0]
                try:
                    result = WORKLOADS[workload](system, url, sizes)
                except (StepError, subprocess.TimeoutExpired) as exc:
                    log(f"{workload} {label} run {index + 1}: ERROR {exc}")
                    result = {"error": str(exc)[-500:]}
                finally:
                    databases.drop(url)
                result["load_before"] = load
                result["wall_s"] = time.perf_counter() - begun
                result["run_started"] = started
                result["quick"] = args.quick
                table[label].append(result)
                shown = f"{result['value']:.1f}" if "value" in result else "error"
                log(f"{workload} {label} run {index + 1}/{workload_runs}: {shown} ({result['wall_s']:.1f}s)")
        results["workloads"][workload] = table
        results["meta"][workload] = {"started": started, "quick": args.quick, "runs": workload_runs,
                                     "sizes": sizes.__dict__}
    results["finished"] = time.time()
    return results


def merge(previous: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new``'s rows replace the same rows of ``previous``; other rows and workloads stay (with their run's date)."""
    merged = dict(previous)
    legacy_meta = {"started": previous["started"], "quick": previous.get("quick", False),
                   "runs": previous.get("runs"), "sizes": previous.get("sizes", {})}
    merged["meta"] = {w: previous.get("meta", {}).get(w, legacy_meta) for w in previous["workloads"]}
    for table in previous["workloads"].values():
        for runs in table.values():
            for run in runs:
                run.setdefault("run_started", previous["started"])
                run.setdefault("quick", previous.get("quick", False))
    merged["workloads"] = {w: dict(t) for w, t in previous["workloads"].items()}
    for workload, table in new["workloads"].items():
        merged["workloads"].setdefault(workload, {}).update(table)
        merged["meta"][workload] = new["meta"][workload]
    merged["machine"] = new["machine"]
    merged["history"] = [*previous.get("history", [_summary_of(previous)]), _summary_of(new)]
    merged["started"], merged["finished"] = new["started"], new["finished"]
    merged["quick"], merged["runs"], merged["sizes"] = new["quick"], new["runs"], new["sizes"]
    return merged


def _summary_of(results: dict[str, Any]) -> dict[str, Any]:
    return {"started": results["started"], "finished": results["finished"], "quick": results.get("quick", False),
            "runs": results.get("runs"), "workloads": {w: sorted(t) for w, t in results["workloads"].items()},
            "dbjobq": results.get("machine", {}).get("dbjobq", "?"), "cpu": results.get("machine", {}).get("cpu", "?"),
            "load": results.get("machine", {}).get("load average at start", "?")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, one run (about three minutes)")
    parser.add_argument("--only", default="", help=f"comma-separated workloads (default {DEFAULT_WORKLOADS}, "
                        f"quick {QUICK_WORKLOADS}; W10, the soak, only when named)")
    parser.add_argument("--systems", default="dbjobq,pgqueuer,procrastinate,dbjobq010,saq,celery,streaq")
    parser.add_argument("--databases", default="postgresql,sqlite,mysql,redis")
    parser.add_argument("--runs", type=int, default=0, help="runs per system and workload (default 3, quick 1)")
    parser.add_argument("--w5-runs", type=int, default=0, help="1: a single W5 run (the 1M-row fill is slow)")
    parser.add_argument("--w7-jobs", type=int, default=0, help="W7's job count (default 50,000; quick 3,000)")
    parser.add_argument("--w10-minutes", type=float, default=0, help="W10's duration (default 30; quick 1.5)")
    parser.add_argument("--merge", action="store_true", help="update bench/RESULTS.md and results.json: this "
                        "run's rows replace the same rows, the others stay, labelled with their run's date")
    parser.add_argument("--out", default="", help="Markdown output (default bench/RESULTS.md)")
    args = parser.parse_args()
    results = run_all(args)
    if args.quick and not args.merge:
        (BENCH / ".work").mkdir(exist_ok=True)
        md, raw = BENCH / ".work" / "RESULTS-quick.md", BENCH / ".work" / "results-quick.json"
    else:
        md, raw = BENCH / "RESULTS.md", BENCH / "results.json"
    if args.out:
        md, raw = Path(args.out), Path(args.out).with_suffix(".json")
    if args.merge and raw.exists():
        results = merge(json.loads(raw.read_text()), results)
    raw.write_text(json.dumps(results, indent=1, default=str))
    md.write_text(report.markdown(results))
    log(f"wrote {md} and {raw} in {results['finished'] - results['started']:.0f}s")
    print(report.summary(results))


if __name__ == "__main__":
    main()
