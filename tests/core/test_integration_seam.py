"""The adapters reach the core only through its public modules and ``dbjobq.integration``."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ADAPTERS = {
    "dbjobq_django": ROOT / "dbjobq_django" / "src" / "dbjobq_django",
    "dbjobq_flask": ROOT / "dbjobq_flask" / "src" / "dbjobq_flask",
    "dbjobq_fastapi": ROOT / "dbjobq_fastapi" / "src" / "dbjobq_fastapi",
}
#: The core modules an adapter may import: the public API (the dashboard's package, ``dbjobq.web``,
#: included) and the declared seam.
ALLOWED_CORE_MODULES = {"dbjobq", "dbjobq.storage", "dbjobq.models", "dbjobq.integration", "dbjobq.web"}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every absolute import in ``path``.

    ``from X import y`` counts ``X.y`` when ``y`` is a submodule (``from dbjobq import registry``), else ``X``.
    """
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.append((node.lineno, submodule if _is_module(submodule) else node.module))
    return found


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def core_module(name: str) -> str | None:
    """The ``dbjobq`` module an import names, or ``None`` for other packages."""
    return name if name == "dbjobq" or name.startswith("dbjobq.") else None


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_integration_seam_adapters_import_only_the_declared_core_modules(adapter: str) -> None:
    offending = []
    for path in sorted(ADAPTERS[adapter].rglob("*.py")):
        for line, name in imported_modules(path):
            module = core_module(name)
            if module is not None and module not in ALLOWED_CORE_MODULES:
                offending.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
            other = name.split(".")[0]
            if other in ADAPTERS and other != adapter:
                offending.append(f"{path.relative_to(ROOT)}:{line} imports another adapter ({name})")
    assert not offending, "Adapters may import only dbjobq's public modules and dbjobq.integration:\n" + "\n".join(
        offending
    )


def test_integration_seam_catches_an_internal_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("from dbjobq.storage.urls import parse_url\nfrom dbjobq import JobQueue, registry\n")
    names = [core_module(name) for _, name in imported_modules(module)]
    assert names == ["dbjobq.storage.urls", "dbjobq", "dbjobq.registry"]


def test_integration_seam_exports_exist() -> None:
    import dbjobq.integration

    missing = [name for name in dbjobq.integration.__all__ if not hasattr(dbjobq.integration, name)]
    assert not missing
