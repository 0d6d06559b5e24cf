"""The Guarantees page names, for each promise, the tests that hold DBJobQ to it: each must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "guarantees.md"
_CITED = re.compile(r"`(tests/[\w/]+\.py)(?:::(test_\w+))?`")


def test_guarantees_cite_tests_that_exist() -> None:
    cited = _CITED.findall(PAGE.read_text())
    assert len(cited) >= 10
    for path, name in cited:
        source = ROOT / path
        assert source.is_file(), f"docs/guarantees.md cites {path}, which does not exist"
        if name:
            assert re.search(rf"def {name}\(", source.read_text()), f"docs/guarantees.md cites {path}::{name}"
