"""Crash points and injected faults: the ``crash`` and ``fault`` steps.

A step lists a short sequence of ops, each played by a case role (so two
implementations take turns), with optional kit ``fs`` actions between them.
For every op of the sequence the explorer

1. runs the op once, traced by ``strace`` (``dirqkit.crash.syscalls``) attached to
   a driver process of its own for the op's role (``dirqkit.concurrency.workers``), warmed
   up by one of each op so that first-use work does not shift the counts,
   right before the request, to learn its filesystem syscalls;
2. ``crash``: for every syscall that may change the tree, replays the
   sequence on a fresh queue, holds the driver on entry to that syscall
   (``-e inject=NAME:delay_enter=US:when=N``) and copies the whole state
   directory meanwhile (``dirqkit.trees.treecopy``): what a crash there would
   leave on disk. Then it lets the op go on and complete (the driver lives on
   and plays the next state) and puts the copy in place of the state directory;
   ``fault``: for every syscall of the chosen classes, makes it fail with
   each chosen errno (``-e inject=NAME:error=ENOSPC:when=N``), or holds it
   back while the kit plays the other side of a race, and checks that the op
   reports an error (or, for a race the spec tolerates, succeeds);
3. inspects every resulting tree with every role's implementation
   (``dirqkit.crash.inspection``): they must list, count, lock and read what is
   there, see no partial element, keep fresh locks through a purge, and after
   a purge with time advanced (every mtime backdated) find no temp, lock or
   obsolete entry, every element that must be there exactly once and whole,
   and a tree ``dirqkit fsck`` accepts.

A crash state is the tree on entry to its syscall, so that syscall has never
taken effect in it. A process killed there could sometimes finish the call
first; the tree it leaves then is the one on entry to the next syscall that may
change the tree (or the completed op's), which is a state of its own.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from dirqkit.concurrency.checker import Verdict, Violation, verify
from dirqkit.concurrency.scene import ScenarioFailed, ScenarioInconclusive, ScenarioSkipped, Scene
from dirqkit.concurrency.workers import Spares, Worker
from dirqkit.crash.inspection import (
    ADD_OPS,
    Action,
    Fault,
    Inspection,
    Outcome,
    Readers,
    added_payload,
)
from dirqkit.crash.syscalls import HELD, OBSERVED, PROFILED, READ_ONLY_OPEN, TRACED, Syscall, TraceError, Tracer, nth_of
from dirqkit.drivers.client import DriverClient, DriverError, OpError
from dirqkit.drivers.protocol import digest
from dirqkit.trees import treecopy, treeops
from dirqkit.trees.queuetree import backdate, read_tree
from dirqref.schema import Schema

SHIFT = 100  # seconds the tree is moved into the past before the explored op, so its own times show
OP_TIMEOUT = 15.0  # seconds an explored op may take (a hang is a failure, not a wait of the default 30 s)
HOLD_POLL = 0.002  # seconds between two looks of the kit at the trace (for the held call)
HOLD_US = int(4 * OP_TIMEOUT * 1e6)  # a hold (a race, a crash state): longer than the op may take; the kit ends it
ATTEMPTS = 3  # tries at a state whose set-up the kit missed (strace not attached, the held call not reached)

# Driver processes (kept across cases, concurrency.workers) -> the queue settings they were warmed up for.
WARMED: weakref.WeakKeyDictionary[DriverClient, set[str]] = weakref.WeakKeyDictionary()

T = TypeVar("T")


class Unproducible(Exception):
    """The kit could not produce the state it meant to explore (after ATTEMPTS tries): inconclusive, not a failure."""


class Missed(Exception):
    """One try at a state missed its set-up: strace did not attach, or the op never entered the call to hold."""


class ExplorerError(Exception):
    """The explorer itself cannot go on (no strace, a setup op that fails): names the reason."""


class Hold:
    """The op's ``nth`` call ``name`` held on entry (a long ``delay_enter``) while the kit acts.

    Once strace shows the op inside that call (:meth:`Tracer.held`: progress, not time), a
    thread of the kit plays its part (:meth:`play`) and releases the call (:meth:`Tracer.release`).
    """

    def __init__(self, tracer: Tracer, name: str, nth: int) -> None:
        self.tracer, self.name, self.nth = tracer, name, nth
        self.stop = threading.Event()
        self.held: Syscall | None = None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        deadline = time.monotonic() + OP_TIMEOUT  # a safety net only: the trigger is the held call
        while self.held is None and not self.stop.is_set() and time.monotonic() < deadline:
            self.held = self.tracer.held(self.name, self.nth)
            if self.held is None:
                self.stop.wait(HOLD_POLL)
        try:
            if self.held is not None:
                self.play()
        finally:
            self.tracer.release()

    def play(self) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        self.stop.set()
        self.thread.join()


class CrashCopy(Hold):
    """A crash state: the whole state directory copied to ``copy`` while the op is held on entry to its call."""

    def __init__(self, state: Path, tracer: Tracer, name: str, nth: int) -> None:
        self.state, self.copy = state, state.with_name(state.name + ".crash")
        self.error: str | None = None
        super().__init__(tracer, name, nth)

    def play(self) -> None:
        # RACE, tolerated: the kit copies a tree the op is changing. The op's thread is stopped in the
        # kernel on entry to the held call (a ptrace stop), so nothing of the op runs while the kit copies
        # (a runtime's other threads may, but the drivers change the queue on the op's thread only), and
        # the other roles' drivers wait for their next request.
        try:
            treecopy.copy_tree(self.state, self.copy)
        except treecopy.CopyError as exc:
            self.error = str(exc)

    def put_in_place(self) -> None:
        """The copy becomes the state directory; the state's trace (written on after the copy) is kept."""
        os.replace(self.state / "trace.txt", self.copy / "trace.txt")
        shutil.rmtree(self.state)
        os.rename(self.copy, self.state)


