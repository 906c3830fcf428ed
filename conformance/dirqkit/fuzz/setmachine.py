"""The state machine of ``dirqkit fuzz --type set``: queue sets over two or three members, changed as they iterate.

Each role opens its own set over member queues TOP/m<i> (Simple or Normal),
one of them maybe left out of the set, and one alias: another queue object
on a member's TOP, opened under the same path, another path string or
through a symbolic link (SET-3). Steps: set_first, set_next, set_add,
set_remove, count and list of a role's set, adds by a role to a Simple
member, and kit actions that write or remove elements of the members with
chosen names (equal names in two members, directories an iteration has not
reached yet). :mod:`dirqkit.fuzz.setoracle` says what each must return.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from dirqkit.drivers.client import DriverError, OpError
from dirqkit.fuzz.machine import guarded, runner_class
from dirqkit.fuzz.setoracle import SetModel

SCHEMA = {"body": "string"}  # the Normal members' schema
ALIASES = ("same path", "other path", "symlink")  # how the alias entry reaches its member's TOP
NAMES = 9  # planted element names 1..NAMES, three to a directory (a member's names grow with its directories)
MAX_PAIRS = 200  # above what an example makes (3 members of NAMES planted, one add a step)


def planted_ident(number: int) -> str:
    return f"{(number - 1) // 3 + 1:08x}/{number:08x}000001"


def set_machine_class(session: Any) -> type[RuleBasedStateMachine]:
    plan = session.plan

    class SetMachine(runner_class(session)):  # type: ignore[misc]
        @initialize(impls=st.lists(st.sampled_from(plan.names), min_size=1, max_size=2),
                    types=st.lists(st.sampled_from(["simple", "normal"]), min_size=2, max_size=3),
                    alias=st.sampled_from(ALIASES), aliased=st.integers(0, 2), left_out=st.booleans())
        @guarded
        def start(self, impls: list[str], types: list[str], alias: str, aliased: int, left_out: bool) -> None:
            members: list[dict[str, Any]] = [{"type": kind, **({"schema": SCHEMA} if kind == "normal" else {})} for kind in types]
            if left_out:
                members[-1]["in_set"] = False
            target = aliased % len(types)
            way = {"same path": {"path": f"m{target}"}, "other path": {"path": f"./m{target}"}, "symlink": {"symlink": f"m{target}"}}
            members.append({**members[target], **way[alias], "in_set": False})
            self.queue = {"type": "set", "members": members}
            self.types = types
            if self.stopped or not self.start_actors(impls, None):
                return
            entries = [*range(len(types)), target]
            in_set = [i for i, m in enumerate(members) if m.get("in_set", True)]
            self.model = SetModel(entries, {i: set() for i in range(len(types))}, {role: list(in_set) for role in self.roles})
            try:
                self.engine.open_queues()
            except (OpError, DriverError) as error:
                role = next(r for r in self.roles if r not in self.engine.handles)
                self.stopped = True
                self.blame(role, "SET-1", f"open of the set {self.queue} failed: {error}", getattr(error, "outcome", "FAIL"))

        # -- members' elements ---------------------------------------------------

        @rule(member=st.integers(0, 2), number=st.integers(1, NAMES))
        @guarded
        def plant(self, member: int, number: int) -> None:
            """An element written by a producer elsewhere, with a chosen name (ties across members, later directories)."""
            member %= len(self.types)
            ident = planted_ident(number)
            if self.stopped or ident in self.model.elements[member]:
                return
            path = f"m{member}/{ident}" + ("/body" if self.types[member] == "normal" else "")
            if self.act(None, {"fs": {"write": path, "text": f"element {number}"}}):
                self.model.add(member, ident)

        @rule(member=st.integers(0, 2), index=st.integers(0, 63))
        @guarded
        def take_away(self, member: int, index: int) -> None:
            """An element removed by a consumer elsewhere."""
            member %= len(self.types)
            elements = sorted(self.model.elements[member])
            if self.stopped or not elements:
                return
            ident = elements[index % len(elements)]
            path = f"m{member}/{self.model.tokens.get(ident, ident)}"
            paths = [f"{path}/body", path] if self.types[member] == "normal" else [path]
            if all(self.act(None, {"fs": {"remove": p}}) for p in paths):
                self.model.remove(member, ident)

        @rule(actor=st.integers(0, 3), member=st.integers(0, 2), text=st.text("abc", max_size=4))
        @guarded
        def add(self, actor: int, member: int, text: str) -> None:
            """An add by a role's own queue object of a Simple member."""
            member %= len(self.types)
            if self.stopped or self.types[member] != "simple":
                return
            var = f"e{len(self.model.tokens) + 1}"
            step = {"op": "add", "args": {"member": member, "data": {"text": text}}, "bind": var,
                    "expect": {"match": "[0-9a-f]{8}/[0-9a-f]{14}"}, "requirement": "SIMPLE-ADD-5"}
            if self.act(self.role(actor), step):
                ident = str(self.engine.run.bindings[var])
                self.model.tokens[ident] = f"${var}"
                self.model.add(member, ident)

        # -- the set -------------------------------------------------------------

        @rule(actor=st.integers(0, 3))
        @guarded
        def set_first(self, actor: int) -> None:
            if not self.stopped:
                self.act(self.role(actor), self.model.first_step(self.role(actor)))

        @rule(actor=st.integers(0, 3))
        @guarded
        def set_next(self, actor: int) -> None:
            step = None if self.stopped else self.model.next_step(self.role(actor))
            if step is not None:
                self.act(self.role(actor), step)

        @rule(actor=st.integers(0, 3))
        @guarded
        def set_drain(self, actor: int) -> None:
            """A consumer's loop: set_next until the end (what an element added or removed ahead of it does shows)."""
            role = self.role(actor)
            for _ in range(MAX_PAIRS):  # more pairs than the members can hold: the end comes first
                step = None if self.stopped else self.model.next_step(role)
                if step is None or not self.act(role, step) or step["expect"] is None:
                    return

        @rule(actor=st.integers(0, 3), entry=st.integers(0, 3))
        @guarded
        def set_add(self, actor: int, entry: int) -> None:
            if not self.stopped:
                self.act(self.role(actor), self.model.set_add_step(self.role(actor), entry % len(self.model.entries)))

        @rule(actor=st.integers(0, 3), entry=st.integers(0, 3))
        @guarded
        def set_remove(self, actor: int, entry: int) -> None:
            if not self.stopped:
                self.act(self.role(actor), self.model.set_remove_step(self.role(actor), entry % len(self.model.entries)))

        @rule(actor=st.integers(0, 3))
        @guarded
        def count(self, actor: int) -> None:
            if not self.stopped:
                self.act(self.role(actor), self.model.count_step(self.role(actor)))

        @rule(actor=st.integers(0, 3))
        @guarded
        def iterate(self, actor: int) -> None:
            if not self.stopped:
                self.act(self.role(actor), self.model.list_step(self.role(actor)))

    return SetMachine
