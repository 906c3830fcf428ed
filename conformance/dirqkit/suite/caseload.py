"""Load conformance case files (YAML, data only; see CASES.md).

Every file is validated against ``schemas/case.schema.json`` plus the checks a
schema cannot express (unique IDs, roles that steps name, bound names used
before they are bound). A file that fails becomes a ``CaseFileError`` naming
file, line and reason: it never reaches a driver. So does a case citing a
requirement ID that SPEC.md does not define (in ``requirements`` or in a
step's ``requirement``).
"""

from __future__ import annotations

import errno
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from collections.abc import Collection
from typing import Any

import jsonschema
import yaml

from dirqkit import resources
from dirqkit.spec import requirement_levels

# ``$name`` or ``${name}`` or ``${name:dir}`` / ``${name:elt}`` inside strings.
VARIABLE_RE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<part>dir|elt))?\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")
BUILTIN_VARIABLES = frozenset({"TOP", "WORK"})
TRACED_KINDS = ("crash", "fault", "syscalls")  # steps that run ops under strace
SCENARIO_KINDS = ("check", "stress", *TRACED_KINDS)  # steps that run on a Scene and judge themselves


class CaseFileError(Exception):
    """A case file that cannot be used; the message names file and line."""


class _AnyId:
    """Accepts every requirement ID: for callers that report unknown citations themselves (spec-trace)."""

    def __contains__(self, rid: object) -> bool:
        return True


ANY_ID: Collection[str] = _AnyId()  # type: ignore[assignment]


@lru_cache(maxsize=1)
def spec_ids() -> frozenset[str] | None:
    """The requirement IDs of the kit's SPEC.md; None when there is no SPEC.md to check against."""
    levels = requirement_levels()
    return frozenset(levels) if levels else None


@dataclass(frozen=True)
class Case:
    id: str
    title: str
    requirements: tuple[str, ...]
    queue: dict[str, Any]
    roles: dict[str, str]
    steps: tuple[dict[str, Any], ...]
    group: str
    where: str
    faketime: str | None = None
    umask: str | None = None  # the process umask of the case's drivers (COMMON-4)
    clock: dict[str, str] = field(default_factory=dict)  # role -> clock offset in seconds ("+3600")
    step_lines: tuple[int, ...] = field(default=(), compare=False)
    races: tuple[str, ...] = ()  # the RACE labels of SPEC.md the case forces

    def is_traced(self) -> bool:
        return any(kind in step for step in self.steps for kind in TRACED_KINDS)

    def faketime_of(self, role: str) -> str | None:
        """The libfaketime spec a role's driver runs under: the case's ``faketime``, or the role's ``clock`` offset."""
        return self.faketime or self.clock.get(role)

    def option_names(self) -> set[str]:
        """The queue options the case uses: its queue's and those of its ``open`` steps."""
        names = set(self.queue.get("options", {}))
        for step in self.steps:
            for op_step in _op_steps(step):
                if op_step["op"] == "open":
                    names |= set(op_step.get("args", {}).get("options", {}))
        return names


@dataclass(frozen=True)
class Citation:
    case_id: str
    requirements: tuple[str, ...]
    where: str
    races: tuple[str, ...] = ()


def default_cases_dir() -> Path:
    return resources.cases_dir()


