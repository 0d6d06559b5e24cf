"""docs/flask.md: every code block runs (Python) or parses (shell), and the config table is the real one."""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from dbjobq_flask import CONFIG_DEFAULTS
from dbjobq_flask._cli import dbjobq_group
from tests.flask.conftest import dbjobq_threads

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "flask.md"
EXAMPLE_README = ROOT / "examples" / "flask_app" / "README.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.M | re.S)


def _blocks(language: str, doc: Path = DOC) -> list[str]:
    return [code for lang, code in BLOCK.findall(doc.read_text()) if lang == language]


def test_docs_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # Flask(__name__) of an unknown module: the instance folder is ./instance
    namespace: dict[str, Any] = {"__name__": "docs_flask"}
    try:
        for code in _blocks("python"):
            exec(compile(code, str(DOC), "exec"), namespace)
        app: Flask = namespace["app"]
        jobq = namespace["jobq"]
        client = app.test_client()
        signup = client.post("/signup", data={"email": "ada@example.com"}).json["job_id"]  # type: ignore[index]
        report = client.post("/reports").json["job_id"]  # type: ignore[index]
        with app.app_context():
            index = jobq.enqueue(namespace["rebuild_search_index"])
        result = app.test_cli_runner().invoke(args=["dbjobq", "worker", "--burst", "--poll-interval", "0.1"])
        assert result.exit_code == 0, result.output
        with app.app_context():
            assert jobq.get_job(signup).status == "completed"
            assert jobq.get_job(report).result == {"kind": "daily"}
            assert jobq.get_job(index).result == "docs_flask"
        assert (tmp_path / "instance" / "dbjobq.sqlite3").exists()
        namespace["test_signup_sends_the_email"](tmp_path)
        namespace["test_signup_runs_the_email_job_at_once"](tmp_path)
    finally:
        for value in list(namespace.values()):
            if isinstance(value, Flask) and "dbjobq" in value.extensions:
                value.extensions["dbjobq"].close()
    assert not dbjobq_threads()


def test_docs_shell_blocks_name_real_commands_and_options() -> None:
    checked = 0
    for code in _blocks("bash") + _blocks("bash", EXAMPLE_README):
        for line in code.splitlines():
            words = shlex.split(line, comments=True)
            if not words or words[0] != "flask" or "dbjobq" not in words:
                continue
            name, *args = words[words.index("dbjobq") + 1 :]
            command = dbjobq_group.get_command(None, name)  # type: ignore[arg-type]
            assert command is not None, line
            command.make_context(name, list(args))  # raises on an unknown option
            checked += 1
    assert checked >= 8


def test_docs_config_table_matches_the_defaults() -> None:
    rows = re.findall(r"^\| `(DBJOBQ_\w+)` \| `([^`]*)` \|", DOC.read_text(), re.M)
    assert [key for key, _ in rows] == list(CONFIG_DEFAULTS)
    for key, default in rows:
        assert ast.literal_eval(default) == CONFIG_DEFAULTS[key], key
