"""What every tree left by a killed, failed or completed op must pass (crash and fault steps).

An :class:`Inspection` judges one tree the explorer (``dirqkit.crash.explorer``)
produced, with every role's implementation (:class:`Readers`) and with the
kit's own reading of the disk (``dirqkit.trees.queuetree``): the op's reply
against what the step expects, the elements that must be there (whole, once)
or may be gone, at most one temp per add, readability by everyone (CRASH-5),
fresh locks kept by a purge (CRASH-3), and after a purge with time advanced
no temp, lock or obsolete entry (CRASH-1..4) and a tree ``dirqkit fsck``
accepts.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dirqkit.concurrency.checker import Violation
from dirqkit.crash.syscalls import Syscall
from dirqkit.drivers.client import OpError
from dirqkit.drivers.protocol import digest, payload
from dirqkit.trees import fsck, treeops
from dirqkit.trees.queuetree import Tree, backdate, read_tree

if TYPE_CHECKING:
    from dirqkit.crash.explorer import Explorer

AGE = 7200  # seconds every mtime is backdated by before the final purge (beyond maxtemp and maxlock)
PURGE_LIMITS = {"maxtemp": 600, "maxlock": 600}
ADD_OPS = ("add", "add_path")


@dataclass(frozen=True)
class Action:
    """One entry of a step's sequence: an op of a role, or a kit ``fs`` action."""

    position: int
    role: str | None
    op: str | None
    args: dict[str, Any]
    element: int | None  # which earlier add's element a name-taking op acts on (default: the last one)
    fs: dict[str, Any] | None
    explore: bool


def added_payload(action: Action, size: int) -> bytes:
    """What the add (or add_path) at this place of a sequence adds: the same bytes in every run."""
    return payload("crash", action.position, size)


@dataclass(frozen=True)
class Fault:
    """What a fault run does to ``call``: return an errno instead of running it, or hold it back for a race."""

    errno_name: str | None  # None: a race (the call is held back while the kit acts)
    call: Syscall

    def __str__(self) -> str:
        what = self.errno_name or "a racing change"
        return f"{what} at {self.call.short(90, result=False)}"


@dataclass
class Outcome:
    kind: str  # ok, error or the DriverError outcome (CRASH, TIMEOUT, ERROR)
    result: Any = None
    error: str = ""
    error_kind: str = ""


class Readers:
    """Every role's pool driver, each with the state's queue open."""

    def __init__(self, explorer: Explorer, state: Path) -> None:
        self.explorer = explorer
        self.handles: dict[str, Any] = {}
        open_args = explorer.open_args(state)
        for role, actor in explorer.scene.actors.items():
            self.handles[role] = actor.call("open", open_args)

    def call(self, role: str, op: str, args: dict[str, Any] | None = None) -> Any:
        return self.explorer.scene.actors[role].call(op, {"queue": self.handles[role], **(args or {})})

    def close(self) -> None:
        for role, handle in self.handles.items():
            self.explorer.scene.actors[role].call("close", {"queue": handle})


