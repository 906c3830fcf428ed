"""A case's ``{fixture: NAME}`` step: build the tree, then expand into op and tree steps.

The fixture (``dirqkit.trees.fixtures``) is built in the case's TOP before the
roles open the queue; its ``read:`` and ``purge:`` keys become op and tree
steps computed from the tree's manifest, all numbered as the fixture step.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

from dirqkit.suite.caseload import Case
from dirqkit.trees import fixtures
from dirqkit.trees.manifest import (
    NS_PER_SECOND,
    TOP,
    Element,
    FieldValue,
    FixtureError,
    TreeManifest,
    materialize,
    typed_fields,
)
from dirqref.names import is_directory_name

DEFAULT_MAXTEMP, DEFAULT_MAXLOCK = 300, 600  # COMMON-8


def fixture_of(case: Case) -> tuple[str, float] | None:
    """The fixture a case starts from and its ``age``, or None."""
    step = next((step for step in case.steps if "fixture" in step), None)
    return (step["fixture"], float(step.get("age", 0))) if step else None


def case_steps(case: Case, top: Path, bindings: dict[str, Any], prebuilt: bool = False) -> list[tuple[int, dict[str, Any]]]:
    """The case's steps, numbered, with its fixture step built and expanded.

    The fixture is built in ``top`` now, before any role opens the queue, its
    ages counting back from ``age`` seconds ago (default 0). ``bindings`` receive
    ``fixture_elements`` (identifiers in iteration order), ``fixture_locked``,
    and per element i ``fixture_e<i>`` (identifier) and ``fixture_v<i>`` (what
    get returns). With ``prebuilt`` the tree is already in ``top``
    (``dirqkit.trees.baked``). The step itself becomes the op and tree steps of its
    ``read:`` and ``purge:`` roles, all numbered as the fixture step.
    """
    numbered = list(enumerate(case.steps))
    fixture_steps = [(index, step) for index, step in numbered if "fixture" in step]
    if not fixture_steps:
        return numbered
    if len(fixture_steps) > 1:
        raise FixtureError(f"{case.where}: case {case.id}: one fixture step per case (the queue has one tree)")
    index, step = fixture_steps[0]
    for role in (step.get("read"), step.get("purge")):
        if role is not None and role not in case.roles:
            raise FixtureError(f"{case.where}: case {case.id}: fixture step names role {role!r}, not in roles")
    tree = fixtures.find(step["fixture"])
    _check_case_queue(case, tree)
    age = float(step.get("age", 0))
    if not prebuilt:
        materialize(tree, top, reference_ns=time.time_ns() - round(age * NS_PER_SECOND))
    elements = sorted(tree.elements, key=lambda e: e.name)  # ITER-1
    bindings["fixture_elements"] = [e.name for e in elements]
    bindings["fixture_locked"] = list(tree.locked)
    for number, element in enumerate(elements):
        bindings[f"fixture_e{number}"] = element.name
        bindings[f"fixture_v{number}"] = _get_result(element.value)
    expanded: list[dict[str, Any]] = []
    if "read" in step:
        expanded += _read_steps(tree, elements, step["read"])
    if "purge" in step:
        options = case.queue.get("options", {})
        expanded += _purge_steps(tree, step["purge"], age, options.get("maxtemp", DEFAULT_MAXTEMP), options.get("maxlock", DEFAULT_MAXLOCK))
    return numbered[:index] + [(index, sub) for sub in expanded] + numbered[index + 1:]


def _check_case_queue(case: Case, tree: TreeManifest) -> None:
    queue = case.queue
    if queue["type"] != tree.queue_type or (tree.queue_type == "normal" and queue.get("schema") != tree.schema):
        raise FixtureError(f"{case.where}: case {case.id}: fixture {tree.name} is a {tree.queue_type} queue"
                           f"{' with schema ' + json.dumps(tree.schema) if tree.schema else ''}; the case's queue must be the same")


def _get_result(value: bytes | dict[str, FieldValue] | None) -> Any:
    """What a driver's get returns for ``value`` (PROTOCOL.md): base64 bytes or typed fields."""
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode("ascii")}
    return None if value is None else typed_fields(value)