class Racer(Hold):
    """The other side of a race (``race`` of a fault step), played while the op's syscall is held back.

    Once the op is held in its ``nth`` call ``name`` (:class:`Hold`), the racer plays its actions in
    order and releases the call, which then meets the changed tree.
    Actions: a kit change ``{mkdir|rmdir|unlink|write: P}`` (write: a small file of another writer's),
    ``{fs: ACTION}`` (as an ``fs`` step), or an
    op of another role ``{role: R, op: OP, args: {...}, element: i, expect: V}``. In paths,
    ``{held}`` is the held call's first path (relative to TOP), ``{held_dir}`` its directory and
    ``{target}`` its last path; a glob without them matches what is all that is left of its
    element (an ``E.lck`` whose ``E`` is gone, the only entry of its directory), as a purger sees it.
    """

    FS = ("mkdir", "rmdir", "unlink", "write")
    PLANTED = b"another writer's\n"  # what a racing write puts at its path

    def __init__(self, explorer: Explorer, state: Path, readers: Readers, added: list[str],
                 tracer: Tracer, call: Syscall, nth: int) -> None:
        self.x, self.top, self.work, self.readers, self.added = explorer, state / "queue", state / "scratch", readers, added
        self.actions: list[dict[str, Any]] = list(explorer.spec["race"])
        self.problems: list[str] = []  # a racing op that failed, or an action that found nothing to change
        self.gone: set[str] = set()  # the sequence's elements the race removed
        self.new: dict[str, str] = {}  # elements a racing add made -> the digest of their payload
        self.planted: list[Path] = []  # files of another writer's the race put at the held call's path
        super().__init__(tracer, call.name, nth)

    def play(self) -> None:
        try:
            for action in self.actions:
                self.act(action)
            self.gone = {name for name in self.added if not os.path.lexists(self.top / name)}
        except (ExplorerError, OSError, treeops.CasePathError) as exc:
            self.problems.append(f"race: the kit could not play its side: {exc}")

    def paths(self, pattern: str) -> tuple[list[Path], bool]:
        """What ``pattern`` names, and whether it names the held call's paths (then taken as they are)."""
        assert self.held is not None
        named = self.held.full_paths or [self.held.descriptor_path or ""]  # futimens(fd): the descriptor's file
        held = [os.path.relpath(p, self.top) for p in named if p.startswith(str(self.top) + "/")]
        if "{" not in pattern:
            return treeops.expand(self.top, self.work, pattern), False
        if not held:
            raise ExplorerError(f"race: {pattern} names the held call's path, but {self.held.short(90)} has none in the queue")
        text = pattern.format(held=held[0], held_dir=os.path.dirname(held[0]), target=held[-1])
        return treeops.expand(self.top, self.work, text), True

    def act(self, action: dict[str, Any]) -> None:
        if "op" in action:
            self.race_op(action)
        elif "fs" in action:
            treeops.apply_fs(self.top, self.work, action["fs"])
        else:
            kind = next(k for k in self.FS if k in action)
            found, exact = self.paths(str(action[kind]))
            if kind == "mkdir" and not exact:
                done = self.mkdir_in_empty(str(action[kind]))
            elif kind == "mkdir":
                for path in found:
                    path.mkdir()
                done = found
            elif kind == "write":  # only where the directory exists: the op may be held before it made it
                done = [p for p in found if p.parent.is_dir()]
                for path in done:
                    with open(path, "xb") as planted:
                        planted.write(self.PLANTED)
                self.planted += done
                return  # a vacuous plant is no problem: the race cannot happen at that call
            else:
                done = [p for p in found if os.path.lexists(p) and (exact or _left_over(p))]
                for path in done:
                    os.rmdir(path) if kind == "rmdir" else os.unlink(path)
            if not done:
                self.problems.append(f"{kind} {action[kind]}: nothing to change while {self.held} was held back")

    def planted_left_alone(self) -> None:
        """Another writer's file (``write``) is the op's to neither write into nor remove (but with its whole
        directory, say a temp of the op's own that it cleans up)."""
        for path in self.planted:
            if os.path.lexists(path) and (not path.is_file() or path.read_bytes() != self.PLANTED):
                self.problems.append(f"another writer's file {path.relative_to(self.top)}, there before the op went on, "
                                     "was written into by the op")
            elif not os.path.lexists(path) and path.parent.is_dir():
                self.problems.append(f"another writer's file {path.relative_to(self.top)}, there before the op went on, "
                                     "was removed by the op")

    def mkdir_in_empty(self, pattern: str) -> list[Path]:
        """Create the last part of ``pattern`` in the first empty directory matching the rest."""
        parents, leaf = pattern.rsplit("/", 1)
        for parent in treeops.expand(self.top, self.work, parents):
            if parent.is_dir() and not any(parent.iterdir()):
                (parent / leaf).mkdir()
                return [parent / leaf]
        return []

    def race_op(self, action: dict[str, Any]) -> None:
        racing = Action(-1, action["role"], action["op"], dict(action.get("args", {})), action.get("element"), None, False)
        args = self.x.request(racing, self.top.parent, self.added)
        try:
            result = self.readers.call(action["role"], action["op"], args)
        except OpError as error:
            self.problems.append(f"the racing {action['op']} of {action['role']} failed: {error.kind}: {error.message}")
            return
        if action["op"] in ADD_OPS:
            self.new[str(result)] = digest(added_payload(racing, self.x.size))
        if "expect" in action and result != action["expect"]:
            self.problems.append(f"the racing {action['op']} of {action['role']} returned {result!r}, not {action['expect']!r}")

    def finish(self) -> None:
        self.stop.set()
        self.thread.join()
        self.planted_left_alone()


