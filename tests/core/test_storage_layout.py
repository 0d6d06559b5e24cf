"""The storage's layout holds: what differs by database lives in ``storage/dialects/``, driver errors are
wrapped in one place, server drivers are imported only by their dialect module, and no module grows
past what a reader holds in mind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

STORAGE = Path(__file__).resolve().parents[2] / "dbjobq_core" / "src" / "dbjobq" / "storage"
MODULES = sorted(STORAGE.rglob("*.py"))
#: Modules that name databases legitimately: the URL table, the DDL conditions, the dialect modules.
NAMES_DATABASES = {STORAGE / "urls.py", STORAGE / "schema.py", *(STORAGE / "dialects").glob("*.py")}
MAX_LINES = 400


def _code(path: Path) -> str:
    """The module without comments and docstrings' prose lines (a crude but sufficient filter)."""
    return "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(STORAGE)))
def test_storage_layout_modules_stay_small(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= MAX_LINES


def test_storage_layout_only_dialect_modules_branch_on_the_database() -> None:
    compared = re.compile(r"""(==|!=|\bin\b)\s*\(?\s*["'](sqlite|postgresql|postgres|mysql|mariadb)["']""")
    offending = [
        f"{path.relative_to(STORAGE)}:{n}: {line.strip()}"
        for path in MODULES
        if path not in NAMES_DATABASES
        for n, line in enumerate(_code(path).splitlines(), 1)
        if compared.search(line) or re.search(r"\.dialect\s*(==|!=|in)\b", line)
    ]
    assert not offending, "Branch on a capability, or move the difference to storage/dialects/:\n" + "\n".join(
        offending
    )


def test_storage_layout_driver_errors_are_wrapped_in_one_place() -> None:
    wrapping = [path.name for path in MODULES if "except DBAPIError" in path.read_text()]
    assert wrapping == ["database.py"]


def test_storage_layout_server_drivers_only_in_their_dialect_module() -> None:
    importers = {
        driver: sorted(
            str(path.relative_to(STORAGE))
            for path in MODULES
            if re.search(rf"^\s*(import|from)\s+{driver}\b", path.read_text(), re.M)
        )
        for driver in ("asyncpg", "aiomysql", "pymysql")
    }
    # PostgreSQL's statements (dialects/postgresql.py) import no driver: only its hot path does.
    assert importers == {"asyncpg": ["dialects/postgresql_fastpath.py"], "aiomysql": [], "pymysql": []}