def _read_steps(tree: TreeManifest, elements: list[Element], role: str) -> list[dict[str, Any]]:
    """List every element; lock, get and remove each unlocked one; the locked ones cannot be locked."""
    simple = tree.queue_type == "simple"
    lock_id, get_id, remove_id = ("SIMPLE-LOCK-2", "SIMPLE-GET-1", "SIMPLE-REMOVE-2") if simple else ("NORMAL-LOCK-1", "NORMAL-GET-2", "NORMAL-REMOVE-2")
    steps: list[dict[str, Any]] = [{"role": role, "op": "list", "expect": "$fixture_elements", "requirement": "ITER-1"}]
    removed = []
    for number, element in enumerate(elements):
        name = f"$fixture_e{number}"
        if element.name in tree.locked:  # left locked by a process that is gone (CRASH-3)
            steps.append({"role": role, "op": "lock", "args": {"name": name}, "expect": False, "requirement": lock_id})
            steps.append({"role": role, "op": "lock", "args": {"name": name, "permissive": False}, "error": "locked", "requirement": lock_id})
            continue
        steps.append({"role": role, "op": "lock", "args": {"name": name}, "expect": True, "requirement": lock_id})
        if element.value is not None:
            steps.append({"role": role, "op": "get", "args": {"name": name}, "expect": f"$fixture_v{number}", "requirement": get_id})
        steps.append({"role": role, "op": "remove", "args": {"name": name}, "requirement": remove_id})
        removed.append(element.name)
    if removed:
        steps.append({"tree": {"absent": removed}, "requirement": remove_id})
    return steps


def _purge_steps(tree: TreeManifest, role: str, age: float, maxtemp: int, maxlock: int) -> list[dict[str, Any]]:
    """Purge, then: stale leftovers and locks gone, fresh ones kept, everything else still there, element files unchanged."""
    simple = tree.queue_type == "simple"
    temp_stale = maxtemp > 0 and age > maxtemp  # COMMON-5, COMMON-8 (every entry is at least ``age`` old)
    lock_stale = maxlock > 0 and age > maxlock
    locks = [tree.lock_path(name) for name in tree.locked]
    steps: list[dict[str, Any]] = [{"role": role, "op": "purge"}]
    for paths, stale, rule in ((list(tree.leftovers), temp_stale, "SIMPLE-PURGE-2" if simple else "NORMAL-PURGE-3"),
                               (locks, lock_stale, "SIMPLE-PURGE-3" if simple else "NORMAL-PURGE-4")):
        if paths:
            steps.append({"tree": {"absent" if stale else "present": paths}, "requirement": rule})
    gone = (list(tree.leftovers) if temp_stale else []) + (locks if lock_stale else [])
    present = [n.path for n in tree.nodes if n.path != TOP and not any(n.path == g or n.path.startswith(g + "/") for g in gone)]
    directories = [p for p in present if is_directory_name(p)]
    emptied = {d for d in directories if not any(p.startswith(d + "/") for p in present)}
    greatest = max(directories, default=None)
    present = [p for p in present if p not in emptied or p == greatest]  # SIMPLE-PURGE-5, NORMAL-PURGE-2
    kept = {e.name for e in tree.elements}
    data = {n.path: n.data for n in tree.nodes if n.kind == "file"}
    content = {n.path: {"base64": base64.b64encode(data[n.target if n.kind == "link" else n.path]).decode("ascii")}
               for n in tree.nodes if n.kind in ("file", "link") and _owner(n.path, simple) in kept}
    steps.append({"tree": {"present": present, "kind": {name: "file" if simple else "dir" for name in sorted(kept)}, "content": content},
                  "requirement": "SIMPLE-PURGE-4" if simple else "NORMAL-PURGE-5"})
    return steps


def _owner(path: str, simple: bool) -> str:
    """The element identifier a path belongs to (Simple: the file itself; Normal: D/E of D/E/field)."""
    return path if simple else "/".join(path.split("/")[:2])
