"""Race steps of ``dirqkit fuzz``: one actor's op held on entry to a syscall while another actor or the kit plays.

A race is drawn as (op of actor A, a syscall class that op makes, one
intervening action): another actor's op, or a kit change at the held
call's path. It runs as the ``fault`` step of a ``race`` case (CASES.md):
strace holds A's op on entry to each call of that class (progress, not
time), the intervening action plays, A's op goes on; then the explorer
inspects the tree (every element there whole and once, nothing partial,
``dirqkit fsck`` clean). So a finding of a race step is already a case of
the races group, and ``dirqkit run`` replays it.

The oracle (:data:`VERDICTS`) says what A must answer after the race. Its
rows are the pairs for which every order SPEC.md allows (A then B, B then A,
or the ``RACE-n`` the op's steps tolerate) gives A the same answer; a pair
whose allowed orders disagree on A's answer has no row and is never drawn.
Each row cites the requirement that fixes A's answer there.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dirqkit.concurrency.scene import ScenarioSkipped
from dirqkit.fuzz.oracle import PLANTED_OLD_DIR
from dirqkit.suite.engine import CaseInconclusive

AGED = 3600  # seconds a purger's "time passed" moves entries back: past the limits it is given
LIMIT = 600
NEWEST_DIR = "ffffffff"  # an intermediate directory above any real one: the others become purgeable when empty

# What a path the held call names looks like (strace -y shows it quoted): only calls on these are held.
SHAPES = {
    "temp": r'\.tmp"',
    "element": r'/[0-9a-f]{8}/[0-9a-f]{14}"',
    "lock": r'\.lck"',
    "element-or-lock": r'/[0-9a-f]{8}/[0-9a-f]{14}(\.lck)?"',
    "dir": r'/[0-9a-f]{8}"',
    "field": r'temporary/[0-9a-f]+/[^/"]+"',
    "normal-element": r'/[0-9a-f]{8}/[0-9a-f]{14}(/locked)?"',
    "obsolete": r'obsolete/',
    "temporary": r'temporary/',
}


def other_side(kind: str, b: str, queue_type: str) -> list[dict[str, Any]]:
    """The intervening action ``kind`` as the racer's actions (B: the other actor's role)."""
    aged_globs = ["*/*"] if queue_type == "simple" else ["*/*", "*/*/*"]
    sides: dict[str, list[dict[str, Any]]] = {
        "add": [{"role": b, "op": "add"}],
        "lock": [{"role": b, "op": "lock", "expect": False}],  # the element is A's (locked or being removed)
        "lock-wins": [{"role": b, "op": "lock", "expect": True}],
        "remove": [{"role": b, "op": "remove"}],
        "purge": [{"role": b, "op": "purge"}],
        # a purger that runs once time has passed: every temp and lock is stale
        "aged-purge": [{"fs": {"backdate": aged_globs, "seconds": AGED}},
                       {"role": b, "op": "purge", "args": {"maxtemp": LIMIT, "maxlock": LIMIT}}],
        # another producer made a newer directory, and a purger (directories only) runs
        "newer-dir-purge": [{"fs": {"mkdir": NEWEST_DIR}}, {"role": b, "op": "purge", "args": {"maxtemp": 0, "maxlock": 0}}],
        "unlink-held": [{"unlink": "{held}"}],
        "rmdir-held": [{"rmdir": "{held}"}],
        "plant-file-held": [{"write": "{held}"}],  # (where its directory exists: another writer's file)
    }
    return sides[kind]


@dataclass(frozen=True)
class Verdict:
    """What A's op must do after the race: ``expect`` ok or error, maybe its ``result``, a ``tree`` right after."""

    requirement: str
    race: str  # the RACE-n (or the MUST) that makes every allowed order agree
    expect: str = "ok"
    result: Any = None
    tree: dict[str, Any] = field(default_factory=dict)
    shape: str | None = None


