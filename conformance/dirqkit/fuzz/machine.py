"""The state machine Hypothesis drives: driver ops over two to four actors, kit actions between them.

Every rule turns into case steps (the same dicts a YAML case holds) that
the suite's engine runs, so a generated step fails exactly as it would in
``dirqkit run``. The oracle (:mod:`dirqkit.fuzz.oracle`) says what each op
must return and what the tree must look like after it. A step that breaks a
requirement raises :class:`Finding`, unless the expectations already know
that deviation of that implementation: then the example stops there (the
model no longer describes the tree) and the search goes on.
"""

from __future__ import annotations

import base64
import functools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from dirqkit.drivers.client import DriverError, OpError
from dirqkit.fuzz import races
from dirqkit.fuzz.oracle import (BACKDATES, FOREIGN_TEXT, INVALID_FIELD_NAMES, INVALID_OPTIONS, LIMITS, LINK_TARGET_AGE,
                                  LINK_TARGET_TEXT, PLANTED_OLD_DIR, SIMPLE_INVALID_OPTIONS, Element, Model, Planted, literal)
from dirqkit.suite.caseload import Case
from dirqkit.suite.engine import CaseFailed, Engine
from dirqkit.suite.roles import Assignment

ROLES = "abcd"  # actor i is role ROLES[i]
FIELD_NAMES = ("body", "header", "data", "x9", "Note")
FIELD_TYPES = ("string", "binary", "table")
# No "$" in text: a case string substitutes $name (binary data goes as base64 instead)
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="$"), max_size=12)
TABLE_TEXT = st.text(st.sampled_from("atn\\\t\nZé€ =\r"), max_size=6)  # t and n: after a backslash, escape look-alikes
# NAME-10: identifiers that are not elt-id ({e}: an element's binding, so that the name is close to a real one)
BAD_NAMES = ("../work/victim", "../../etc/passwd", "/etc/passwd", "${{{e}}}/..", "/${{{e}}}", "./${{{e}}}", "${{{e}}}0",
             "${{{e}:dir}}//${{{e}:elt}}", "${{{e}:dir}}\\${{{e}:elt}}", "${{{e}:dir}}/../${{{e}}}", "00000000/0000000000000G",
             "0000000G/00000000000001", "00000000/0000000000001")
SIZES = st.one_of(st.integers(0, 40), st.sampled_from([4095, 4096, 65536, 100001]))
# Queue options an open may give (None: not given); Simple granularities are those GRANULARITY_DIGITS can check
OPTIONS = {"rndhex": st.sampled_from([None, 0, 9, 15]), "umask": st.sampled_from([None, 0o027, 0o002, 0])}
SIMPLE_OPTIONS = {**OPTIONS, "granularity": st.sampled_from([None, 16, 256])}
RACE_ODDS = 4  # a drawn race step plays one time in RACE_ODDS (each costs a few traced runs of its op)
PROCESS_UMASK = "0077"  # a process umask for the drivers, unlike any usual one (COMMON-4)
# Table files the kit writes over a table field: (content, what get returns or None for invalid_data, requirement)
TABLE_REWRITES = ((b"k\t1\nk\t2\n", {"k": "2"}, "TABLE-8"), (b"a\t1\nb\t2\na\t3\n", {"a": "3", "b": "2"}, "TABLE-8"),
                  (b"k\n", None, "TABLE-5"), (b"k\tv\tw\n", None, "TABLE-5"), (b"\nk\tv\n", None, "TABLE-5"))
# (not an empty line after the last entry: TABLE-7 lets a reader ignore it)


class Finding(AssertionError):
    """A step broke a requirement that no expectation names for that implementation."""

    def __init__(self, requirement: str, implementation: str, role: str, message: str, outcome: str = "FAIL") -> None:
        super().__init__(f"{outcome} {requirement} by {implementation} (role {role}): {message}")
        self.requirement, self.implementation, self.role, self.message, self.outcome = (
            requirement, implementation, role, message, outcome)

    @classmethod
    def of(cls, requirement: str, implementation: str) -> type[Finding]:
        """One subclass per (implementation, requirement): Hypothesis tells bugs apart by exception type, so a
        shrink keeps to the deviation first found instead of drifting to another one the example also shows."""
        key = (implementation, requirement)
        if key not in FINDING_KINDS:
            FINDING_KINDS[key] = type(f"Finding[{implementation}:{requirement}]", (cls,), {})
        return FINDING_KINDS[key]


FINDING_KINDS: dict[tuple[str, str], type[Finding]] = {}


