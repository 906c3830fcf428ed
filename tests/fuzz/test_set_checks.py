"""The fuzzer's queue set checks (SET-1 to SET-6): each holds for the reference and fails, citing its requirement,
on a planted violation: a reference actor whose replies are changed the way a broken set would change them.

The steps are the ones :mod:`dirqkit.fuzz.setoracle` gives the set machine, run through the suite's engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scenario_testutil import InProcessActor

from dirqkit.drivers.client import OpError
from dirqkit.fuzz.setmachine import planted_ident
from dirqkit.fuzz.setoracle import SetModel
from dirqkit.suite.caseload import Case
from dirqkit.suite.engine import CaseFailed, Engine


class Eager(InProcessActor):
    """A set that reads all its members when its iteration starts (SET-6); with ``keep_on_remove``, removing a member
    leaves the iteration where it was (SET-5)."""

    def __init__(self, keep_on_remove: bool = False) -> None:
        self.keep_on_remove = keep_on_remove
        self.pending: list[Any] = []
        super().__init__()

    def call(self, op: str, args: dict[str, Any]) -> Any:
        if op in ("set_first", "set_next") or (op == "set_remove" and self.keep_on_remove):
            if op == "set_first":
                self.pending = super().call("list", args)
            if op == "set_remove":
                return super().call(op, args)  # the real set restarts; the pairs served are still the old ones
            return self.pending.pop(0) if self.pending else None
        if op in ("set_add", "set_remove"):
            result = super().call(op, args)
            self.pending = super().call("list", {"queue": args["queue"]})
            return result
        return super().call(op, args)


class Changed(InProcessActor):
    """The reference with one op's result changed by ``change``, or an error it raises turned into a success."""

    def __init__(self, op: str, change: Any) -> None:
        self.op, self.change = op, change
        super().__init__()

    def call(self, op: str, args: dict[str, Any]) -> Any:
        if op != self.op:
            return super().call(op, args)
        try:
            return self.change(super().call(op, args))
        except OpError:
            return None


class SetHarness:
    """Role ``a`` (the reference, or a changed one) with a set over ``types`` members and an alias of member 0."""

    def __init__(self, tmp_path: Path, types: list[str], actor: Any = None, alias: dict[str, str] | None = None) -> None:
        members = [{"type": kind, **({"schema": {"body": "string"}} if kind == "normal" else {})} for kind in types]
        members.append({**members[0], **(alias or {"path": "./m0"}), "in_set": False})
        case = Case(id="t", title="t", requirements=("SPEC-1",), queue={"type": "set", "members": members},
                    roles={"a": "consumer"}, steps=(), group="fuzz", where="test")
        self.types = types
        self.engine = Engine(case, {"a": actor or InProcessActor()}, tmp_path / "queue", tmp_path / "work")
        self.engine.run.work.mkdir(parents=True)
        self.engine.open_queues()
        self.model = SetModel([*range(len(types)), 0], {i: set() for i in range(len(types))}, {"a": list(range(len(types)))})

    def op(self, step: dict[str, Any] | None) -> None:
        assert step is not None
        self.engine.run_step(0, {"role": "a", **step})

    def plant(self, member: int, number: int) -> None:
        ident = planted_ident(number)
        path = f"m{member}/{ident}" + ("/body" if self.types[member] == "normal" else "")
        self.engine.run_step(0, {"fs": {"write": path, "text": "x"}})
        self.model.add(member, ident)


def fails(requirement: str, run: Any, *args: Any) -> None:
    with pytest.raises(CaseFailed) as failed:
        run(*args)
    assert failed.value.requirement == requirement, failed.value.message


def walk(harness: SetHarness, steps: int) -> None:
    harness.op(harness.model.first_step("a"))
    for _ in range(steps):
        harness.op(harness.model.next_step("a"))


def test_merge_by_name_across_simple_and_normal(tmp_path):
    def build(path: Path, actor: Any = None) -> SetHarness:
        harness = SetHarness(path, ["simple", "normal"], actor)
        for member, number in ((0, 2), (1, 1), (0, 6), (1, 4)):  # member 1's first name sorts first
            harness.plant(member, number)
        return harness

    ref = build(tmp_path / "ref")
    walk(ref, 4)
    ref.op(ref.model.list_step("a"))
    swapped = build(tmp_path / "swapped", Changed("list", lambda pairs: pairs[1::-1] + pairs[2:]))
    fails("SET-1", swapped.op, swapped.model.list_step("a"))