def case_files(cases_dir: Path) -> list[Path]:
    return sorted(p for p in cases_dir.rglob("*.yaml") if p.is_file())


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads((resources.schemas_dir() / "case.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


# libyaml's parser when PyYAML was built with it (several times faster); it refuses some text the
# pure-Python parser accepts (an escaped lone surrogate, which a case may send on purpose), and a
# file it refuses is parsed again by the pure-Python one, which also words the errors.
LOADERS = (*((yaml.CSafeLoader,) if getattr(yaml, "__with_libyaml__", False) else ()), yaml.SafeLoader)


def _parse(path: Path) -> tuple[yaml.Node, Any]:
    """The file's node tree (for line numbers) and the data built from it, composed once."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseFileError(f"{path}: cannot read: {exc}") from None
    for loader_class in LOADERS:
        loader = loader_class(text)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if isinstance(root, yaml.MappingNode) else None
            break
        except yaml.YAMLError as exc:
            if loader_class is LOADERS[-1]:
                mark = getattr(exc, "problem_mark", None)
                line = mark.line + 1 if mark else 0
                raise CaseFileError(f"{path}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
        finally:
            loader.dispose()
    if not isinstance(root, yaml.MappingNode):
        raise CaseFileError(f"{path}:1: a case file is a mapping with a 'cases' list")
    return root, data


def _line_of(node: yaml.Node, json_path: list[Any]) -> int:
    """The line of the deepest node along ``json_path`` (1-based)."""
    for key in json_path:
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            child = node.value[key]
        else:
            child = None
        if child is None:
            break
        node = child
    return node.start_mark.line + 1


def _variables_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [m["braced"] or m["bare"] for m in VARIABLE_RE.finditer(value)]
    if isinstance(value, dict):
        return [v for item in value.values() for v in _variables_in(item)]
    if isinstance(value, list):
        return [v for item in value for v in _variables_in(item)]
    return []


def _op_steps(step: dict[str, Any]) -> list[dict[str, Any]]:
    return step["parallel"] if "parallel" in step else [step] if "op" in step else []


def _roles_named(step: dict[str, Any]) -> list[str]:
    """Every role a step has act: op steps, and the actors of stress, crash and fault steps."""
    roles = [op_step["role"] for op_step in _op_steps(step)]
    if "stress" in step:
        stress = step["stress"]
        roles += [*stress.get("producers", []), *stress.get("consumers", [])]
        roles += [stress["purger"]["role"]] if "purger" in stress else []
    for kind in TRACED_KINDS:
        roles += [action["role"] for action in step.get(kind, {}).get("ops", []) if "role" in action]
    roles += [action["role"] for action in step.get("fault", {}).get("race", []) if "role" in action]
    return roles


def _citations(case: dict[str, Any]) -> list[tuple[list[Any], str]]:
    """Every requirement ID a case cites, with its json path: the case's list and each step's ``requirement``."""
    found: list[tuple[list[Any], str]] = [(["requirements", i], rid) for i, rid in enumerate(case["requirements"])]
    for index, step in enumerate(case["steps"]):
        places = [(["steps", index], step)]
        places += [(["steps", index, "parallel", k], sub) for k, sub in enumerate(step.get("parallel", []))]
        places += [(["steps", index, kind], step[kind]) for kind in ("check", "stress", "crash", "fault") if kind in step]
        for path, holder in places:
            cited = holder.get("requirement")
            if isinstance(cited, str):
                found.append(([*path, "requirement"], cited))
            elif isinstance(cited, dict):
                found += [([*path, "requirement", key], rid) for key, rid in cited.items()]
    return found


def _check_case(case: dict[str, Any], known_ids: Collection[str]) -> list[tuple[list[Any], str]]:
    """Semantic checks beyond the schema: (json path, message) per problem."""
    problems = [(path, f"cites requirement {rid}, which SPEC.md does not define")
                for path, rid in _citations(case) if rid not in known_ids]
    bound = set(BUILTIN_VARIABLES)
    for role in case.get("clock", {}):
        if role not in case["roles"]:
            problems.append((["clock"], f"clock names role {role!r}, not in roles"))
    if "clock" in case and "faketime" in case:
        problems.append((["clock"], "a case has either faketime (one fixed time for all) or clock (offsets per role), not both"))
    for index, step in enumerate(case["steps"]):
        for role in _roles_named(step):
            if role not in case["roles"]:
                problems.append((["steps", index], f"step names role {role!r}, not in roles"))
        for name in step.get("fault", {}).get("errors", []):
            if not hasattr(errno, name):
                problems.append((["steps", index], f"fault errors: {name!r} is not an errno name"))
        for name in _variables_in(step):
            if name not in bound:
                problems.append((["steps", index], f"${name} is used before a step binds it"))
        for op_step in _op_steps(step):
            if "bind" in op_step:
                bound.add(op_step["bind"])
    return problems


def load_case_file(path: Path, cases_dir: Path | None = None, known_ids: Collection[str] | None = None) -> list[Case]:
    """The cases of one file; ``known_ids`` are the requirement IDs a case may cite (default: SPEC.md's)."""
    known_ids = known_ids if known_ids is not None else spec_ids() or ANY_ID
    root, data = _parse(path)
    error = jsonschema.exceptions.best_match(_validator().iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise CaseFileError(f"{path}:{_line_of(root, list(error.absolute_path))}: {where}: {error.message}")
    base = cases_dir or path.parent
    group_default = path.parent.relative_to(base).as_posix() if path.parent != base else path.stem
    cases = []
    for index, raw in enumerate(data["cases"]):
        for json_path, message in _check_case(raw, known_ids):
            line = _line_of(root, ["cases", index, *json_path])
            raise CaseFileError(f"{path}:{line}: case {raw['id']}: {message}")
        line = _line_of(root, ["cases", index])
        step_lines = tuple(_line_of(root, ["cases", index, "steps", i]) for i in range(len(raw["steps"])))
        cases.append(Case(
            id=raw["id"],
            title=raw["title"],
            requirements=tuple(raw["requirements"]),
            queue=raw["queue"],
            roles=dict(raw["roles"]),
            steps=tuple(raw["steps"]),
            group=raw.get("group", group_default),
            where=f"{path}:{line}",
            faketime=raw.get("faketime"),
            umask=raw.get("umask"),
            clock=dict(raw.get("clock", {})),
            step_lines=step_lines,
            races=tuple(raw.get("races", ())),
        ))
    return cases


def load_cases(cases_dir: Path, known_ids: Collection[str] | None = None) -> list[Case]:
    """Every case below ``cases_dir``, in a deterministic order (xdist-safe)."""
    cases: list[Case] = []
    seen: dict[str, str] = {}
    for path in case_files(cases_dir):
        for case in load_case_file(path, cases_dir, known_ids):
            if case.id in seen:
                raise CaseFileError(f"{case.where}: case id {case.id} already used at {seen[case.id]}")
            seen[case.id] = case.where
            cases.append(case)
    return cases


def load_citations(cases_dir: Path) -> list[Citation]:
    """Every case's cited IDs, unknown ones included: the caller (spec-trace) checks them against its SPEC.md."""
    return [Citation(c.id, c.requirements, c.where, c.races) for c in load_cases(cases_dir, ANY_ID)]