@dataclass
class Traced:
    """One traced run of an op: what it was asked, what it answered, and its syscalls."""

    target: Action
    args: dict[str, Any]
    before: Any  # the tree before the op (dirqkit.trees.queuetree.Tree)
    temps_before: int
    outcome: Outcome
    syscalls: list[Syscall]
    race_problems: list[str]
    raced: set[str]  # elements the racer removed
    raced_new: dict[str, str]  # elements the racer added -> payload digest


@dataclass
class StateRun:
    outcome: Outcome
    syscalls: list[Syscall]
    violations: list[Violation]

    @property
    def hit(self) -> Syscall | None:
        return run_hit(self.syscalls)


def run_hit(syscalls: list[Syscall]) -> Syscall | None:
    """The syscall the kill or the fault hit, as strace reports it."""
    return next((c for c in syscalls if c.result in ("?", HELD) or c.result.endswith(("(INJECTED)", "(DELAYED)"))), None)


@dataclass
class Figures:
    states: Counter[str] = field(default_factory=Counter)  # "role=impl op" -> crash states / faults
    notes: list[str] = field(default_factory=list)


NAME_OPS = ("lock", "unlock", "touch", "remove", "get", "get_path")


class Explorer:
    def __init__(self, scene: Scene, kind: str, spec: dict[str, Any], traced: tuple[str, ...] = TRACED) -> None:
        if set(spec.get("inject", ())) & set(OBSERVED):
            traced = PROFILED  # a fault held at a stat or close
        self.scene, self.kind, self.spec, self.traced = scene, kind, spec, traced
        self.queue_type: str = scene.queue["type"]
        if self.queue_type not in ("simple", "normal"):
            raise ExplorerError(f"{kind} steps need a simple or normal queue, not {self.queue_type}")
        schema = scene.queue.get("schema") or {}
        self.field: str | None = spec.get("field") or (next(iter(schema)) if schema else None)
        if self.queue_type == "normal" and (self.field is None or schema.get(self.field, "").rstrip("?*") not in ("string", "binary")):
            raise ExplorerError(f"{kind} on a normal queue needs 'field': a string or binary field of the schema")
        self.schema = Schema.parse(schema) if self.queue_type == "normal" else None
        self.size = int(spec.get("size", 64))
        self.actions = [self._action(i, raw) for i, raw in enumerate(spec["ops"])]
        self.root = scene.work / kind
        self.runs = 0
        self.figures = Figures()
        self.violations: list[Violation] = []
        self.spares = {role: Spares(scene.actors[role], role) for role in {a.role for a in self.actions if a.role}}
        self.idle: dict[str, Worker] = {}

    def _action(self, position: int, raw: dict[str, Any]) -> Action:
        if "fs" in raw:
            return Action(position, None, None, {}, None, raw["fs"], False)
        return Action(position, raw["role"], raw["op"], dict(raw.get("args", {})), raw.get("element"), None, raw.get("explore", True))

    def label(self, action: Action) -> str:
        assert action.role is not None
        return f"{action.role}={self.scene.actors[action.role].implementation} {action.op}"

    # -- one state ------------------------------------------------------------------

    def request(self, action: Action, state: Path, added: list[str]) -> dict[str, Any]:
        """The protocol arguments of ``action`` on the queue at ``state``."""
        args = dict(action.args)
        if action.op == "add":
            data = added_payload(action, self.size)
            args["data"] = ({self.field: self._typed(data)} if self.queue_type == "normal" else base64.b64encode(data).decode("ascii"))
        elif action.op == "add_path":
            path = state / "scratch" / f"add-path-{action.position}"
            path.write_bytes(added_payload(action, self.size))
            args["path"] = str(path)
        elif action.op in NAME_OPS:
            if not added:
                raise ExplorerError(f"{self.kind} op {action.position + 1} ({action.op}) has no element: add one first")
            args["name"] = added[action.element if action.element is not None else -1]
        return args

    def _typed(self, data: bytes) -> dict[str, Any]:
        assert self.schema is not None
        spec = next(f for f in self.schema.fields if f.name == self.field)
        if spec.type == "string":
            return {"type": "string", "value": data.decode("ascii")}
        return {"type": "binary", "base64": base64.b64encode(data).decode("ascii")}

    def new_state(self) -> Path:
        self.runs += 1
        state = self.root / f"s{self.runs:04d}"
        (state / "scratch").mkdir(parents=True)
        return state

    def open_args(self, state: Path) -> dict[str, Any]:
        return self.scene.open_args({"path": str(state / "queue")})

    def retried(self, upto: int, inject: str | None, fault: Fault | None = None, nth: int = 0,
                crash_at: Syscall | None = None) -> StateRun | None:
        """run_state, tried again while the kit misses the state's set-up (:meth:`with_retries`)."""
        return self.with_retries(upto, lambda: self.run_state(upto, inject, fault, nth, crash_at))

    def with_retries(self, upto: int, attempt: Callable[[], T]) -> T:
        """``attempt()`` of the op ``upto``, tried again (at most ATTEMPTS times) while it raises Missed."""
        missed = []
        for _ in range(ATTEMPTS):
            try:
                return attempt()
            except Missed as exc:
                missed.append(str(exc))
        raise Unproducible(f"{self.label(self.actions[upto])}: {ATTEMPTS} tries missed their set-up: {'; '.join(missed)}")

    def run_state(self, upto: int, inject: str | None, fault: Fault | None = None, nth: int = 0,
                  crash_at: Syscall | None = None) -> StateRun | None:
        """Replay the sequence up to ``upto`` on a fresh queue and run ``upto`` under strace; None: unsupported.

        A ``fault`` without an errno is a race: ``inject`` holds its ``nth`` call while a :class:`Racer` plays;
        with ``crash_at`` it holds its ``nth`` call ``crash_at`` while the tree is copied (:class:`CrashCopy`)."""
        state = self.new_state()
        readers = Readers(self, state)
        try:
            traced = self.traced_run(state, readers, upto, inject, fault, nth, crash_at)
            target, outcome = traced.target, traced.outcome
            if outcome.kind == "error" and outcome.error_kind == "unsupported" and inject is None:
                self.figures.notes.append(f"{self.label(target)}: unsupported ({outcome.error}); not explored")
                return None
            crashed = crash_at is not None and outcome.kind == "CRASH"
            where = f"{self.label(target)} ({fault or (outcome.error if crashed else 'completed')})"
            inspection = Inspection(self, state, readers, where)
            inspection.raced, inspection.raced_new = traced.raced, traced.raced_new
            for problem in traced.race_problems:
                inspection.violation(self.requirement(fault), "-", problem)
            if fault is not None:
                inspection.after_fault(outcome)
            violations = inspection.run(target, traced.args, outcome, traced.before, traced.temps_before, fault)
        finally:
            readers.close()
        if not violations:
            shutil.rmtree(state, ignore_errors=True)
        return StateRun(outcome, traced.syscalls, violations)

    def traced_run(self, state: Path, readers: Readers, upto: int, inject: str | None,
                   fault: Fault | None = None, nth: int = 0, crash_at: Syscall | None = None) -> Traced:
        """Set up the ops before ``upto`` on ``state``'s queue and run ``upto`` traced (no inspection)."""
        top = state / "queue"
        added: list[str] = []
        for action in self.actions[:upto]:
            self.setup(action, state, readers, added)
        target = self.actions[upto]
        assert target.role is not None
        before = read_tree(top, self.queue_type, self.field)
        backdate(top, SHIFT, shift=True)
        args = self.request(target, state, added)  # add_path: writes the file first
        worker = self.worker(target.role)
        problems: list[str] = []
        raced: set[str] = set()
        raced_new: dict[str, str] = {}
        try:
            worker.open(self.open_args(state))
            try:
                tracer = Tracer(worker.pid, state / "trace.txt", inject, self.traced)
            except TraceError as exc:
                raise Missed(str(exc)) from None
            racer = Racer(self, state, readers, added, tracer, fault.call, nth) if fault and fault.errno_name is None else None
            copy = CrashCopy(state, tracer, crash_at.name, nth) if crash_at else None
            outcome = _perform(worker, target.op or "", args)
            if racer:
                racer.finish()
                if racer.held is None:
                    raise Missed(f"race: {target.op} never reached {fault} (it completed {outcome.kind})")
                problems, raced, raced_new = racer.problems, racer.gone, racer.new
            if copy:
                copy.finish()
            syscalls = tracer.finish()
            if copy:
                outcome = self.crash_state(copy, target, outcome)
        finally:
            if worker.client.failed is None:
                self.idle[target.role] = worker  # it survived: the next state may use it
            else:
                worker.close()
                self.spares[target.role].prepare()  # its successor starts while this state is checked
        return Traced(target, args, before, len(before.temps), outcome, syscalls, problems, raced, raced_new)

    def crash_state(self, copy: CrashCopy, target: Action, outcome: Outcome) -> Outcome:
        """Put the tree copied on entry to the held call in place of the state; the op's outcome there
        is a crash. An op that never reached the call leaves its completed tree (noted as a divergence)."""
        if copy.held is None:
            return outcome
        if copy.error is not None:
            shutil.rmtree(copy.copy, ignore_errors=True)
            raise Unproducible(f"{self.label(target)}: the kit could not copy the tree on entry to "
                               f"{copy.held.short(90, result=False)}: {copy.error}")
        if outcome.kind != "ok":  # the copy stands: it was taken before the call; the driver is replaced if it broke
            self.figures.notes.append(f"{self.label(target)}: released from {copy.held.short(80, result=False)}, "
                                      f"it ended {outcome.kind} {outcome.error}")
        copy.put_in_place()
        return Outcome("CRASH", error=f"crashed on entry to {copy.held.short(90, result=False)}")

    def worker(self, role: str) -> Worker:
        """A driver of ``role`` in the state every traced run starts from (warmed up)."""
        worker = self.idle.pop(role, None)
        if worker is None:
            worker = self.spares[role].take()
            self.warm_up(worker)
        return worker

    def warm_up(self, worker: Worker) -> None:
        """Run each op once on a scratch queue, so that first-use work (lazy imports, caches) is
        done before any tracing and the n-th syscall of an op is the same one in every run.
        A process kept from an earlier case has done it already for a queue opened alike."""
        state = self.new_state()  # numbered even when skipped: which role purges each state stays the same
        opened = json.dumps({k: v for k, v in self.open_args(state).items() if k != "path"}, sort_keys=True)
        done = WARMED.setdefault(worker.client, set())
        if opened in done:
            shutil.rmtree(state, ignore_errors=True)
            return
        done.add(opened)
        worker.open(self.open_args(state))
        added: list[str] = []
        for op in ("add", "add_path", "lock", "touch", "get", "unlock", "lock", "remove", "list", "count", "purge"):
            if op in NAME_OPS and not added:
                continue
            try:
                result = worker.call(op, self.request(Action(-1, None, op, {}, None, None, False), state, added))
            except OpError:
                continue  # an op it lacks or refuses here: nothing to warm up
            if op in ADD_OPS:
                added.append(str(result))
        shutil.rmtree(state, ignore_errors=True)

    def setup(self, action: Action, state: Path, readers: Readers, added: list[str]) -> None:
        """Run one earlier action of the sequence, which must succeed."""
        if action.fs is not None:
            treeops.apply_fs(state / "queue", state / "scratch", action.fs)
            return
        assert action.role is not None and action.op is not None
        args = self.request(action, state, added)
        try:
            result = readers.call(action.role, action.op, args)
        except OpError as error:
            raise ExplorerError(f"setup op {action.position + 1} {self.label(action)} failed: {error.kind}: {error.message}") from None
        if action.op in ADD_OPS:
            added.append(str(result))

    # -- exploration ------------------------------------------------------------------

    def explore(self) -> None:
        for upto, action in enumerate(self.actions):
            if action.op is None or not action.explore:
                continue
            dry = self.retried(upto, None)
            if dry is None:
                return  # an unsupported op ends the sequence: later ops depend on it
            self.violations += dry.violations
            if dry.outcome.kind != "ok":
                self.violations.append(Violation(self.requirement(None), self.label(action),
                                                 f"fails without any fault: {dry.outcome.kind} {dry.outcome.error}"))
                return
            if self.kind == "crash":
                self.crash_points(action, dry)
            else:
                self.fault_points(action, dry)
        if self.kind == "fault" and not self.figures.states and "race" in self.spec:
            raise ScenarioSkipped(f"the race cannot be forced here (strace has no call to hold): {'; '.join(self.figures.notes)}")
        if self.kind == "fault" and not self.figures.states:
            raise ExplorerError(f"no op of the sequence makes a syscall to inject into: {'; '.join(self.figures.notes)}")

    def crash_points(self, action: Action, dry: StateRun) -> None:
        points = [i for i, call in enumerate(dry.syscalls) if self.relevant(call, for_crash=True)]
        for index in points:
            call = dry.syscalls[index]
            nth = nth_of(dry.syscalls, index)
            run = self.retried(action.position, f"{call.name}:delay_enter={HOLD_US}:when={nth}", nth=nth, crash_at=call)
            assert run is not None
            self.figures.states[self.label(action)] += 1
            self.violations += run.violations
            self.note_divergence(action, call, run)
        self.figures.states[self.label(action)] += 1  # the completed op is a state too

    def fault_points(self, action: Action, dry: StateRun) -> None:
        classes = tuple(self.spec.get("inject", ("write", "link", "rename", "mkdir")))
        errnos: tuple[str | None, ...] = (None,) if "race" in self.spec else tuple(self.spec.get("errors", ("ENOSPC", "EIO")))
        match = re.compile(self.spec["match"]) if "match" in self.spec else None
        points = [i for i, call in enumerate(dry.syscalls) if call.klass in classes and self.relevant(call, for_crash=False)
                  and (match is None or match.search(call.args))]
        if not points:  # this implementation does it another way (a count by link counts, say)
            self.figures.notes.append(f"{self.label(action)} makes no syscall of the classes {', '.join(classes)}"
                                      + (f" matching {match.pattern!r}" if match else ""))
        for index in points:
            call = dry.syscalls[index]
            nth = nth_of(dry.syscalls, index)
            for name in errnos:
                if name is None:
                    tamper = f"delay_enter={HOLD_US}"  # released as soon as the racer has played (Racer)
                else:
                    tamper = f"error={name}"  # an errno name (checked when the case was loaded)
                run = self.retried(action.position, f"{call.name}:{tamper}:when={nth}", fault=Fault(name, call), nth=nth)
                assert run is not None
                self.figures.states[self.label(action)] += 1
                self.violations += run.violations
                self.note_divergence(action, call, run)

    def note_divergence(self, action: Action, meant: Syscall, run: StateRun) -> None:
        """The state is valid whatever the kill or fault hit; the figures say when it was not the syscall meant."""
        hit = run.hit
        if hit is None or not hit.same_as(meant):
            self.figures.notes.append(f"{self.label(action)}: meant {meant.short(80)}, hit {hit.short(80) if hit else 'nothing'} "
                                      f"({run.outcome.kind})")

    def requirement(self, fault: Fault | None) -> str:
        """The requirement an op's reaction to ``fault`` (or a broken driver) is judged by."""
        given = self.spec.get("requirement", "CRASH-5")
        if isinstance(given, dict):
            return str(given.get(fault.call.klass if fault else "", "CRASH-5"))
        return str(given)

    def relevant(self, call: Syscall, *, for_crash: bool) -> bool:
        """A syscall on this exploration's files (not a pipe, not the runtime's own files)."""
        on = call.descriptor_path if call.klass == "write" else call.args  # a log line may name a file too
        if on is None or str(self.root) not in on:
            return False
        return not for_crash or call.klass != READ_ONLY_OPEN  # a read-only open changes nothing

    def close(self) -> None:
        for spare in self.spares.values():
            spare.close()
        for worker in self.idle.values():
            worker.close()


