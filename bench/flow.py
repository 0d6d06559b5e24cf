"""W3 with flow control: DBJobQ's drain of pre-enqueued no-ops, plain and under limits, interleaved.

``python -m bench.flow [--database postgresql] [--n 20000] [--rounds 3]``

Each round fills and drains the plain W3, then W3 with 50 concurrency keys x limit 1 (``--flow
keys50``), then W3 under a 1,000/s rate limit (``--flow rate1000``), one worker process each, on a
fresh database; rounds interleave so that machine noise falls on every variant alike. Prints the
median rates (jobs/s) and every run as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
from typing import Any

from . import databases
from .run import step

VARIANTS = ("", "keys50", "rate1000")


def run_variant(url: str, n: int, flow: str) -> dict[str, Any]:
    """Fill ``n`` jobs and drain them with one worker; check each ran exactly once."""
    options = {"flow": flow} if flow else {}
    step("dbjobq", "fill", url, n=n, **options)
    result = step("dbjobq", "drain", url, n=n, **options)
    check = step("dbjobq", "verify", url, n=n)
    return {"flow": flow or "none", "rate": result["rate"], "jobs": result["jobs"], "exactly_once": check["ok"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="postgresql", help="postgresql, sqlite or mysql")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    runs: list[dict[str, Any]] = []
    for _ in range(args.rounds):
        for flow in VARIANTS:
            url = databases.create(args.database)
            try:
                runs.append(run_variant(url, args.n, flow))
            finally:
                databases.drop(url)
            print(json.dumps(runs[-1]), flush=True)
    print("| W3 variant | median jobs/s | runs |")
    print("|---|---|---|")
    for flow in VARIANTS:
        rates = [r["rate"] for r in runs if r["flow"] == (flow or "none")]
        print(f"| {flow or 'none'} | {statistics.median(rates):,.0f} | {', '.join(f'{r:,.0f}' for r in rates)} |")


if __name__ == "__main__":
    main()
