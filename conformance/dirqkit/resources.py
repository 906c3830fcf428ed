"""Where the kit's data lives: case files, schemas, expectations, SPEC.md, fixture trees.

In a checkout they sit beside the package (``conformance/`` and the repository
root); an installed kit carries copies as the data packages ``dirqkit_data``
and ``dirqkit_fixtures``. Every module asks here, never computes a path of its own.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]  # the repository root, when this is a checkout


def _installed(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return None


@cache
def data_dir() -> Path:
    """``conformance/`` of a checkout, else the installed ``dirqkit_data`` package."""
    checkout = CHECKOUT / "conformance"
    if (checkout / "cases").is_dir():
        return checkout
    return _installed("dirqkit_data") or checkout


@cache
def fixtures_dir() -> Path:
    """``fixtures/`` of a checkout, else the installed ``dirqkit_fixtures`` package."""
    checkout = CHECKOUT / "fixtures"
    if checkout.is_dir():
        return checkout
    return _installed("dirqkit_fixtures") or checkout


def cases_dir() -> Path:
    return data_dir() / "cases"


def schemas_dir() -> Path:
    return data_dir() / "schemas"


def expectations_dir() -> Path:
    return data_dir() / "expectations"


def untestable_path() -> Path:
    """The SHOULD rules no case can check, with the reason (read by ``dirqkit spec-trace``)."""
    return data_dir() / "untestable.yaml"


def spec_path() -> Path:
    """SPEC.md of the checkout; an installed kit carries a copy (conformance/SPEC.md links to it)."""
    checkout = CHECKOUT / "SPEC.md"
    return checkout if checkout.is_file() else data_dir() / "SPEC.md"


def races_path() -> Path:
    """The races of SPEC.md that no case can force, each with the reason (``dirqkit spec-trace``)."""
    return data_dir() / "races.yaml"