# (queue type, A's op, syscall class, intervening action) -> Verdict
VERDICTS: dict[tuple[str, str, str, str], Verdict] = {
    # Simple add: mkdir D, open N.tmp (O_EXCL), write, link to D/N2, unlink the temp
    ("simple", "add", "mkdir", "add"): Verdict("DIR-3", "RACE-1", shape="dir"),
    ("simple", "add", "open", "add"): Verdict("SIMPLE-ADD-1", "either order: two adds", shape="temp"),
    # another producer's temp of that name: the add retries with another name and leaves that file alone
    ("simple", "add", "open", "plant-file-held"): Verdict("SIMPLE-ADD-1", "EEXIST: a new name", shape="temp"),
    ("simple", "add", "open", "newer-dir-purge"): Verdict("SIMPLE-ADD-2", "RACE-3", shape="temp"),
    ("simple", "add", "link", "add"): Verdict("SIMPLE-ADD-4", "either order: two adds", shape="element"),
    ("simple", "add", "unlink", "unlink-held"): Verdict("SIMPLE-ADD-5", "RACE-4", shape="temp"),
    ("simple", "add", "unlink", "aged-purge"): Verdict("SIMPLE-ADD-5", "RACE-4", shape="temp"),
    ("simple", "add_path", "link", "newer-dir-purge"): Verdict("SIMPLE-ADDPATH-1", "RACE-5", shape="element"),
    ("simple", "add_path", "link", "add"): Verdict("SIMPLE-ADDPATH-1", "either order: two adds", shape="element"),
    # Simple lock: link E to E.lck, utime E
    ("simple", "lock", "link", "lock-wins"): Verdict("SIMPLE-LOCK-2", "B then A: EEXIST", result=False, shape="lock"),
    ("simple", "lock", "utime", "remove"): Verdict("SIMPLE-LOCK-3", "RACE-6", result=False),
    ("simple", "lock", "utime", "unlink-held"): Verdict("SIMPLE-LOCK-3", "RACE-6", result=False, tree={"absent": ["*/*.lck"]}),
    # Simple remove (of A's locked element): unlink E, then E.lck; another consumer can lock neither before nor after
    ("simple", "remove", "unlink", "lock"): Verdict("SIMPLE-REMOVE-2", "either order: the lock is refused",
                                                    shape="element-or-lock"),
    ("simple", "remove", "unlink", "aged-purge"): Verdict("SIMPLE-REMOVE-3", "RACE-7", shape="element-or-lock"),
    # Simple purge: rmdir of an empty intermediate directory
    ("simple", "purge", "rmdir", "purge"): Verdict("SIMPLE-PURGE-5", "RACE-10", shape="dir"),
    ("simple", "purge", "rmdir", "rmdir-held"): Verdict("SIMPLE-PURGE-5", "RACE-10", shape="dir"),
    # Normal add: mkdir temporary/N, open its field files (O_EXCL), mkdir G, rename to G/N2
    ("normal", "add", "mkdir", "add"): Verdict("NORMAL-ADD-2", "either order: two adds"),
    # a field file already there: the temp is not the add's alone; step 4 fails the add with io
    ("normal", "add", "open", "plant-file-held"): Verdict("NORMAL-ADD-3", "EEXIST: io", expect="error", shape="field"),
    ("normal", "add", "rename", "add"): Verdict("NORMAL-ADD-4", "either order: two adds", shape="temporary"),
    ("normal", "add", "rename", "newer-dir-purge"): Verdict("NORMAL-ADD-4", "RACE-12", shape="temporary"),
    # Normal lock: mkdir E/locked, lstat E
    ("normal", "lock", "mkdir", "lock-wins"): Verdict("NORMAL-LOCK-1", "B then A: EEXIST", result=False,
                                                      shape="normal-element"),
    ("normal", "lock", "stat", "remove"): Verdict("NORMAL-LOCK-2", "RACE-13", result=False, shape="normal-element"),
    # Normal remove: rename to obsolete/N, unlink its fields, rmdir locked, rmdir obsolete/N
    ("normal", "remove", "rename", "lock"): Verdict("NORMAL-REMOVE-2", "either order: the lock is refused"),
    ("normal", "remove", "unlink", "unlink-held"): Verdict("NORMAL-REMOVE-2", "RACE-14", shape="obsolete"),
    # Normal purge: rmdir of an empty intermediate directory
    ("normal", "purge", "rmdir", "purge"): Verdict("NORMAL-PURGE-2", "RACE-17", shape="dir"),
}


