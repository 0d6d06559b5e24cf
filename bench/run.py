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
]
MODULES = {
    "dbjobq": "bench.workloads.dbjobq_current",
    "pgqueuer": "bench.workloads.pgqueuer_queue",
    "procrastinate": "bench.workloads.procrastinate_queue",
    "dbjobq010": "bench.workloads.dbjobq010_queue",
}
#: Workloads each system can run (dbjobq 0.1.0 has no bulk API; W5/W6 measure DBJobQ's engine).
SUPPORTED = {
    "W1": {"dbjobq", "pgqueuer", "procrastinate", "dbjobq010"},
    "W2": {"dbjobq", "pgqueuer", "procrastinate"},
    "W3": {"dbjobq", "pgqueuer", "procrastinate", "dbjobq010"},
    "W4": {"dbjobq", "pgqueuer", "procrastinate", "dbjobq010"},
    "W5": {"dbjobq"},
    "W6": {"dbjobq", "pgqueuer", "procrastinate"},
}


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


QUICK = Sizes(
    w1=300, w2=5_000, w3=2_000, w4=40, w5_finished=20_000, w5_pending=5_000, w5_drain=2_000,
    w6_small=500, w6_large=5_000,
    w3_caps={"dbjobq010": 100, "procrastinate": 300}, w6_caps={},
)
#: Left out of quick mode to keep it under two minutes: dbjobq 0.1.0's idle poll backs off to 10 s
#: (W4), and W6 is about DBJobQ's own memory.
QUICK_SKIP = {"W4": {"dbjobq010"}, "W6": {"pgqueuer", "procrastinate", "dbjobq010"}}


class StepError(RuntimeError):
    pass


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def step(system: str, command: str, url: str, timeout: float = 1800, **options: Any) -> dict[str, Any]:
    """Run one workload command of ``system`` in its interpreter; return its JSON result."""
    python = environments.python_for(system)
    args = [str(python), "-m", MODULES[system], command, "--url", url]
    for key, value in options.items():
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
    step(system, "fill", url, n=n)
    result = step(system, "drain", url, n=n)
    check = step(system, "verify", url, n=n)
    exactly_once = check["ok"] and result["jobs"] == n and result.get("distinct", n) == n
    if not exactly_once:
        log(f"W3 {system}: exactly-once check FAILED: {result} {check}")
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
        [str(python), "-m", MODULES[system], "idle_worker", "--url", url, "--out", out_path],
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


WORKLOADS: dict[str, Callable[[str, str, Sizes], dict[str, Any]]] = {
    "W1": w1, "W2": w2, "W3": w3, "W4": w4, "W4s": w4_same, "W5": w5, "W6": w6,
}


def targets_for(workload: str, systems: list[str], dbs: list[str], quick: bool) -> list[tuple[str, str]]:
    if workload == "W4s":
        return [("dbjobq", "sqlite")] if "dbjobq" in systems and "sqlite" in dbs else []
    supported = SUPPORTED[workload] - (QUICK_SKIP.get(workload, set()) if quick else set())
    return [(s, d) for s, d in TARGETS if s in systems and d in dbs and s in supported]


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    sizes = QUICK if args.quick else Sizes()
    runs = args.runs or (1 if args.quick else 3)
    workloads = args.only.split(",") if args.only else ["W1", "W2", "W3", "W4", "W4s", "W5", "W6"]
    systems = args.systems.split(",")
    dbs = args.databases.split(",")
    for system in {s for s in systems if s != "dbjobq"}:
        environments.ensure(system)
    results: dict[str, Any] = {"started": time.time(), "quick": args.quick, "runs": runs, "sizes": sizes.__dict__,
                               "machine": report.machine(), "workloads": {}}
    for workload in workloads:
        cells = targets_for(workload, systems, dbs, args.quick)
        workload_runs = 1 if (workload == "W5" and not args.quick and args.w5_runs == 1) else runs
        table: dict[str, list[dict[str, Any]]] = {f"{s}/{d}": [] for s, d in cells}
        for index in range(workload_runs):
            for system, database in cells:  # A B C, A B C, …
                label = f"{system}/{database}"
                url = databases.create(database)
                started = time.perf_counter()
                load = os.getloadavg()[0]
                try:
                    result = WORKLOADS[workload](system, url, sizes)
                except (StepError, subprocess.TimeoutExpired) as exc:
                    log(f"{workload} {label} run {index + 1}: ERROR {exc}")
                    result = {"error": str(exc)[-500:]}
                finally:
                    databases.drop(url)
                result["load_before"] = load
                result["wall_s"] = time.perf_counter() - started
                table[label].append(result)
                shown = f"{result['value']:.1f}" if "value" in result else "error"
                log(f"{workload} {label} run {index + 1}/{workload_runs}: {shown} ({result['wall_s']:.1f}s)")
        results["workloads"][workload] = table
    results["finished"] = time.time()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, one run (< 2 minutes)")
    parser.add_argument("--only", default="", help="comma-separated workloads: W1,W2,W3,W4,W4s,W5,W6")
    parser.add_argument("--systems", default="dbjobq,pgqueuer,procrastinate,dbjobq010")
    parser.add_argument("--databases", default="postgresql,sqlite,mysql")
    parser.add_argument("--runs", type=int, default=0, help="runs per system and workload (default 3, quick 1)")
    parser.add_argument("--w5-runs", type=int, default=0, help="1: a single W5 run (the 1M-row fill is slow)")
    parser.add_argument("--out", default="", help="Markdown output (default bench/RESULTS.md)")
    args = parser.parse_args()
    results = run_all(args)
    if args.quick:
        (BENCH / ".work").mkdir(exist_ok=True)
        md, raw = BENCH / ".work" / "RESULTS-quick.md", BENCH / ".work" / "results-quick.json"
    else:
        md, raw = BENCH / "RESULTS.md", BENCH / "results.json"
    if args.out:
        md, raw = Path(args.out), Path(args.out).with_suffix(".json")
    raw.write_text(json.dumps(results, indent=1, default=str))
    md.write_text(report.markdown(results))
    log(f"wrote {md} and {raw} in {results['finished'] - results['started']:.0f}s")
    print(report.summary(results))


if __name__ == "__main__":
    main()
