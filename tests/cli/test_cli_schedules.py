"""`dbjobq schedules`: time zones, `update` of a schedule made by hand, `sync` of those declared in code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result

from dbjobq import declarations
from tests.cli.conftest import command

Invoke = Callable[..., Result]

DECLARING_MODULE = textwrap.dedent(
    """
    from dbjobq import job


    @job(name="cli_sched.nightly", cron="0 3 * * *", tz="Europe/Paris")
    def nightly(data):
        return "done"
    """
)


@pytest.fixture(autouse=True)
def fresh_declarations() -> Iterator[None]:
    saved = dict(declarations._declared)
    yield
    declarations._declared.clear()
    declarations._declared.update(saved)
    sys.modules.pop("cli_sched", None)  # each test imports (and so declares) it afresh


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def schedule(invoke: Invoke, schedule_id: str) -> dict[str, object]:
    found = {s["id"]: s for s in json.loads(ok(invoke("schedules", "list", "--json")).stdout)}
    return found[schedule_id]  # type: ignore[no-any-return]


def test_cli_schedules_add_and_update_with_a_time_zone(invoke: Invoke, queue_name: str) -> None:
    sid = f"s-{queue_name}"
    ok(invoke("schedules", "add", sid, "x.report", "--cron", "0 3 * * *", "--tz", "Europe/Paris"))
    added = schedule(invoke, sid)
    assert (added["tz"], added["origin"], added["schedule_expression"]) == ("Europe/Paris", "operator", "0 3 * * *")
    assert "(Europe/Paris)" in ok(invoke("schedules", "list")).stdout

    out = json.loads(
        ok(invoke("schedules", "update", sid, "--cron", "30 2 * * *", "--tz", "America/New_York",
                  "--data", '{"k": 1}', "--queue", queue_name, "--json")).stdout
    )
    assert (out["schedule_expression"], out["tz"], out["job_data"], out["queue"]) == (
        "30 2 * * *", "America/New_York", {"k": 1}, queue_name
    )
    assert out["next_run"] != added["next_run"]  # a new timetable starts at its next occurrence
    ok(invoke("schedules", "update", sid, "--every", "15m"))
    every = schedule(invoke, sid)
    assert (every["schedule_type"], every["schedule_expression"], every["tz"]) == ("interval", "900", None)
    assert "updated; next run" in ok(invoke("schedules", "update", sid, "--priority", "4")).stdout


def test_cli_schedules_bad_time_zone_and_update_errors(invoke: Invoke, queue_name: str) -> None:
    sid = f"s-{queue_name}"
    bad = invoke("schedules", "add", sid, "x.report", "--cron", "0 3 * * *", "--tz", "Europe/Pari")
    assert bad.exit_code == 1 and "Unknown time zone 'Europe/Pari'" in bad.stderr
    ok(invoke("schedules", "add", sid, "x.report", "--every", "1h"))
    wrong = invoke("schedules", "update", sid, "--tz", "Europe/Paris")
    assert wrong.exit_code == 1 and "tz applies to cron schedules only" in wrong.stderr
    both = invoke("schedules", "update", sid, "--cron", "* * * * *", "--every", "1m")
    assert both.exit_code == 2 and "Give --cron or --every, not both" in both.stderr
    missing = invoke("schedules", "update", f"{sid}-nope", "--priority", "1")
    assert missing.exit_code == 1 and "No schedule has id" in missing.stderr


def test_cli_schedules_sync_applies_declarations_and_protects_them(invoke: Invoke, workdir: Path) -> None:
    (workdir / "cli_sched.py").write_text(DECLARING_MODULE)
    out = json.loads(ok(invoke("schedules", "sync", "--import", "cli_sched", "--json")).stdout)
    assert "cli_sched.nightly" in out["added"]
    declared = schedule(invoke, "cli_sched.nightly")
    assert (declared["origin"], declared["tz"]) == ("code", "Europe/Paris")
    again = ok(invoke("schedules", "sync", "--import", "cli_sched")).stdout
    assert "0 added, 0 changed, 0 removed" in again

    refused = invoke("schedules", "update", "cli_sched.nightly", "--cron", "0 4 * * *")
    assert refused.exit_code == 1
    assert "is declared in code (@job(cron=...) or a SCHEDULES setting): change it there" in refused.stderr
    ok(invoke("schedules", "disable", "cli_sched.nightly"))  # pausing one is the operator's call
    assert schedule(invoke, "cli_sched.nightly")["enabled"] is False
    ok(invoke("schedules", "delete", "cli_sched.nightly"))


FLEET_MODULE = textwrap.dedent(
    """
    from dbjobq import declarations, job


    @job(name="fleet.nightly", cron="0 4 * * *", tz="Europe/Paris")
    def nightly(data):
        return "done"


    @job(name="fleet.sum")
    def add(data):
        return data["a"] + data["b"]


    declarations.declare(*declarations.parse(
        {"sums": {"job": add, "every": "15m", "data": {"a": 1, "b": 2}}}, "fleet settings"
    ))
    """
)


@pytest.mark.slow
def test_cli_three_worker_processes_starting_at_once_write_one_schedule_set(
    workdir: Path, db_url: str, invoke: Invoke
) -> None:
    (workdir / "fleet.py").write_text(FLEET_MODULE)
    env = {**os.environ, "DBJOBQ_DATABASE_URL": db_url}
    # Version 1 of the code: one schedule the new code drops, one it changes.
    (workdir / "fleet_v1.py").write_text(
        "from dbjobq import job\n\n\n@job(name='fleet.sum', every=60)\ndef add(data):\n    return 0\n"
    )
    ok(invoke("schedules", "sync", "--import", "fleet_v1"))
    procs = [
        subprocess.Popen(
            [*command(), "worker", "--import", "fleet", "--burst", "--log-level", "WARNING"],
            cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(3)
    ]
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    listed = {s["id"]: s for s in json.loads(ok(invoke("schedules", "list", "--json")).stdout)}
    assert {"fleet.nightly", "sums"} <= set(listed) and "fleet.sum" not in listed
    assert listed["fleet.nightly"]["tz"] == "Europe/Paris" and listed["sums"]["schedule_expression"] == "900"
    assert all(listed[i]["origin"] == "code" for i in ("fleet.nightly", "sums"))
    for schedule_id in ("fleet.nightly", "sums"):
        ok(invoke("schedules", "delete", schedule_id))