class Inspection:
    """Every check of one tree left by a killed or failed (or completed) op."""

    def __init__(self, explorer: Explorer, state: Path, readers: Readers, where: str) -> None:
        self.x, self.state, self.readers, self.where = explorer, state, readers, where
        self.top = state / "queue"
        self.found: list[Violation] = []
        self.raced: set[str] = set()  # elements a racer removed while the op was held back: they may be gone
        self.raced_new: dict[str, str] = {}  # elements a racer added meanwhile -> payload digest: they must be there

    def after_fault(self, outcome: Outcome) -> None:
        """What a fault step says the op answers (``result``) and leaves right away (``tree``)."""
        spec = self.x.spec
        requirement = self.x.requirement(None) if isinstance(spec.get("requirement"), str) else "CONC-6"
        if "result" in spec and outcome.kind == "ok" and outcome.result != spec["result"]:
            self.violation(requirement, "-", f"the op returned {outcome.result!r}, not {spec['result']!r}")
        if "tree" in spec:
            try:
                treeops.check_tree(self.top, self.state / "scratch", spec["tree"])
            except treeops.TreeMismatch as mismatch:
                self.violation(requirement, "-", f"right after the op: {mismatch}")

    def violation(self, requirement: str, element: str, message: str) -> None:
        self.found.append(Violation(requirement, element, f"{message} [{self.where}; tree kept in {self.state}]"))

    def tree(self) -> Tree:
        return read_tree(self.top, self.x.queue_type, self.x.field)

    def run(self, action: Action, args: dict[str, Any], outcome: Outcome, before: Tree, temps_before: int,
            fault: Fault | None) -> list[Violation]:
        self.judge_outcome(outcome, fault)
        done = outcome.kind == "ok"
        required = dict(before.elements)
        may_go: dict[str, str | None] = {}  # elements that may be there or not, and what they hold
        for name in self.raced & set(required):
            may_go[name] = required.pop(name)
        required.update(self.raced_new)
        new_sha = digest(added_payload(action, self.x.size)) if action.op in ADD_OPS else None
        if action.op == "remove":
            removed = required.pop(args["name"], None)
            if not done:
                may_go[args["name"]] = removed
        if done and action.op in ADD_OPS:
            required[str(outcome.result)] = new_sha
        now = self.tree()
        if done and action.op == "remove" and args["name"] in now.elements:
            self.violation(f"{self.x.queue_type.upper()}-REMOVE-2", args["name"], "remove returned, and the element is still there")
            may_go[args["name"]] = before.elements[args["name"]]
        self.elements(now, required, may_go, new_sha, "after the op")
        if action.op in ADD_OPS and len(now.temps) > temps_before + 1:
            self.violation("CRASH-1", "-", f"{len(now.temps) - temps_before} temps left by one add: {now.temps}")
        if fault and not done and action.op == "add" and self.x.spec.get("cleanup") and len(now.temps) > temps_before:
            requirement = "SIMPLE-ADD-7" if self.x.queue_type == "simple" else "NORMAL-ADD-6"
            self.violation(requirement, "-", f"the failed add left its temp: {now.temps}")
        if not self.read_all(now, "after the op"):
            return self.found
        self.purge_fresh(now)
        backdate(self.top, AGE)
        purger = self.purger()
        try:
            self.readers.call(purger, "purge", PURGE_LIMITS)
        except OpError as error:
            self.violation("CRASH-5", "-", f"{purger} cannot purge: {error.kind}: {error.message}")
            return self.found
        cleaned = self.tree()
        self.leftovers(cleaned)
        self.elements(cleaned, required, may_go, new_sha, "after a purge with time advanced")
        if self.read_all(cleaned, "after a purge with time advanced", unlocked=True):
            self.fsck()
        return self.found

    def judge_outcome(self, outcome: Outcome, fault: Fault | None) -> None:
        requirement = self.x.requirement(fault)
        if outcome.kind in ("TIMEOUT", "ERROR") or fault and outcome.kind == "CRASH":
            self.violation(requirement, "-", f"the driver broke ({outcome.kind}: {outcome.error}) instead of reporting an error")
        elif fault is None:
            return
        elif self.x.spec.get("expect", "error") == "ok":
            if outcome.kind != "ok":
                self.violation(requirement, "-", f"the op failed ({outcome.error}); this error must be tolerated as a race")
        elif outcome.kind == "ok":
            self.violation(requirement, "-", f"the op succeeded ({outcome.result!r:.60}) although a syscall failed")
        elif outcome.error_kind != "io":
            self.violation("SPEC-3", "-", f"the op failed with {outcome.error}; an operating-system error is io")

    def elements(self, tree: Tree, required: dict[str, str | None], may_go: dict[str, str | None],
                 new_sha: str | None, when: str) -> None:
        for name, sha in sorted([*required.items(), *may_go.items()]):
            if name not in tree.elements:
                if name not in may_go:
                    self.violation("CONC-3", name, f"missing {when}: an element that was in the queue is gone")
            elif tree.elements[name] != sha:
                self.violation("CONC-1", name, f"holds payload {tree.elements[name]!s:.12} {when}, not the {sha!s:.12} it was added with")
        extra = {n: s for n, s in tree.elements.items() if n not in required and n not in may_go}
        for name, sha in sorted(extra.items()):
            if sha != new_sha:
                self.violation("CRASH-1", name, f"partial or unknown element visible {when} (payload {sha!s:.12})")
        copies = [n for n, s in tree.elements.items() if new_sha is not None and s == new_sha]
        if len(copies) > 1:
            self.violation("CRASH-2", copies[0], f"{len(copies)} elements hold the added payload {when}: {copies}")

    def read_all(self, tree: Tree, when: str, unlocked: bool = False) -> bool:
        """Every role's implementation lists, counts, locks, reads and unlocks what is there (CRASH-5)."""
        ok = True
        for role in self.readers.handles:
            try:
                names = self.readers.call(role, "list")
                count = self.readers.call(role, "count")
            except OpError as error:
                self.violation("CRASH-5", "-", f"{role} cannot iterate {when}: {error.kind}: {error.message}")
                ok = False
                continue
            if sorted(names) != sorted(tree.elements):
                self.violation("CRASH-5", "-", f"{role} lists {names} {when}; the tree holds {sorted(tree.elements)}")
                ok = False
            if count != len(tree.elements):
                self.violation(f"{self.x.queue_type.upper()}-COUNT-1", "-", f"{role} counts {count} {when}; "
                               f"the tree holds {len(tree.elements)} elements")
            for name in names:
                ok &= self.read_one(role, name, tree, when, unlocked)
        return ok

    def read_one(self, role: str, name: str, tree: Tree, when: str, unlocked: bool) -> bool:
        try:
            if not self.readers.call(role, "lock", {"name": name, "permissive": True}):
                if unlocked:  # CRASH-3: after the purge every element can be delivered again
                    self.violation("CRASH-3", name, f"{role} cannot lock it {when}: still locked")
                return not unlocked
            value = self.readers.call(role, "get", {"name": name})
            self.readers.call(role, "unlock", {"name": name})
        except OpError as error:
            self.violation("CRASH-5", name, f"{role} cannot lock/get/unlock it {when}: {error.kind}: {error.message}")
            return False
        sha = digest(self.payload_of(value))
        if sha != tree.elements.get(name):
            self.violation("CONC-1", name, f"{role} reads payload {sha:.12} {when}; the file holds {tree.elements.get(name)!s:.12}")
            return False
        return True

    def payload_of(self, value: Any) -> bytes:
        if self.x.queue_type == "simple":
            return base64.b64decode(value)
        typed = value.get(self.x.field, {})
        return typed["value"].encode("utf-8") if typed.get("type") == "string" else base64.b64decode(typed.get("base64", ""))

    def purger(self) -> str:
        roles = list(self.readers.handles)
        return roles[self.x.runs % len(roles)]  # the purge of each state is done by each role in turn

    def purge_fresh(self, now: Tree) -> None:
        """A purge keeps every element and every lock that is not stale (CRASH-3: a dead holder's lock stays until stale)."""
        purger = self.purger()
        fresh = {name for name, when in now.locks.items() if when > time.time() - PURGE_LIMITS["maxlock"] + 60}
        try:
            self.readers.call(purger, "purge", PURGE_LIMITS)
        except OpError as error:
            self.violation("CRASH-5", "-", f"{purger} cannot purge: {error.kind}: {error.message}")
            return
        after = self.tree()
        if after.elements != now.elements:
            self.violation("CONC-3", "-", f"a purge by {purger} changed the elements: {sorted(now.elements)} -> {sorted(after.elements)}")
        if fresh - set(after.locks):
            self.violation("CRASH-3", "-", f"a purge by {purger} released locks that are not stale: {sorted(fresh - set(after.locks))}")

    def leftovers(self, tree: Tree) -> None:
        for temp in tree.temps:
            self.violation("CRASH-1", temp, "a temp outlived a purge with time advanced")
        for lock in tree.locks:
            self.violation("CRASH-3", lock, "a lock outlived a purge with time advanced")
        for orphan in tree.orphans:
            self.violation("CRASH-4", orphan, "an orphan lock outlived a purge with time advanced")
        for entry in tree.obsolete:
            self.violation("CRASH-4", entry, "an obsolete entry outlived a purge with time advanced")

    def fsck(self) -> None:
        settings = fsck.Settings(queue_type=self.x.queue_type, schema=self.x.schema)
        try:
            with fsck.Fsck(str(self.top), settings) as check:
                findings = list(check.findings())
        except fsck.QueueUnreadable as exc:
            self.violation("CRASH-5", "-", f"fsck cannot read the queue: {exc}")
            return
        for finding in findings:
            self.violation("CRASH-5", finding.path, f"fsck after the purge: {finding.id}: {finding.message}")
