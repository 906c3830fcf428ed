"""Run one case for one assignment of implementations to roles.

The engine knows cases (``caseload``), the tree (``treeops``) and actors: one
driver connection per role. It never imports an implementation: everything an
implementation does goes through ``Actor.call``.
"""

from __future__ import annotations

import base64
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dirqkit.concurrency import checker, cores, stress
from dirqkit.concurrency.scene import ScenarioFailed, ScenarioInconclusive, Scene
from dirqkit.crash import explorer, profile
from dirqkit.drivers.client import Actor, OpError, batch_request
from dirqkit.suite import fixture_steps
from dirqkit.suite.caseload import SCENARIO_KINDS, VARIABLE_RE, Case
from dirqkit.trees import treeops


class CaseFailed(Exception):
    """The implementation(s) did not do what the case expects."""

    def __init__(self, step: int, requirement: str | None, message: str, violated: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.step, self.requirement, self.message = step, requirement, message
        # Every requirement the run broke (a check, crash or fault step may break several), first one first.
        self.violated = violated or ((requirement,) if requirement else ())


class CaseInconclusive(Exception):
    """The kit could not set up what the case tests: outcome INCONCLUSIVE, not a failure of any implementation."""

    outcome = "INCONCLUSIVE"

    def __init__(self, step: int, message: str) -> None:
        super().__init__(message)
        self.step, self.message = step, message


@dataclass
class CaseRun:
    """What happened: the log is shown on failure."""

    top: Path
    work: Path
    log: list[str] = field(default_factory=list)
    bindings: dict[str, Any] = field(default_factory=dict)


def substitute(value: Any, bindings: dict[str, Any]) -> Any:
    """Replace ``$name``, ``${name}``, ``${name:dir}`` and ``${name:elt}`` in every string."""
    if isinstance(value, str):
        whole = VARIABLE_RE.fullmatch(value)
        if whole and not whole["part"]:
            return bindings[whole["braced"] or whole["bare"]]  # keeps non-string bindings whole

        def one(match: re.Match[str]) -> str:
            bound = str(bindings[match["braced"] or match["bare"]])
            if match["part"] == "dir":
                return bound.split("/", 1)[0]
            if match["part"] == "elt":
                return bound.rsplit("/", 1)[-1]
            return bound

        return VARIABLE_RE.sub(one, value)
    if isinstance(value, dict):
        return {substitute(k, bindings): substitute(v, bindings) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, bindings) for v in value]
    return value


def wire_args(op: str, args: dict[str, Any]) -> dict[str, Any]:
    """Case arguments -> protocol arguments (data literals become base64)."""
    if op == "add" and isinstance(args.get("data"), dict) and set(args["data"]) <= {"text", "base64"}:
        args = {**args, "data": base64.b64encode(treeops.data_bytes(args["data"])).decode("ascii")}
    return args


def matches(expect: Any, result: Any) -> bool:
    """Does an op result meet a case's ``expect``?"""
    if isinstance(expect, dict) and set(expect) == {"match"}:
        return isinstance(result, str) and re.fullmatch(expect["match"], result) is not None
    if isinstance(expect, dict) and set(expect) == {"includes"}:
        return isinstance(result, dict) and all(
            set(want) <= set(result.get(key, [])) if isinstance(want, list) else result.get(key) == want
            for key, want in expect["includes"].items()
        )
    if isinstance(expect, dict) and set(expect) == {"items"}:
        return isinstance(result, list) and sorted(map(repr, result)) == sorted(map(repr, expect["items"]))
    if isinstance(expect, dict) and set(expect) == {"match_all"}:
        return isinstance(result, list) and all(isinstance(r, str) and re.fullmatch(expect["match_all"], r) for r in result)
    if isinstance(expect, dict) and set(expect) in ({"text"}, {"base64"}):
        return isinstance(result, str) and base64.b64decode(result) == treeops.data_bytes(expect)
    return bool(expect == result)


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