def test_ties_by_the_order_members_were_added(tmp_path):
    def build(path: Path, actor: Any = None) -> SetHarness:
        harness = SetHarness(path, ["simple", "simple"], actor)
        harness.plant(1, 3)
        harness.plant(0, 3)
        return harness

    ref = build(tmp_path / "ref")
    walk(ref, 2)
    ref.op(ref.model.list_step("a"))
    reversed_ties = build(tmp_path / "rev", Changed("list", lambda pairs: pairs[::-1]))
    fails("SET-2", reversed_ties.op, reversed_ties.model.list_step("a"))


@pytest.mark.parametrize("alias", [{"path": "m0"}, {"path": "./m0"}, {"symlink": "m0"}])
def test_an_alias_of_a_member_is_that_member(tmp_path, alias):
    ref = SetHarness(tmp_path / "ref", ["simple", "simple"], alias=alias)
    ref.plant(0, 1)
    ref.op(ref.model.set_add_step("a", 2))  # refused: m0 is in the set
    ref.op(ref.model.set_remove_step("a", 2))  # removes m0
    ref.op(ref.model.count_step("a"))
    ref.op(ref.model.set_remove_step("a", 0))  # not in the set any more
    accepts = SetHarness(tmp_path / "accepts", ["simple", "simple"], Changed("set_add", lambda r: r), alias=alias)
    fails("SET-3", accepts.op, accepts.model.set_add_step("a", 2))
    silent = SetHarness(tmp_path / "silent", ["simple", "simple"], Changed("set_remove", lambda r: r), alias=alias)
    silent.op(silent.model.set_remove_step("a", 2))
    fails("SET-3", silent.op, silent.model.set_remove_step("a", 0))  # removing a queue not in the set is no error


def test_count_is_the_sum_of_the_members(tmp_path):
    ref = SetHarness(tmp_path / "ref", ["simple", "normal"])
    ref.plant(0, 1)
    ref.plant(1, 2)
    ref.op(ref.model.count_step("a"))
    off = SetHarness(tmp_path / "off", ["simple", "normal"], Changed("count", lambda n: n + 1))
    fails("SET-4", off.op, off.model.count_step("a"))


def test_removing_a_member_restarts_the_iteration(tmp_path):
    def build(path: Path, actor: Any = None) -> SetHarness:
        harness = SetHarness(path, ["simple", "simple"], actor)
        for member, number in ((0, 1), (1, 2), (0, 3), (1, 4)):
            harness.plant(member, number)
        walk(harness, 2)
        harness.op(harness.model.set_remove_step("a", 1))
        return harness

    ref = build(tmp_path / "ref")
    ref.op(ref.model.next_step("a"))  # the first pair of the changed set
    ref.op(ref.model.next_step("a"))
    keeps = build(tmp_path / "keeps", Eager(keep_on_remove=True))
    fails("SET-5", keeps.op, keeps.model.next_step("a"))


def test_an_element_in_a_directory_not_reached_yet_is_yielded(tmp_path):
    def build(path: Path, actor: Any = None) -> SetHarness:
        harness = SetHarness(path, ["simple", "normal"], actor)
        for member, number in ((0, 1), (0, 3), (0, 4), (0, 9), (1, 2)):
            harness.plant(member, number)
        harness.op(harness.model.first_step("a"))
        harness.plant(0, 5)  # directory 2 of member 0 existed at the start, and is not reached yet
        return harness

    ref = build(tmp_path / "ref")
    for _ in range(6):  # 2 3 4 5 9, then the end
        ref.op(ref.model.next_step("a"))
    eager = build(tmp_path / "eager", Eager())
    for _ in range(3):
        eager.op(eager.model.next_step("a"))
    fails("SET-6", eager.op, eager.model.next_step("a"))


def test_a_change_the_spec_leaves_open_ends_the_prediction(tmp_path):
    harness = SetHarness(tmp_path, ["simple", "simple"])
    harness.plant(0, 4)
    harness.plant(1, 5)
    harness.op(harness.model.first_step("a"))
    harness.plant(0, 1)  # a directory made after the start: whether it is read is the implementation's
    assert harness.model.next_step("a") is None
