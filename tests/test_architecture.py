"""Boundaries enforced: the pure libraries stay pure, and inside ``rfl`` services depend only on the
shared infrastructure, their own area and the areas declared below; only the HTTP edge knows HTTP."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("rfl", "flask", "flask_smorest", "sqlalchemy", "alembic", "marshmallow", "werkzeug")

# What every area's services may use: persistence, errors, who acts, the audit vocabulary, the one
# pagination, the crypto context, and the two pure libraries.
SHARED = (
    "rfl.db",
    "rfl.errors",
    "rfl.identity",
    "rfl.audit.entries",
    "rfl.pagination",
    "rfl.crypto",
    "privacy",
    "matching",
)
# Areas whose services build on another area's services (each dependency is declared here).
AREA_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "records": ("outbox",),  # a record whose matched fields change leaves work for the matcher
    "matches": ("records", "outbox"),
    "consent": ("records", "matches"),
    "disclosures": ("records", "matches", "consent", "audit"),  # exports prove rows against the log
    # Reports count the other areas' plain columns; they read their models only (a test holds them to it).
    "reports": ("records", "matches", "consent", "disclosures"),
    # Erasing a person reaches their record, its candidates, the matcher's model and the outbox.
    "retention": ("records", "matches", "outbox"),
    # Imports create records (which queue matching work) and queue their own jobs; exports read the
    # consents that say what may be shared.
    "exchange": ("records", "consent", "outbox", "retention"),
}
# Modules of an area that belong to the HTTP edge and may use rfl.http.
EDGE_MODULES = ("blueprint.py", "schemas.py")
# Modules that bind services to the running application (the audit sinks, the places proposals run:
# after a response, in Celery workers): not services.
BINDING_MODULES = ("recorder.py", "worker.py", "tasks.py", "commands.py")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def area_modules() -> list[tuple[str, Path]]:
    """(area, module) for every non-edge module of an area folder of rfl/."""
    modules = []
    for folder in sorted((ROOT / "rfl").iterdir()):
        if not folder.is_dir() or folder.name in ("http", "__pycache__", "crypto"):
            continue
        for path in sorted(folder.glob("*.py")):
            if path.name not in (*EDGE_MODULES, *BINDING_MODULES):
                modules.append((folder.name, path))
    return modules


@pytest.mark.parametrize("package", ["privacy", "matching"])
def test_pure_library_imports_nothing_of_the_application(package: str) -> None:
    offending = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / package).rglob("*.py")
        for name in imported_modules(path)
        if name.split(".")[0] in FORBIDDEN
    }

    assert offending == set()


def test_services_import_only_shared_infrastructure_their_area_and_declared_areas() -> None:
    offending = set()
    for area, path in area_modules():
        allowed = (*SHARED, f"rfl.{area}", *(f"rfl.{dep}" for dep in AREA_DEPENDENCIES.get(area, ())))
        for name in imported_modules(path):
            if name.startswith("rfl") and not _within(name, allowed):
                offending.add(f"{path.relative_to(ROOT)}: {name}")

    assert offending == set()


def test_only_the_http_edge_imports_rfl_http() -> None:
    edge = {ROOT / "rfl" / "app.py"}
    offending = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "rfl").rglob("*.py")
        if path not in edge and path.name not in EDGE_MODULES and "http" not in path.relative_to(ROOT).parts
        for name in imported_modules(path)
        if _within(name, ("rfl.http",))
    }

    assert offending == set()


def test_the_checks_see_forbidden_imports(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("from rfl.db import db\nimport sqlalchemy.orm\nfrom rfl.http.auth import public\n")
    names = imported_modules(module)

    assert {name.split(".")[0] for name in names} == {"rfl", "sqlalchemy"}
    assert _within("rfl.http.auth", ("rfl.http",))
    assert not _within("rfl.httpx", ("rfl.http",))
    assert not _within("rfl.records", SHARED)