def _left_over(path: Path) -> bool:
    """All that is left of an element: a lock whose element is gone, or the only entry of its directory."""
    if path.name.endswith(".lck"):
        return not os.path.lexists(path.with_name(path.name[: -len(".lck")]))
    return os.listdir(path.parent) == [path.name]


def _perform(worker: Worker, op: str, args: dict[str, Any]) -> Outcome:
    try:
        return Outcome("ok", worker.call(op, args, timeout=OP_TIMEOUT))
    except OpError as error:
        return Outcome("error", error=f"{error.kind}: {error.message}", error_kind=error.kind)
    except DriverError as error:
        return Outcome(error.outcome, error=error.message)


@contextmanager
def scenario_errors(kind: str) -> Iterator[None]:
    """What a crash, fault or syscalls step's own errors mean: a step that cannot run as written fails on the
    requirement it cites; a state the kit could not produce is INCONCLUSIVE."""
    try:
        yield
    except (ExplorerError, TraceError) as exc:
        raise ScenarioFailed(f"{kind}: {exc}", cite_step=True) from None
    except Unproducible as exc:
        raise ScenarioInconclusive(f"{kind}: {exc}") from None


def run_step(scene: Scene, kind: str, spec: dict[str, Any]) -> None:
    """The ``crash`` or ``fault`` step: explore, report the figures, fail on any violation."""
    with scenario_errors(kind):
        explorer = Explorer(scene, kind, spec)
        try:
            explorer.explore()
        finally:
            explorer.close()
    figures = {"states": dict(explorer.figures.states),
               "notes": explorer.figures.notes, "violations": len(explorer.violations)}
    scene.report(kind, figures)
    verdict = Verdict(violations=explorer.violations)
    verdict.stats.update({f"states {label}": n for label, n in explorer.figures.states.items()})
    verify(scene, verdict, {}, kind)
