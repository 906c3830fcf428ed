"""The package layout shows the architecture: rooms (subpackages) whose imports only go one way.

A room may import the rooms below it in ``ROOMS`` and the base modules, never a
room above it: cli -> fuzz -> suite -> report -> crash -> concurrency -> trees -> drivers.
Every import counts, also one inside a function or under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dirqkit

PACKAGE = Path(dirqkit.__file__).resolve().parent
ROOMS = ["cli", "fuzz", "suite", "report", "crash", "concurrency", "trees", "drivers"]  # top first
BASE = {"dirqkit", "dirqkit.spec", "dirqkit.resources", "dirqkit.__main__"}


def module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, package: Path) -> list[tuple[int, str]]:
    """(line, absolute module) for every import of a dirqkit module in ``path``."""
    name = module_name(path, package)
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # ``from dirqkit.trees import fsck`` imports dirqkit.trees.fsck: the room is what counts.
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return [(line, module) for line, module in found if module == "dirqkit" or module.startswith("dirqkit.")]


def room_of(module: str) -> str | None:
    """The room of a dirqkit module, or None for the package and its base modules."""
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in ROOMS:
        return parts[1]
    return None


def wrong_way(package: Path) -> list[str]:
    """Every import of a room above the importer (or of any room by a base module), as file:line."""
    problems = []
    for path in sorted(package.rglob("*.py")):
        source = module_name(path, package)
        here = room_of(source)
        for line, target in imported_modules(path, package):
            there = room_of(target)
            if there is None or there == here or source == "dirqkit.__main__":  # __main__ only starts the cli
                continue
            if here is None or ROOMS.index(there) < ROOMS.index(here):
                problems.append(f"{path.relative_to(package.parent)}:{line}: {here or 'base'} imports {there} ({target})")
    return problems


def test_imports_only_go_down_the_rooms():
    assert wrong_way(PACKAGE) == []


def test_every_module_lives_in_a_room_or_is_a_base_module():
    strays = [module_name(p, PACKAGE) for p in PACKAGE.rglob("*.py")
              if room_of(module_name(p, PACKAGE)) is None and module_name(p, PACKAGE) not in BASE]
    assert strays == []
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()) == sorted(ROOMS)


@pytest.mark.parametrize("room", ROOMS)
def test_each_room_says_what_it_holds_and_what_it_may_import(room):
    doc = ast.get_docstring(ast.parse((PACKAGE / room / "__init__.py").read_text(encoding="utf-8")))
    assert doc, f"dirqkit.{room} has no docstring"
    if room != "cli":
        assert "May import:" in doc and "Imported by:" in doc


def test_no_code_at_the_top_of_conformance():
    """conformance/ keeps what is not code (cases, schemas, expectations, docs); the package is conformance/dirqkit."""
    conformance = PACKAGE.parent
    assert conformance.name == "conformance"
    assert sorted(p.name for p in conformance.glob("*.py")) == []


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = tmp_path / "dirqkit" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path / "dirqkit"


def test_an_import_running_up_is_found_wherever_it_is(tmp_path):
    package = _package(tmp_path, {
        "__init__.py": "",
        "spec.py": "",
        "trees/__init__.py": "",
        "trees/fsck.py": "def f():\n    from dirqkit.suite.engine import Engine\n",
        "drivers/__init__.py": "",
        "drivers/client.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from dirqkit.concurrency import scene\n",
        "drivers/ref.py": "from .server import serve\nfrom ..trees import fsck\n",
        "suite/__init__.py": "",
        "suite/engine.py": "from dirqkit.trees import fsck\nimport dirqkit.drivers.client\nfrom dirqkit import spec\n",
        "resources.py": "from dirqkit.cli import main\n",
    })
    assert wrong_way(package) == [
        "dirqkit/drivers/client.py:3: drivers imports concurrency (dirqkit.concurrency.scene)",
        "dirqkit/drivers/ref.py:2: drivers imports trees (dirqkit.trees.fsck)",
        "dirqkit/resources.py:1: base imports cli (dirqkit.cli.main)",
        "dirqkit/trees/fsck.py:2: trees imports suite (dirqkit.suite.engine.Engine)",
    ]
