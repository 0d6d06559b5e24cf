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


# -- one enqueue-options type --------------------------------------------------------------------
ENQUEUE_FUNCTIONS = [
    ("dbjobq", "JobQueue.enqueue"),
    ("dbjobq", "JobQueue.enqueue_many"),
    ("dbjobq", "JobQueue.prepare_job"),
    ("dbjobq_flask", "DBJobQ.enqueue"),
    ("dbjobq_flask", "DBJobQ.enqueue_many"),
    ("dbjobq_flask", "DBJobQ.aenqueue"),
    ("dbjobq_flask", "DBJobQ.aenqueue_many"),
    ("dbjobq_django.enqueueing", "enqueue"),
    ("dbjobq_django.enqueueing", "aenqueue"),
]


@pytest.mark.parametrize(("module", "qualname"), ENQUEUE_FUNCTIONS)
def test_integration_seam_enqueue_functions_take_the_one_options_type(module: str, qualname: str) -> None:
    import importlib
    import inspect

    from dbjobq.models import EnqueueOptions

    if module.startswith("dbjobq_django"):
        pytest.importorskip("django")
    target: object = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    parameters = inspect.signature(target).parameters  # type: ignore[arg-type]
    written_out = set(parameters) & set(EnqueueOptions.__annotations__)
    assert not written_out, f"{module}.{qualname} writes out {written_out}: take **options: Unpack[EnqueueOptions]"
    [var_keyword] = [p for p in parameters.values() if p.kind is inspect.Parameter.VAR_KEYWORD]
    assert var_keyword.annotation == "Unpack[EnqueueOptions]"


async def test_integration_seam_unknown_enqueue_option_is_refused_with_a_hint() -> None:
    from dbjobq import JobQueue
    from dbjobq.storage import SQLAlchemyStorage

    storage = SQLAlchemyStorage("sqlite+aiosqlite:///:memory:")
    await storage.initialize()
    try:
        queue = JobQueue(storage)
        with pytest.raises(TypeError, match=r"unexpected option 'priorty' \(did you mean 'priority'\?\)"):
            await queue.enqueue("anything", {}, priorty=5)  # type: ignore[call-arg]
        assert await queue.list_jobs() == []
    finally:
        await storage.close()


# -- what the adapters declare -------------------------------------------------------------------
def _dependencies(package: str) -> dict[str, str]:
    """{distribution name: requirement} of a package's pyproject.toml (its required dependencies)."""
    import tomllib
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / package / "pyproject.toml").read_text())["project"]
    return {Requirement(spec).name.lower(): spec for spec in project["dependencies"]}


#: The module each declared distribution is imported as.
IMPORT_NAMES = {"dbjobq": "dbjobq", "django": "django", "flask": "flask", "fastapi": "fastapi"}


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_integration_seam_adapters_declare_only_what_they_import(adapter: str) -> None:
    imported = {
        name.split(".")[0] for path in ADAPTERS[adapter].rglob("*.py") for _, name in imported_modules(path)
    }
    declared = _dependencies(adapter)
    unused = [spec for name, spec in declared.items() if IMPORT_NAMES.get(name, name) not in imported]
    assert not unused, f"{adapter} declares dependencies it never imports: {unused}"
    assert declared["dbjobq"].endswith(">=0.2.0,<0.3"), "adapters pin the core to its minor version"


#: Dependency floors that keep known vulnerabilities out (issue 20 point 12; pyproject.toml says why):
#: (package, distribution, extra) -> (the floor, the last vulnerable release below it).
SECURITY_FLOORS = {
    ("dbjobq_core", "aiomysql", "mysql"): ("0.3.0", "0.2.0"),
    ("dbjobq_flask", "flask", None): ("2.3.2", "2.3.1"),
    ("dbjobq_fastapi", "fastapi", None): ("0.115.3", "0.115.2"),
    ("dbjobq_django", "django", None): ("4.2.30", "4.2.29"),
}


@pytest.mark.parametrize(("package", "distribution", "extra"), sorted(SECURITY_FLOORS, key=str))
def test_integration_seam_dependency_floors_exclude_known_vulnerabilities(
    package: str, distribution: str, extra: str | None
) -> None:
    import tomllib
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / package / "pyproject.toml").read_text())["project"]
    specs = project["optional-dependencies"][extra] if extra else project["dependencies"]
    [requirement] = [Requirement(s) for s in specs if Requirement(s).name.lower() == distribution]
    floor, vulnerable = SECURITY_FLOORS[(package, distribution, extra)]
    assert requirement.specifier.contains(floor)
    assert not requirement.specifier.contains(vulnerable), f"{requirement} admits {vulnerable}"
