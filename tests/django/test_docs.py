"""docs/django.md: its code is the example project's code (which test_example runs), its commands and
tables are the real ones."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from django.core.management import load_command_class

from dbjobq_django import conf
from tests.docs.markdown_blocks import blocks

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "django.md"
EXAMPLE = ROOT / "examples" / "django_project"


def test_docs_python_blocks_are_the_example_code() -> None:
    python = [b for b in blocks(DOC) if b.language == "python"]
    assert python and all(b.fragment for b in python), "Django code needs a project: blocks are fragments"
    for block in python:
        name = block.filename
        assert name, f"{block.where}: name the example file on the first line (# shop/jobs.py)"
        if name == "settings.py":
            continue
        assert (EXAMPLE / name).read_text().strip() == block.code.strip(), f"{block.where} differs from {name}"


def test_docs_settings_block_matches_example_and_defaults() -> None:
    [block] = [b for b in blocks(DOC) if b.filename == "settings.py"]
    documented: dict[str, Any] = {}
    exec(compile(block.code, block.where, "exec"), documented)
    settings_file = EXAMPLE / "config" / "settings.py"
    example: dict[str, Any] = {"__file__": str(settings_file)}
    exec(compile(settings_file.read_text(), str(settings_file), "exec"), example)
    assert documented["INSTALLED_APPS"] == example["INSTALLED_APPS"]
    assert documented["DBJOBQ"] == example["DBJOBQ"]
    assert set(documented["DBJOBQ"]) <= set(conf.DEFAULTS)


def test_docs_settings_table_lists_every_key_with_its_default() -> None:
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| `([^`]*)` \|", DOC.read_text(), re.M))
    assert set(rows) == set(conf.DEFAULTS)
    for key, default in conf.DEFAULTS.items():
        assert eval(rows[key], {"timedelta": __import__("datetime").timedelta}) == default, key


def test_docs_check_table_lists_every_check() -> None:
    documented = set(re.findall(r"^\| `(dbjobq\.[EW]\d{3})` \|", DOC.read_text(), re.M))
    emitted = set(
        re.findall(r'"(dbjobq\.[EW]\d{3})"', (ROOT / "dbjobq_django" / "src" / "dbjobq_django" / "conf.py").read_text())
    )
    assert documented == emitted


def test_docs_runworker_commands_parse() -> None:
    parser = load_command_class("dbjobq_django", "runworker").create_parser("manage.py", "runworker")
    readme = EXAMPLE / "README.md"
    commands = [b.code for b in blocks(DOC) + blocks(readme) if b.language == "bash"]
    seen = 0
    for code in commands:
        for line in code.splitlines():
            words = shlex.split(line, comments=True)
            if words[:3] == ["python", "manage.py", "runworker"]:
                parser.parse_args(words[3:])
                seen += 1
    assert seen >= 4