def setup(queue_type: str, op: str, a: str, b: str) -> list[dict[str, Any]]:
    """The ops before A's held op, on the fresh queue the race step starts from."""
    if op in ("add", "add_path"):
        return []
    if op == "lock":
        return [{"role": b, "op": "add", "explore": False}]
    if op == "remove":
        return [{"role": b, "op": "add", "explore": False}, {"role": a, "op": "lock", "explore": False}]
    # purge: an old empty intermediate directory next to a newer one that holds an element
    return [{"fs": {"mkdir": PLANTED_OLD_DIR if queue_type == "simple" else "00000000"}},
            *([{"fs": {"mkdir": "00000005"}}] if queue_type == "normal" else []),
            {"role": b, "op": "add", "explore": False}]


def race_step(queue_type: str, key: tuple[str, str, str, str], a: str, b: str, schema: dict[str, str]) -> dict[str, Any]:
    """The ``fault`` step that plays race ``key`` with A = role ``a``, B = role ``b``."""
    _, op, klass, other = key
    verdict = VERDICTS[key]
    spec: dict[str, Any] = {"requirement": verdict.requirement}
    if queue_type == "normal":
        spec["field"] = next(iter(schema))
    spec.update(ops=[*setup(queue_type, op, a, b), {"role": a, "op": op}], inject=[klass])
    if verdict.shape:
        spec["match"] = SHAPES[verdict.shape]
    spec.update(race=other_side(other, b, queue_type), expect=verdict.expect)
    if verdict.result is not None:
        spec["result"] = verdict.result
    if verdict.tree:
        spec["tree"] = verdict.tree
    return {"fault": spec}


def drawable(queue_type: str, schema: dict[str, str], umask: int) -> list[tuple[str, str, str, str]]:
    """The races of ``queue_type``. None when the queue's ``umask`` lets every user write (the race step's
    inspection runs ``dirqkit fsck``, which refuses such a TOP: SEC-4). Normal: the race's adds write the first
    field only, so it must be string or binary and every other field optional."""
    if umask & 0o002 == 0:
        return []
    if queue_type == "normal":
        kinds = list(schema.values())
        if not kinds or kinds[0].rstrip("?*") not in ("string", "binary") or not all(k.endswith("?") for k in kinds[1:]):
            return []
    return keys_of(queue_type)


def kit_umask() -> int:
    """The kit's process umask (the drivers' when the example sets none), read without changing it."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return 0o022
    found = re.search(r"^Umask:\s*([0-7]+)", status, re.MULTILINE)
    return int(found.group(1), 8) if found else 0o022


def keys_of(queue_type: str) -> list[tuple[str, str, str, str]]:
    """Every race of ``queue_type`` (what the fuzz rule draws from)."""
    return [key for key in VERDICTS if key[0] == queue_type]


def play(machine: Any, actor: int, other: int, key: tuple[str, str, str, str]) -> bool:
    """One race step of ``machine`` (a fuzz machine): A = actor's role, B = another role, the race ``key``.

    The step runs on a fresh queue of its own (the machine's tree is not touched). A race the implementation
    cannot meet (it never makes the held call) or the kit could not set up gives no verdict: it leaves the trace.
    True if a race was played and judged.
    """
    umask = machine.queue.get("options", {}).get("umask", int(machine.umask, 8) if machine.umask else kit_umask())
    if key not in drawable(machine.model.queue_type, machine.queue.get("schema", {}), umask):
        return False
    a = machine.role(actor)
    # B: another role, one of A's implementation when there is one (the step's verdicts blame A's op; a racing
    # op of another implementation that fails would be blamed on A too)
    others = [r for r in machine.roles if r != a]
    alike = [r for r in others if machine.roles[r] == machine.roles[a]]
    b = (alike or others)[other % len(alike or others)]
    step = race_step(machine.model.queue_type, key, a, b, machine.queue.get("schema", {}))
    shutil.rmtree(machine.engine.run.work / "fault", ignore_errors=True)  # the explorer numbers its states from 1
    machine.last_role = a  # a verdict of the step blames A's op
    try:
        machine.act(None, step)
    except (ScenarioSkipped, CaseInconclusive):
        machine.trace.remove(step)
        return False
    return True