class Engine:
    def __init__(self, case: Case, actors: dict[str, Actor], top: Path, work: Path, prebuilt: bool = False) -> None:
        self.case, self.actors, self.prebuilt = case, actors, prebuilt  # prebuilt: the fixture tree is already in top
        self.run = CaseRun(top, work, bindings={"TOP": str(top), "WORK": str(work)})
        self.handles: dict[str, Any] = {}
        self.members: dict[str, list[Any]] = {}  # set cases: each role's member queue handles
        self.feeders: list[treeops.FifoFeeder] = []  # FIFOs the case planted, fed until it ends
        self.last: OpError | Any = None  # what the last op step returned, or the error it got

    def fail(self, index: int, step: dict[str, Any], message: str, violated: tuple[str, ...] = ()) -> CaseFailed:
        requirement = violated[0] if violated else step.get("requirement")
        line = f" (line {self.case.step_lines[index]})" if index < len(self.case.step_lines) else ""  # generated steps have none
        return CaseFailed(index, requirement, f"step {index + 1}{line}: {message}", violated)

    def open_args(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """The case's queue as ``open`` arguments; an ``open`` step may override path and options."""
        queue, overrides = self.case.queue, overrides or {}
        args = {"type": queue["type"], "path": overrides.get("path", str(self.run.top)),
                "options": {**queue.get("options", {}), **overrides.get("options", {})}}
        if "schema" in queue or "schema" in overrides:
            args["schema"] = overrides.get("schema", queue.get("schema"))
        return args

    def open_queues(self) -> None:
        """Every role opens the case's queue, unless the case tests opening itself."""
        if any(step.get("op") == "open" for step in self.case.steps):
            return
        for role, actor in self.actors.items():
            self.handles[role] = self.open_set(actor, role) if self.case.queue["type"] == "set" else actor.call("open", self.open_args())
            self.run.log.append(f"open {self.case.queue['type']} queue as {role}={actor.implementation}")

    def open_set(self, actor: Actor, role: str) -> Any:
        """A set case: member i lives in TOP/m<i>; the role's queue is the set over the members ``in_set``."""
        members, in_set = [], []
        for index, member in enumerate(self.case.queue["members"]):
            if "symlink" in member and not os.path.lexists(self.run.top / f"m{index}"):  # TOP/m<i> -> another member's TOP
                self.run.top.mkdir(parents=True, exist_ok=True)
                treeops.apply_fs(self.run.top, self.run.work, {"symlink": f"m{index}", "target": member["symlink"]})
            # "path" opens TOP/<path> as given (e.g. "./m0": the same TOP as member 0 under another path string)
            relative = member.get("path", f"m{index}")
            treeops.resolve(self.run.top, self.run.work, relative)  # stays inside the case's directory
            path = f"{self.run.top}/{relative}"
            args = {"type": member["type"], "path": path, "options": member.get("options", {})}
            if "schema" in member:
                args["schema"] = member["schema"]
            members.append(actor.call("open", args))
            if member.get("in_set", True):
                in_set.append(members[-1])
        self.members[role] = members
        return actor.call("open", {"type": "set", "path": str(self.run.top), "options": {}, "members": in_set})

    def target(self, role: str, op: str, args: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """The handle a step acts on: a set member when the step names one, else the role's queue."""
        if "member" in args and op in ("set_add", "set_remove"):  # the member added to or removed from the set
            return self.handles[role], {**args, "member": self.members[role][args["member"]]}
        if "member" in args:
            rest = {k: v for k, v in args.items() if k != "member"}
            return self.members[role][args["member"]], rest
        if "members" in args:  # set_list over a chosen list of members
            rest = {k: v for k, v in args.items() if k != "members"}
            return None, {**rest, "queues": [self.members[role][i] for i in args["members"]]}
        return self.handles[role], args

    def close_queues(self) -> None:
        for role, handle in self.handles.items():
            for each in [handle, *self.members.get(role, [])]:
                self.actors[role].call("close", {"queue": each})

    def op_step(self, index: int, step: dict[str, Any]) -> None:
        role = step["role"]
        actor = self.actors[role]
        args = substitute(step.get("args", {}), self.run.bindings)
        label = f"{role}={actor.implementation} {step['op']}({_describe(args)[1:-1]})"
        if step["op"] == "open":
            call_args = self.open_args(args)
        elif step["op"] == "hello":
            call_args = {"protocol": 1}
        else:
            if role not in self.handles:  # a case that tests open also uses the queue it opened
                self.handles[role] = actor.call("open", self.open_args())
            handle, args = self.target(role, step["op"], args)
            call_args = wire_args(step["op"], args) if handle is None else {"queue": handle, **wire_args(step["op"], args)}
            call_args = batch_request(actor, step["op"], call_args)  # a check step reads either history form
        try:
            result = self.last = actor.call(step["op"], call_args)
        except OpError as error:
            self.last = error
            self.run.log.append(f"{label} -> error {error.kind}: {error.message}")
            if "error" in step and step["error"] in (error.kind, "any"):
                missing = [part for part in substitute(step.get("message", []), self.run.bindings) if part not in error.message]
                if missing:  # SPEC-4: the message names what the error is about
                    raise self.fail(index, step, f"{label}: the {error.kind} error message {error.message!r} "
                                                 f"does not name {', '.join(map(repr, missing))}", ("SPEC-4",)) from None
                return
            wanted = f"error {step['error']}" if "error" in step else _describe(substitute(step.get("expect"), self.run.bindings)) if "expect" in step else "success"
            raise self.fail(index, step, f"{label}: expected {wanted}, got error {error.kind}: {error.message}") from None
        if role in self.members:
            result = self.member_indices(role, step["op"], result)
        self.run.log.append(f"{label} -> {_describe(result)}")
        if "error" in step:
            raise self.fail(index, step, f"{label}: expected error {step['error']}, got {_describe(result)}")
        if "expect" in step:
            expect = substitute(step["expect"], self.run.bindings)
            if not matches(expect, result):
                raise self.fail(index, step, f"{label}: expected {_describe(expect)}, got {_describe(result)}")
        if step["op"] == "open":
            self.handles.setdefault(role, result)
        if "bind" in step:
            self.run.bindings[step["bind"]] = result

    def member_indices(self, role: str, op: str, result: Any) -> Any:
        """Set pairs in a result, [handle, name] -> [member index, name]: set_first/set_next give one pair, list and set_list a list."""
        position = {h: i for i, h in enumerate(self.members[role])}

        def indexed(pair: Any) -> Any:
            return [position.get(pair[0], pair[0]), pair[1]] if isinstance(pair, list) and len(pair) == 2 else pair

        if op in ("set_first", "set_next"):
            return indexed(result)
        return [indexed(pair) for pair in result] if isinstance(result, list) else result

    def scene(self) -> Scene:
        return Scene(case_id=self.case.id, requirements=self.case.requirements, queue=self.case.queue,
                     actors=self.actors, handles=self.handles, top=self.run.top, work=self.run.work, log=self.run.log,
                     open_args=self.open_args, resolve=lambda value: substitute(value, self.run.bindings))

    def scenario_step(self, index: int, step: dict[str, Any]) -> None:
        """A check, stress, crash, fault or syscalls step: the scenario runs on a Scene and judges itself."""
        kind = next(kind for kind in SCENARIO_KINDS if kind in step)
        spec, scene = step[kind], self.scene()
        try:
            if kind == "check":
                checker.run_step(scene, spec)
            elif kind == "stress":
                stress.run_step(scene, spec)
            elif kind == "syscalls":
                profile.run_step(scene, spec)
            else:
                explorer.run_step(scene, kind, spec)
        except ScenarioFailed as failed:
            raise self.fail(index, spec if failed.cite_step else {}, failed.message, failed.violated) from None
        except ScenarioInconclusive as unknown:
            raise CaseInconclusive(index, f"step {index + 1} (line {self.case.step_lines[index]}): {unknown}") from None

    def parallel_step(self, index: int, step: dict[str, Any]) -> None:
        failures: list[BaseException] = []

        def run_one(sub: dict[str, Any]) -> None:
            try:
                self.op_step(index, sub)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
                failures.append(exc)

        threads = [threading.Thread(target=run_one, args=(sub,)) for sub in step["parallel"]]
        pids = [pid for sub in step["parallel"] if (pid := getattr(self.actors[sub["role"]], "pid", None))]
        cores.spread(pids)  # the roles' ops really run at the same time
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            cores.narrow(pids)
        if failures:
            raise failures[0]

    def run_step(self, index: int, step: dict[str, Any]) -> None:
        """One step of any kind (raises CaseFailed when it does not go as the step says)."""
        if "op" in step:
            self.op_step(index, step)
        elif "parallel" in step:
            self.parallel_step(index, step)
        elif "fs" in step:
            action = substitute(step["fs"], self.run.bindings)
            self.run.log.append(f"kit fs {_describe(action)}")
            feeder = treeops.apply_fs(self.run.top, self.run.work, action)
            if feeder is not None:
                self.feeders.append(feeder)
        elif any(kind in step for kind in SCENARIO_KINDS):
            self.scenario_step(index, step)
        else:
            expectation = substitute(step["tree"], self.run.bindings)
            self.run.log.append(f"kit checks tree {_describe(expectation)}")
            try:
                treeops.check_tree(self.run.top, self.run.work, expectation)
            except treeops.TreeMismatch as mismatch:
                raise self.fail(index, step, f"tree: {mismatch}") from None

    def execute(self) -> CaseRun:
        self.run.work.mkdir(parents=True, exist_ok=True)
        # A fixture step builds its tree in TOP now, before the roles open the queue,
        # and expands into op and tree steps numbered as itself (dirqkit.suite.fixture_steps).
        steps = fixture_steps.case_steps(self.case, self.run.top, self.run.bindings, self.prebuilt)
        try:
            self.run_steps(steps)
        finally:
            for feeder in self.feeders:
                feeder.stop()
        return self.run

    def run_steps(self, steps: list[tuple[int, dict[str, Any]]]) -> None:
        self.open_queues()
        for index, step in steps:
            self.run_step(index, step)
        self.close_queues()
