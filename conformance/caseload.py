"""Load conformance case files (YAML, data only) with file:line positions.

A case file is a mapping with a ``cases`` list; every case has at least an
``id`` and the ``requirements`` it checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CASES_DIR = Path(__file__).resolve().parent / "cases"


class CaseFileError(Exception):
    """A case file that cannot be used; the message names file and line."""


@dataclass(frozen=True)
class Citation:
    case_id: str
    requirements: tuple[str, ...]
    where: str


def default_cases_dir() -> Path:
    return CASES_DIR


def case_files(cases_dir: Path) -> list[Path]:
    return sorted(p for p in cases_dir.rglob("*.yaml") if p.is_file())


def _node_value(node: yaml.Node) -> Any:
    return yaml.safe_load(yaml.serialize(node))


def load_case_nodes(path: Path) -> list[tuple[dict[str, Any], int]]:
    """Return each case of a file as (mapping, 1-based line)."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 0
        raise CaseFileError(f"{path}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseFileError(f"{path}: cannot read: {exc}") from None
    if not isinstance(root, yaml.MappingNode):
        raise CaseFileError(f"{path}:1: a case file is a mapping with a 'cases' list")
    cases_node = next((v for k, v in root.value if k.value == "cases"), None)
    if not isinstance(cases_node, yaml.SequenceNode):
        raise CaseFileError(f"{path}:{root.start_mark.line + 1}: missing 'cases' list")
    result = []
    for node in cases_node.value:
        line = node.start_mark.line + 1
        value = _node_value(node)
        if not isinstance(value, dict):
            raise CaseFileError(f"{path}:{line}: a case is a mapping")
        result.append((value, line))
    return result


def load_citations(cases_dir: Path) -> list[Citation]:
    citations = []
    seen: dict[str, str] = {}
    for path in case_files(cases_dir):
        for case, line in load_case_nodes(path):
            where = f"{path}:{line}"
            case_id = case.get("id")
            requirements = case.get("requirements")
            if not isinstance(case_id, str) or not case_id:
                raise CaseFileError(f"{where}: case has no 'id'")
            if case_id in seen:
                raise CaseFileError(f"{where}: case id {case_id} already used at {seen[case_id]}")
            seen[case_id] = where
            if not isinstance(requirements, list) or not all(isinstance(r, str) for r in requirements):
                raise CaseFileError(f"{where}: case {case_id}: 'requirements' must be a list of IDs")
            citations.append(Citation(case_id, tuple(requirements), where))
    return citations
