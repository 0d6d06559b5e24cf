"""Every Python block in docs/ is exercised, so the documentation cannot drift from the code.

Conventions for authors of docs/*.md:

* A ```` ```python ```` block runs. The blocks of one page run in order in one fresh interpreter and
  share one namespace, as if a reader pasted them one after another into a file: a later block may use
  what an earlier one defined. They run with a temporary directory as the current directory and
  ``DBJOBQ_DATABASE_URL`` set to a SQLite file in it; ``if __name__ == "__main__":`` blocks run, and
  top-level ``await`` is allowed (such blocks run on one event loop kept for the page).
* A block that names its file — first line ``# tasks.py``, or the line before it ```tasks.py`:`` —
  is also written to that file (in the temporary directory, which is on ``sys.path``) before it runs,
  so later blocks can ``from tasks import …`` as a reader's program would.
* A block whose last non-blank line before the opening fence is ``<!-- fragment -->`` is only
  compiled (top-level ``await`` allowed): use it for pieces of a larger program (a settings module,
  a systemd unit's Python side, code that needs a server) — and keep them few.
* Other languages (bash, ini, toml, yaml, text) are not run.

A failing page reports the block (``page.md:line``) and its traceback.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.markdown_blocks import Block, python_blocks

DOCS = Path(__file__).resolve().parents[2] / "docs"
RUNNER = Path(__file__).with_name("run_blocks.py")
PAGES = sorted(DOCS.glob("*.md"))

pytestmark = pytest.mark.slow


def _compile(block: Block) -> None:
    try:
        compile(block.code, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except SyntaxError as exc:
        pytest.fail(f"{block.where}: {exc}")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_docs_python_blocks_compile(page: Path) -> None:
    for block in python_blocks(page):
        _compile(block)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_docs_python_blocks_run(page: Path, tmp_path: Path) -> None:
    runnable = [block for block in python_blocks(page) if not block.fragment]
    if not runnable:
        return  # nothing to run: its blocks (if any) are compiled by the test above
    spec = {
        "file": str(tmp_path / page.with_suffix(".py").name),
        "blocks": [{"where": block.where, "code": block.code, "file": block.filename} for block in runnable],
    }
    (tmp_path / "blocks.json").write_text(json.dumps(spec))
    runner = tmp_path / "run_blocks.py"  # beside the blocks: Flask finds an app's instance folder from it
    runner.write_text(RUNNER.read_text())
    env = {
        # A reader's fresh shell: nothing from this test session (pytest-django's settings, etc.).
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_"))},
        "DBJOBQ_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'docs.sqlite3'}",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "PYTHONWARNINGS": "error::DeprecationWarning:__main__",
    }
    proc = subprocess.run(
        [sys.executable, str(runner), "blocks.json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"{page.name}: a block failed\n{proc.stderr[-4000:]}\n{proc.stdout[-2000:]}"


def test_docs_marker_parsing(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Text\n\n<!-- fragment -->\n\n```python\nawait x\n```\n\n```python\nprint(1)\n```\n\n```bash\nls\n```\n"
    )
    found = python_blocks(page)
    assert [(b.line, b.fragment, b.code) for b in found] == [(5, True, "await x\n"), (9, False, "print(1)\n")]
    assert [b.filename for b in found] == [None, None]


def test_docs_file_blocks_are_named(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```python\n# tasks.py\nx = 1\n```\n\n`app.py`:\n\n```python\ny = 2\n```\n")
    assert [b.filename for b in python_blocks(page)] == ["tasks.py", "app.py"]