class KitFault(BaseException):
    """The kit itself broke inside a rule (a bug, a wrong signature, a driver pool error): never an implementation's.

    A BaseException, so Hypothesis neither shrinks it nor takes it for a failing example: it ends the session.
    """

    def __init__(self, rule: str, error: BaseException) -> None:
        super().__init__(f"kit error in fuzz rule {rule}: {type(error).__name__}: {error}")
        self.rule, self.error = rule, error


def guarded(function: Callable[..., None]) -> Callable[..., None]:
    """Run a rule; what it raises besides a finding or a stop of the search is the kit's fault (:class:`KitFault`)."""

    @functools.wraps(function)
    def rule_body(*args: Any, **kwargs: Any) -> None:
        try:
            function(*args, **kwargs)
        except (Finding, KitFault, BudgetSpent, ShrinkSpent):
            raise
        except Exception as error:  # noqa: BLE001 - anything else is the kit's own failure, named as such
            raise KitFault(function.__name__, error) from error

    return rule_body


class BudgetSpent(BaseException):
    """The time budget ran out before an example started (stops the search, never a verdict)."""


class ShrinkSpent(BaseException):
    """The replays allowed for shrinking a finding are spent: the smallest failing example seen stands."""


def payload(size: int, seed: bytes) -> bytes:
    return (seed * (size // len(seed) + 1))[:size]


def typed(kind: str, value: Any) -> dict[str, Any]:
    if kind == "binary":
        return {"type": "binary", "base64": base64.b64encode(value).decode("ascii")}
    return {"type": kind, "value": value}


EMPTY: dict[str, Any] = {"string": "", "binary": b"", "table": {}}
VALUES = {"string": TEXT, "binary": st.binary(max_size=24), "table": st.dictionaries(TABLE_TEXT, TABLE_TEXT, max_size=3)}


def runner_class(session: Any) -> type[RuleBasedStateMachine]:
    """The base of a session's machines: actors, the engine that runs their steps, the trace, the blame."""
    plan = session.plan

    class Runner(RuleBasedStateMachine):
        """Actors, the engine that runs their steps, and the trace: what every fuzz machine shares."""

        last_role: str | None = None  # the role of the last op step (a tree check that fails blames it)

        def __init__(self) -> None:
            super().__init__()
            self.trace: list[dict[str, Any]] = []
            self.roles: dict[str, str] = {}
            self.stopped = False
            session.example_started(self)  # may stop this example before it starts (a spent shrink budget)
            self.actors: dict[str, Any] = {}
            self.scratch = Path(tempfile.mkdtemp(prefix="dirqkit-fuzz-"))
            self.planted_names = 0
            self.queue: dict[str, Any] = {"type": plan.queue_type}
            self.umask: str | None = None
            self.made: dict[str, Element] = {}  # role -> the element its last add made
            self.model = Model(plan.queue_type, {})  # replaced when the actors have opened the queue

        @guarded
        def teardown(self) -> None:
            try:
                if self.actors and not self.stopped:
                    self.engine.close_queues()
            except (OpError, DriverError):
                pass
            finally:
                for feeder in getattr(getattr(self, "engine", None), "feeders", ()):
                    feeder.stop()
                session.pool.release(self.actors)
                shutil.rmtree(self.scratch, ignore_errors=True)
                session.example_ended(self)

        # -- running steps -------------------------------------------------

        def role(self, actor: int) -> str:
            return ROLES[actor % len(self.roles)]

        def act(self, role: str | None, step: dict[str, Any]) -> bool:
            """Run one step; record it; True if it went as the oracle said."""
            if role is not None:
                step = {"role": role, **step}
            index = len(self.trace)
            self.trace.append(step)
            try:
                self.engine.run_step(index, step)
            except CaseFailed as failed:
                if "op" in step and getattr(self.engine.last, "kind", None) == "unsupported":
                    self.stopped = True  # the driver cannot express the op (SKIP in dirqkit run): no verdict, the example ends
                    return False
                if "fault" in step:  # a race step (dirqkit.fuzz.races) cites its requirement inside; violations name theirs
                    self.blame(role or self.last_role, (*failed.violated, "SPEC-1")[0], failed.message)
                    return False
                if failed.violated[:1] not in ((), (step.get("requirement"),)):  # the engine named another (SPEC-4: the message)
                    step["requirement"] = failed.violated[0]
                elif "op" in step:
                    step["requirement"] = self.model.refine(step, self.engine.last)
                elif "tree" in step:
                    step["requirement"] = self.model.refine_tree(step, self.engine.run.top)
                self.blame(role or self.last_role, step.get("requirement") or "SPEC-1", failed.message)
                return False
            except DriverError as error:
                self.blame(role or self.last_role, step.get("requirement") or "SPEC-1", str(error), error.outcome)
                return False
            if "op" in step:
                self.last_role = role
                session.ops += 1
            return True

        def check(self, checks: list[tuple[str, dict[str, Any]]]) -> None:
            """Tree checks after an op: only one that fails is kept in the trace."""
            for requirement, expectation in checks:
                if self.stopped:
                    return
                step = {"tree": expectation, "requirement": requirement}
                if not self.act(None, step):
                    return
                self.trace.remove(step)

        def blame(self, role: str, requirement: str, message: str, outcome: str = "FAIL") -> None:
            implementation = self.roles[role]
            if (implementation, requirement) in session.known:
                self.stopped = True  # a known deviation: the model no longer holds
                session.known_seen += 1
                return
            finding = Finding.of(requirement, implementation)(requirement, implementation, role, message, outcome)
            session.finding_raised(self, finding)
            raise finding

        def start_actors(self, impls: list[str], umask: str | None) -> bool:
            """Roles for the drawn implementations (pins first), their drivers, the engine; False if a driver would
            not start (that role's outcome)."""
            count = max(len(impls), *(ROLES.index(r) + 1 for r in plan.pins), 2)
            impls = (impls * 4)[:count]
            self.roles = {ROLES[i]: plan.pins.get(ROLES[i], impls[i]) for i in range(count)}
            case = Case(id="fuzz", title="generated", requirements=("SPEC-1",), queue=self.queue,
                        roles={role: "consumer" for role in self.roles}, steps=(), group="fuzz", where="dirqkit fuzz", umask=umask)
            for role, name in self.roles.items():  # one at a time: a driver that will not start is its role's outcome
                try:
                    self.actors.update(session.pool.actors(Assignment(((role, name),)), plan.implementations, case))
                except DriverError as error:
                    self.stopped = True
                    self.blame(role, "SPEC-1", str(error), error.outcome)
                    return False
            self.engine = Engine(case, self.actors, self.scratch / "queue", self.scratch / "work")
            self.engine.run.work.mkdir(parents=True)
            return True

    return Runner


def machine_class(session: Any) -> type[RuleBasedStateMachine]:
    """The machine for one fuzz session of Simple or Normal queues (its implementations, pins and queue type)."""
    plan = session.plan
    simple = plan.queue_type == "simple"

    class FuzzMachine(runner_class(session)):  # type: ignore[misc]
        # -- set-up ------------------------------------------------------

        @initialize(impls=st.lists(st.sampled_from(plan.names), min_size=2, max_size=4),
                    schema=st.lists(st.tuples(st.sampled_from(FIELD_NAMES), st.sampled_from(FIELD_TYPES), st.booleans()),
                                    min_size=1, max_size=3, unique_by=lambda f: f[0]),
                    maxelts=st.sampled_from([None, 1, 2, 3]), options=st.fixed_dictionaries(SIMPLE_OPTIONS if simple else OPTIONS),
                    umask=st.sampled_from([None, PROCESS_UMASK]))
        @guarded
        def start(self, impls: list[str], schema: list[tuple[str, str, bool]], maxelts: int | None,
                  options: dict[str, int | None], umask: str | None) -> None:
            chosen = {name: value for name, value in options.items() if value is not None}
            self.umask = umask  # the drivers' process umask (None: the kit's own, which the model does not know)
            if not simple:  # the first field is mandatory (SCHEMA-3)
                self.queue["schema"] = {name: kind + ("?" if optional and i else "") for i, (name, kind, optional) in enumerate(schema)}
                if maxelts:
                    chosen["maxelts"] = maxelts
            if chosen:
                self.queue["options"] = chosen
            if self.stopped:
                return
            if not self.start_actors(impls, umask):
                return
            self.model = Model(plan.queue_type, self.engine.run.bindings, self.queue.get("schema", {}), maxelts or 16000,
                               options=chosen, process_umask=int(umask, 8) if umask else None)
            try:
                self.engine.open_queues()
            except OpError as error:
                role = next(r for r in self.roles if r not in self.engine.handles)
                self.blame(role, "SCHEMA-2" if not simple else "COMMON-1", f"open {self.queue} failed: {error.kind}: {error.message}")
            except DriverError as error:  # the driver crashed or hung on open: that implementation's outcome
                role = next(r for r in self.roles if r not in self.engine.handles)
                self.stopped = True
                self.blame(role, "SCHEMA-2" if not simple else "COMMON-1", str(error), error.outcome)

        def names_increase(self, role: str, element: Element) -> None:
            """NAME-7, for the queue object of ``role``: its new name is above its previous one, else its own list
            (by add order) fails, blaming it."""
            previous = self.made.get(role)
            self.made[role] = element
            step = self.model.name_order_step(previous, element) if previous is not None and not self.stopped else None
            if step is not None:
                self.act(role, step)

        def element(self, index: int, locked: bool = False) -> Element:
            """An element the fuzzer added; with ``locked``, a locked one if there is any (where get and remove do
            their work, rather than refuse)."""
            chosen = [e for e in self.model.live() if e.locked] if locked else []
            chosen = chosen or self.model.elements
            return chosen[index % len(chosen)]

        def fresh_name(self) -> str:
            self.planted_names += 1
            return f"{0xfeed0000 + self.planted_names:014x}"

        # -- producer ops ----------------------------------------------------

        @rule(actor=st.integers(0, 3), size=SIZES, seed=st.binary(min_size=1, max_size=6), data=st.data())
        @guarded
        def add(self, actor: int, size: int, seed: bytes, data: st.DataObject) -> None:
            value: Any = payload(size, seed)
            if not simple:  # the same draws whether or not the example stopped (a replay must draw alike)
                value = {}
                for name, kind in self.queue["schema"].items():
                    drawn = data.draw(VALUES[kind.rstrip("?")])
                    if data.draw(st.booleans()) or not kind.endswith("?"):
                        value[name] = typed(kind.rstrip("?"), drawn)
            if self.stopped:
                return
            var = f"e{len(self.model.elements) + 1}"
            if self.act(self.role(actor), self.model.add_step(var, value)):
                element, made = self.model.added(var, value)
                self.check(self.model.layout_checks(element, made))
                self.names_increase(self.role(actor), element)

        @rule(actor=st.integers(0, 3), index=st.integers(0, 63), text=TEXT, surrogate=st.sampled_from(["\ud800", "\udbff", "\udc00"]))
        @precondition(lambda _: not simple)  # the other type has no such op
        @guarded
        def add_unencodable(self, actor: int, index: int, text: str, surrogate: str) -> None:
            """Normal: an add whose string field holds a lone surrogate, the other mandatory fields empty: refused."""
            if self.stopped:
                return
            schema = {name: kind.rstrip("?") for name, kind in self.queue["schema"].items()}
            strings = [name for name, kind in schema.items() if kind == "string"]
            if not strings:
                return
            value = {name: typed(kind, EMPTY[kind]) for name, kind in schema.items() if not self.queue["schema"][name].endswith("?")}
            value[strings[index % len(strings)]] = typed("string", text[:3] + surrogate + text[3:])
            if self.act(self.role(actor), self.model.unencodable_add_step(value)):
                self.check(self.model.refused_add())

        @rule(actor=st.integers(0, 3), size=SIZES, seed=st.binary(min_size=1, max_size=6))
        @precondition(lambda _: simple)  # the other type has no such op
        @guarded
        def add_path(self, actor: int, size: int, seed: bytes) -> None:
            if self.stopped:
                return
            var = f"e{len(self.model.elements) + 1}"
            value = payload(size, seed)
            source = f"WORK/{var}"
            self.act(None, {"fs": {"write": source, **literal(value)}})
            step = {"op": "add_path", "args": {"path": f"$WORK/{var}"}, "bind": var,
                    "expect": {"match": "[0-9a-f]{8}/[0-9a-f]{14}"}, "requirement": "SIMPLE-ADDPATH-1"}
            if self.act(self.role(actor), step):
                element = self.model.added(var, value)[0]
                self.check([("SIMPLE-ADDPATH-1", {"absent": [source]}),
                            ("SIMPLE-ADDPATH-2", {"kind": {f"${var}": "file"}, "content": {f"${var}": literal(value)}})])
                self.names_increase(self.role(actor), element)

        # -- consumer ops ----------------------------------------------------

        @rule(actor=st.integers(0, 3), index=st.integers(0, 63), permissive=st.sampled_from([None, True, False]))
        @guarded
        def lock(self, actor: int, index: int, permissive: bool | None) -> None:
            if self.stopped or not self.model.elements:
                return
            element = self.element(index)
            step = self.model.lock_step(element, permissive)
            if self.act(self.role(actor), step):
                self.check(self.model.locked(element) if step.get("expect") is True else self.model.unchanged(element, step["requirement"]))
                if step.get("expect") is True:  # a locked element counts once, its lock not at all
                    self.act(self.role(actor), self.model.count_step())

        @rule(actor=st.integers(0, 3), index=st.integers(0, 63), permissive=st.sampled_from([None, True, False]), locked=st.booleans())
        @guarded
        def unlock(self, actor: int, index: int, permissive: bool | None, locked: bool) -> None:
            if self.stopped or not self.model.elements:
                return
            element = self.element(index, locked)
            step = self.model.unlock_step(element, permissive)
            if self.act(self.role(actor), step):
                if step.get("expect") is True:
                    checks = self.model.unlocked(element)
                    element.age = element.age if simple else 0  # Normal: the rmdir of locked changes the element's mtime
                    self.check(checks)
                else:
                    self.check(self.model.unchanged(element, step["requirement"]))

        @rule(actor=st.integers(0, 3), index=st.integers(0, 63))
        @guarded
        def touch(self, actor: int, index: int) -> None:
            if self.stopped or not self.model.elements:
                return
            element = self.element(index)
            step = self.model.touch_step(element)
            if self.act(self.role(actor), step) and element.present:
                self.check(self.model.touched(element))

        @rule(actor=st.integers(0, 3), index=st.integers(0, 63), locked=st.booleans())
        @guarded
        def get(self, actor: int, index: int, locked: bool) -> None:
            if self.stopped or not self.model.elements:
                return
            self.act(self.role(actor), self.model.get_step(self.element(index, locked)))

        @rule(actor=st.integers(0, 3), index=st.integers(0, 63))
        @guarded
        def get_path(self, actor: int, index: int) -> None:
            if self.stopped or not any(e.locked for e in self.model.elements):
                return
            locked = [e for e in self.model.elements if e.locked]
            self.act(self.role(actor), self.model.get_path_step(locked[index % len(locked)]))

        @rule(actor=st.integers(0, 3), index=st.integers(0, 63), locked=st.booleans())
        @guarded
        def remove(self, actor: int, index: int, locked: bool) -> None:
            if self.stopped or not self.model.elements:
                return
            element = self.element(index, locked)
            if element.subdir and element.locked:  # removing it meets the foreign subdirectory: beyond the model
                return
            step = self.model.remove_step(element)
            if self.act(self.role(actor), step):
                self.check(self.model.removed(element) if "expect" in step else self.model.unchanged(element, step["requirement"]))

        @rule(actor=st.integers(0, 3), op=st.sampled_from(["lock", "unlock", "touch", "get", "remove"]),
              name=st.integers(0, len(BAD_NAMES) - 1), index=st.integers(0, 63))
        @guarded
        def bad_name(self, actor: int, op: str, name: int, index: int) -> None:
            if self.stopped:
                return
            template = BAD_NAMES[name]
            element = self.element(index) if self.model.elements else None
            if "{e}" in template and element is None:
                return
            step = self.model.bad_name_step(op, template.format(e=element.var if element else ""))
            if self.act(self.role(actor), step) and element is not None:
                self.check(self.model.unchanged(element, "NAME-10"))

        @rule(actor=st.integers(0, 3))
        @guarded
        def count(self, actor: int) -> None:
            if not self.stopped:
                self.act(self.role(actor), self.model.count_step())

        @rule(actor=st.integers(0, 3))
        @guarded
        def iterate(self, actor: int) -> None:
            if not self.stopped:
                self.act(self.role(actor), self.model.list_step())

        @rule(actor=st.integers(0, 3), maxtemp=st.sampled_from([None, *LIMITS]), maxlock=st.sampled_from([None, *LIMITS]))
        @guarded
        def purge(self, actor: int, maxtemp: int | None, maxlock: int | None) -> None:
            if not self.stopped and self.act(self.role(actor), self.model.purge_step(maxtemp, maxlock)):
                self.check(self.model.purged(maxtemp, maxlock) + self.model.link_targets())

        @rule(actor=st.integers(0, 3), index=st.integers(0, 63))
        @guarded
        def open_invalid(self, actor: int, index: int) -> None:
            """An open with an option out of its range, or (Normal) a schema with a bad field name: refused."""
            if self.stopped:
                return
            options = INVALID_OPTIONS + (SIMPLE_INVALID_OPTIONS if simple else ())
            names = () if simple else INVALID_FIELD_NAMES
            choice = index % (len(options) + len(names))
            if choice < len(options):
                step = self.model.invalid_open_step(*options[choice])
            else:
                schema = {**self.queue["schema"], names[choice - len(options)]: "string?"}
                step = self.model.invalid_open_step("SCHEMA-1", schema=schema)
            self.act(self.role(actor), step)

        @rule(actor=st.integers(0, 3), other=st.integers(0, 2), key=st.sampled_from(races.keys_of(plan.queue_type)),
              odds=st.integers(0, RACE_ODDS - 1))
        @precondition(lambda _: session.race_note is None)  # strace can hold a driver's syscall here
        @guarded
        def race(self, actor: int, other: int, key: tuple[str, str, str, str], odds: int) -> None:
            """A's op held on entry to a syscall while B's op or a kit change plays (dirqkit.fuzz.races); played
            one time in RACE_ODDS it is drawn, as a race step costs several traced runs of the op."""
            if not odds and not self.stopped and races.play(self, actor, other, key):
                session.races += 1

        # -- kit actions -------------------------------------------------

        def dir_with_room(self, index: int) -> str | None:
            """An existing intermediate directory, as a case path."""
            dirs = self.model.existing_dirs()
            return self.model.dir_ref(dirs[index % len(dirs)]) if dirs else None

        @rule(index=st.integers(0, 63), seconds=st.sampled_from(BACKDATES))
        @guarded
        def backdate(self, index: int, seconds: int) -> None:
            live = [e for e in self.model.live() if not e.lock_swap]  # a lock the kit swapped keeps its own time
            if self.stopped or not live:
                return
            element = live[index % len(live)]
            if self.act(None, {"fs": {"backdate": [f"${element.var}"], "seconds": seconds}}):
                element.age = seconds

        @rule(index=st.integers(0, 63), age=st.sampled_from([0, *BACKDATES]), foreign_inside=st.booleans())
        @guarded
        def plant_temp(self, index: int, age: int, foreign_inside: bool) -> None:
            """A leftover of a producer that died: a Simple .tmp, a Normal temporary/N."""
            if self.stopped:
                return
            name = self.fresh_name()
            if simple:
                directory = self.dir_with_room(index)
                if directory is None:
                    return
                path, inner = f"{directory}/{name}.tmp", None
                self.act(None, {"fs": {"write": path, "text": "partial"}})
            else:
                field_name = next(iter(self.queue["schema"]))
                path, inner = f"temporary/{name}", (f"temporary/{name}/notes.txt" if foreign_inside else None)
                self.act(None, {"fs": {"write": f"{path}/{field_name}", "text": "partial"}})
                if inner:
                    self.act(None, {"fs": {"write": inner, "text": "not the queue's"}})
            if age:
                self.act(None, {"fs": {"backdate": [path], "seconds": age}})
            real = self.model.resolve(path).split("/", 1)[0] if simple else None
            self.model.planted.append(Planted(path, "temp", real, age, inner=inner))

        @rule(index=st.integers(0, 63), choice=st.integers(0, 4), at_top=st.booleans(), age=st.sampled_from([0, *BACKDATES]))
        @guarded
        def plant_foreign(self, index: int, choice: int, at_top: bool, age: int) -> None:
            """An entry the format does not own (COMMON-2), or an element name of the wrong type (ITER-4)."""
            if self.stopped:
                return
            hexname = self.fresh_name()
            if simple:
                kinds = [("file", "notes.txt"), ("file", f"{hexname}.bak"), ("dir", f"{hexname}.tmp"), ("dir", f"{hexname}.lck"), ("dir", hexname)]
            else:
                kinds = [("file", "notes.txt"), ("dir", "backup"), ("file", hexname), ("file", f"{hexname}.bak"), ("dir", f"{hexname}x")]
            kind, name = kinds[choice % len(kinds)]
            directory = None if at_top else self.dir_with_room(index)
            if directory is None:
                name = f"{name}.top"  # a name at TOP that is no intermediate directory
            path = f"{directory}/{name}" if directory else name
            real = self.model.resolve(directory) if directory else None
            if any(p.present and p.directory == real and p.path.rsplit("/", 1)[-1] == name for p in self.model.planted):
                return  # planted already (perhaps named through another element's directory): one entry
            if kind == "file":
                self.act(None, {"fs": {"write": path, "text": FOREIGN_TEXT}})
            else:
                self.act(None, {"fs": {"mkdir": path}})
            if age:  # an old foreign entry: no limit of a purge makes it the queue's
                self.act(None, {"fs": {"backdate": [path], "seconds": age}})
            wrong_type = name == hexname
            self.model.planted.append(Planted(path, "wrongtype" if wrong_type else "foreign", real, age, dir_entry=kind == "dir"))

        def link_target(self) -> None:
            """The file out of the queue that planted links point to, older than any link (SEC-1)."""
            if not os.path.lexists(self.engine.run.work / "target"):
                self.act(None, {"fs": {"write": "WORK/target" if simple else "WORK/target/body", "text": LINK_TARGET_TEXT}})
                self.act(None, {"fs": {"backdate": ["WORK/target"], "seconds": LINK_TARGET_AGE}})
                self.model.link_target = True

        @rule(index=st.integers(0, 63), as_temp=st.booleans(), age=st.sampled_from([0, BACKDATES[0]]))
        @guarded
        def plant_symlink(self, index: int, as_temp: bool, age: int) -> None:
            """A symbolic link named like an element (ITER-4, SEC-1): never yielded, counted or followed; Simple,
            also one named like a temp, younger than its target: purge judges it by its own age (SEC-1)."""
            if self.stopped or not self.model.existing_dirs():
                return
            directory = self.dir_with_room(index)
            assert directory is not None
            self.link_target()
            as_temp = as_temp and simple
            path = f"{directory}/{self.fresh_name()}" + (".tmp" if as_temp else "")
            self.act(None, {"fs": {"symlink": path, "target": "$WORK/target"}})
            if age:
                self.act(None, {"fs": {"backdate": [path], "seconds": age}})
            self.model.planted.append(Planted(path, "temp" if as_temp else "symlink", self.model.resolve(directory), age, link=True))

        @rule(actor=st.integers(0, 3), index=st.integers(0, 63))
        @guarded
        def touch_link(self, actor: int, index: int) -> None:
            """touch of a name that is a symbolic link: the link's own time is set, its target's is not (SEC-1)."""
            links = [p for p in self.model.planted if p.present and p.kind == "symlink"]
            if self.stopped or not links:
                return
            link = links[index % len(links)]
            if self.act(self.role(actor), self.model.touch_link_step(link)):
                self.check(self.model.link_touched(link) + self.model.link_targets())

        @rule(actor=st.integers(0, 3), index=st.integers(0, 63))
        @precondition(lambda _: simple)  # a Normal lock makes a directory in the element: beyond a link out of the queue
        @guarded
        def lock_link(self, actor: int, index: int) -> None:
            """Simple lock of a name that is a symbolic link, made old first: the lock is the link's, its time is set on
            the link, not on the target (SEC-1); the kit then takes the lock away again."""
            links = [p for p in self.model.planted if p.present and p.kind == "symlink"]
            if self.stopped or not links:
                return
            link = links[index % len(links)]
            self.act(None, {"fs": {"backdate": [link.path], "seconds": BACKDATES[0]}})
            if self.act(self.role(actor), self.model.lock_link_step(link)):
                self.check(self.model.link_locked(link) + self.model.link_targets())
            if not self.stopped:
                self.act(None, {"fs": {"remove": f"{link.path}.lck"}})

        @rule(index=st.integers(0, 63), fifo=st.booleans())
        @precondition(lambda _: simple)  # the other type has no such op
        @guarded
        def swap_lock(self, index: int, fifo: bool) -> None:
            """Simple: the lock of a locked element becomes a symbolic link out of the queue, or a FIFO; get reads
            neither (SEC-1, SEC-6)."""
            locked = [e for e in self.model.live() if e.locked and not e.lock_swap]
            if self.stopped or not locked:
                return
            element = locked[index % len(locked)]
            self.act(None, {"fs": {"remove": f"${element.var}.lck"}})
            if fifo:
                self.act(None, {"fs": {"fifo": f"${element.var}.lck"}})
            else:
                self.link_target()
                self.act(None, {"fs": {"symlink": f"${element.var}.lck", "target": "$WORK/target"}})
            element.lock_swap, element.age = "fifo" if fifo else "link", 0

        @rule(index=st.integers(0, 63), field=st.integers(0, 2), fifo=st.booleans())
        @precondition(lambda _: not simple)  # the other type has no such op
        @guarded
        def swap_field(self, index: int, field: int, fifo: bool) -> None:
            """Normal: a field file of an element becomes a FIFO, or a symbolic link out of the queue; get reads
            neither (SEC-6: invalid_data; SEC-1)."""
            live = [e for e in self.model.live() if not e.unreadable]
            if self.stopped or not live:
                return
            element = live[index % len(live)]
            path = f"${element.var}/{sorted(element.data)[field % len(element.data)]}"
            self.act(None, {"fs": {"remove": path}})
            if fifo:
                self.act(None, {"fs": {"fifo": path}})
            else:
                self.link_target()
                self.act(None, {"fs": {"symlink": path, "target": "$WORK/target/body"}})
            element.unreadable = ("invalid_data", "SEC-6") if fifo else ("any", "SEC-1")
            element.age = 0  # the element directory changed: its time, the lock time, is now

        @rule(index=st.integers(0, 63))
        @precondition(lambda _: not simple)  # the other type has no such op
        @guarded
        def plant_subdir(self, index: int) -> None:
            """Normal: a foreign subdirectory in an element: its link count is a locked one's, yet it is not locked."""
            live = [e for e in self.model.live() if not e.subdir]
            if self.stopped or not live:
                return
            element = live[index % len(live)]
            if self.act(None, {"fs": {"mkdir": f"${element.var}/extra"}}):
                element.subdir, element.age = True, 0  # the element directory changed: its time, the lock time, is now

        @rule(actor=st.integers(0, 3), index=st.integers(0, 63), rewrite=st.integers(0, len(TABLE_REWRITES) - 1))
        @precondition(lambda _: not simple)  # the other type has no such op
        @guarded
        def rewrite_table(self, actor: int, index: int, rewrite: int) -> None:
            """Normal: a table field is written over, with a key twice (TABLE-8) or a malformed line (TABLE-5); a
            locked element is then read."""
            if self.stopped:
                return
            fields = [(e, name) for e in self.model.live() if not e.unreadable
                      for name, value in e.data.items() if value["type"] == "table"]
            if not fields:
                return
            element, name = fields[index % len(fields)]
            content, table, requirement = TABLE_REWRITES[rewrite]
            if self.act(None, {"fs": {"write": f"${element.var}/{name}", **literal(content)}}):
                element.data = {**element.data, name: {"type": "table", "value": table}}
                if table is None:
                    element.unreadable = ("invalid_data", requirement)
                else:
                    element.get_requirement = requirement
                if element.locked:
                    self.act(self.role(actor), self.model.get_step(element))

        @rule(actor=st.integers(0, 3), size=SIZES, seed=st.binary(min_size=1, max_size=6))
        @guarded
        def lose_top(self, actor: int, size: int, seed: bytes) -> None:
            """TOP vanishes (moved away) under open queue objects: an add fails and does not make TOP again (DIR-3:
            one non-recursive mkdir; Normal, ITER-6); then TOP comes back and the example goes on."""
            # a role that has not used its queue yet: a case that also tests open opens it at that role's first op, which
            # here would make TOP again; so one that did (its queue open before TOP went, in the fuzz and in the case)
            acted = [r for r in self.roles if any(step.get("role") == r and step.get("op") not in (None, "open") for step in self.trace)]
            if self.stopped or not acted:
                return
            if simple:
                value: Any = payload(size, seed)
            else:  # the mandatory fields, empty
                value = {name: typed(kind, EMPTY[kind]) for name, kind in self.queue["schema"].items() if not kind.endswith("?")}
            self.act(None, {"fs": {"rename": ".", "to": "WORK/top-away"}})
            if self.act(acted[actor % len(acted)], self.model.add_without_top(value)):
                self.check(self.model.top_lost())
            if not self.stopped:
                self.act(None, {"fs": {"rename": "WORK/top-away", "to": "."}})

        @rule()
        @guarded
        def plant_element(self) -> None:
            """A well-formed element in an older intermediate directory: Simple, one a producer with a slower clock
            made; Normal, in the least directory, where a producer that chose it earlier put it (ITER-1, counts)."""
            dirs = self.model.existing_dirs()
            if self.stopped or not (simple or dirs):
                return
            _, files = self.model.planted_element(PLANTED_OLD_DIR if simple else dirs[0], self.fresh_name())
            for path, data in files.items():
                self.act(None, {"fs": {"write": path, **data}})

        @rule()
        @guarded
        def plant_directory(self) -> None:
            """An empty intermediate directory: Simple, an old one; Normal, the next one, as a producer just made it."""
            if self.stopped:
                return
            dirs = self.model.existing_dirs()
            if simple:
                name = PLANTED_OLD_DIR
            else:
                name = f"{int(dirs[-1], 16) + 1:08x}" if dirs else "00000000"
            if self.model.dirs.get(name) or os.path.lexists(self.engine.run.top / name):
                return
            if self.act(None, {"fs": {"mkdir": name}}):
                self.model.dirs[name] = True

        @rule(index=st.integers(0, 63))
        @guarded
        def remove_empty_directory(self, index: int) -> None:
            """A purger elsewhere removed an intermediate directory that was empty."""
            if self.stopped or not self.model.existing_dirs():
                return
            empty = [d for d in self.model.existing_dirs() if self.model.entries(d) == 0
                     and (self.engine.run.top / d).is_dir() and not os.listdir(self.engine.run.top / d)]
            if empty:
                directory = empty[index % len(empty)]
                if self.act(None, {"fs": {"remove": self.model.dir_ref(directory)}}):
                    self.model.dirs[directory] = False

    return FuzzMachine
