"""What SPEC.md's Set section allows after each generated step of a queue set.

Member queues live in TOP/m<i> (the engine's set layout); some entries are
aliases, another queue object on a member's TOP (the same path, another
path string, a symbolic link). The model knows every member's elements (by
identifier), which members are in each role's set and in what order they
were added, and where each role's iteration stands. The iteration is
modelled as SPEC.md describes it: each member lists TOP when the iteration
starts and an intermediate directory when it reaches it, one pending
identifier per member (SET-6, ITER-2), merged by element name, ties by the
order the members were added (SET-1, SET-2); adding or removing a member
while it is in progress starts it over (SET-5). A change to a member that SPEC.md leaves open (in a
directory the member has already listed, a directory made after the start)
makes the next pair unknown: the model predicts nothing until the next
``set_first``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Pair = tuple[int, str]  # (member entry, identifier)


@dataclass
class Cursor:
    """One member's lazy iteration: the directories TOP held at the start, the listed rest, the pending one."""

    dirs: list[str]  # directories not listed yet
    listed: list[str]  # identifiers of the directory being read, not yet taken


@dataclass
class Iteration:
    cursors: dict[int, Cursor]  # member (real index) -> its cursor
    order: list[int]  # the set's entries in the order they were added (ties)
    eager: list[Pair]  # what a set that read every member at the start would still yield (SET-6 tells them apart)
    restarted: bool = False  # a member was added or removed since the last pair: the next is the first (SET-5)


@dataclass
class SetModel:
    entries: list[int]  # entry index -> the real member whose TOP it opens (itself for a real member)
    elements: dict[int, set[str]] = field(default_factory=dict)  # real member -> identifiers
    sets: dict[str, list[int]] = field(default_factory=dict)  # role -> entries in its set, in the order added
    iterations: dict[str, Iteration | None] = field(default_factory=dict)  # role -> iteration (None: unknown)
    running: set[str] = field(default_factory=set)  # roles whose iteration yielded a pair last: one in progress
    tokens: dict[str, str] = field(default_factory=dict)  # identifier an implementation made -> its binding ($eN)

    def shown(self, pair: Pair) -> list[Any]:
        """A pair as a case expects it: an identifier an add returned by its binding."""
        return [pair[0], self.tokens.get(pair[1], pair[1])]

    def real(self, entry: int) -> int:
        return self.entries[entry]

    def member_of(self, role: str, real: int) -> int | None:
        """The entry through which ``role``'s set holds the member ``real``, if it does."""
        return next((e for e in self.sets[role] if self.real(e) == real), None)

    def dirs(self, real: int) -> list[str]:
        return sorted({ident.split("/")[0] for ident in self.elements[real]})

    def in_dir(self, real: int, directory: str) -> list[str]:
        return sorted(i for i in self.elements[real] if i.split("/")[0] == directory)

    # -- the merged order -----------------------------------------------------

    def merged(self, role: str) -> list[Pair]:
        """Every pair of the set, merged by element name, ties by the order the members were added (SET-1, SET-2)."""
        pairs = [(rank, entry, ident) for rank, entry in enumerate(self.sets[role]) for ident in sorted(self.elements[self.real(entry)])]
        return [(entry, ident) for _, entry, ident in sorted(pairs, key=lambda p: (p[2][-14:], p[0]))]

    def ties(self, pairs: list[Pair]) -> bool:
        names = [ident[-14:] for _, ident in pairs]
        return len(names) != len(set(names))

    # -- iteration -------------------------------------------------------------

    def start(self, role: str) -> Iteration:
        cursors = {}
        for entry in self.sets[role]:
            cursors[self.real(entry)] = Cursor(self.dirs(self.real(entry)), [])
        iteration = Iteration(cursors, list(self.sets[role]), self.merged(role))
        self.iterations[role] = iteration
        return iteration

    def fill(self, real: int, cursor: Cursor) -> None:
        """The member's pending identifier: list the next directories (as they are now) until one has an element."""
        while not cursor.listed and cursor.dirs:
            cursor.listed = self.in_dir(real, cursor.dirs.pop(0))

    def take(self, iteration: Iteration) -> Pair | None:
        best: tuple[str, int, int] | None = None
        for rank, entry in enumerate(iteration.order):
            cursor = iteration.cursors[self.real(entry)]
            self.fill(self.real(entry), cursor)
            if cursor.listed and (best is None or cursor.listed[0][-14:] < best[0]):
                best = (cursor.listed[0][-14:], rank, entry)
        if best is None:
            return None
        entry = best[2]
        return entry, iteration.cursors[self.real(entry)].listed.pop(0)

    def first_step(self, role: str) -> dict[str, Any]:
        iteration = self.start(role)
        return self.pair_step(role, "set_first", iteration, "SET-1")

    def next_step(self, role: str) -> dict[str, Any] | None:
        iteration = self.iterations.get(role)
        if iteration is None:
            return None
        requirement = "SET-5" if iteration.restarted else "SET-1"
        iteration.restarted = False
        return self.pair_step(role, "set_next", iteration, requirement)

    def pair_step(self, role: str, op: str, iteration: Iteration, requirement: str) -> dict[str, Any]:
        for entry in iteration.order:  # every member has its pending identifier (one each: SET-6)
            self.fill(self.real(entry), iteration.cursors[self.real(entry)])
        candidates = [(e, c.listed[0]) for e in iteration.order for c in [iteration.cursors[self.real(e)]] if c.listed]
        pair = self.take(iteration)
        if pair is None:  # the iteration ended: what a change of members does now is open
            self.running.discard(role)
        else:
            self.running.add(role)
        eager = iteration.eager.pop(0) if iteration.eager else None
        if pair != eager and requirement == "SET-1":
            requirement = "SET-6"  # a set that read its members at the start would yield another pair
        elif requirement == "SET-1" and self.ties(candidates):
            requirement = "SET-2"
        return {"op": op, "expect": self.shown(pair) if pair else None, "requirement": requirement}

    def changed(self, real: int, ident: str) -> None:
        """A member gained or lost an element: each iteration over it reads the change later if its directory existed
        at the start and is not reached yet (SET-6, ITER-2), else what it yields next is open from now on."""
        directory = ident.split("/")[0]
        for role, iteration in self.iterations.items():
            if iteration is None or real not in iteration.cursors:
                continue
            cursor = iteration.cursors[real]
            if iteration.restarted or directory not in cursor.dirs or directory <= self.reached(real, cursor, ident):
                self.iterations[role] = None

    def reached(self, real: int, cursor: Cursor, changed: str) -> str:
        """The last directory the member may have listed: the one being read; when its pending identifier was just
        taken, the next one with an element (an implementation may read ahead right after yielding)."""
        if cursor.listed:
            return cursor.listed[0].split("/")[0]
        before = self.elements[real] ^ {changed}  # the member as it was before the change
        return next((d for d in cursor.dirs if any(i.split("/")[0] == d for i in before)), "~")  # "~": past any name

    def add(self, real: int, ident: str) -> None:
        self.elements[real].add(ident)
        self.changed(real, ident)

    def remove(self, real: int, ident: str) -> None:
        self.elements[real].discard(ident)
        self.changed(real, ident)

    # -- membership --------------------------------------------------------------

    def set_add_step(self, role: str, entry: int) -> dict[str, Any]:
        step = {"op": "set_add", "args": {"member": entry}, "requirement": "SET-3"}
        if self.member_of(role, self.real(entry)) is not None:
            self.forget(role)  # what a refused add does to the iteration is open
            return {**step, "error": "invalid_option"}
        self.sets[role].append(entry)
        self.restart(role)
        return {**step, "expect": None}

    def set_remove_step(self, role: str, entry: int) -> dict[str, Any]:
        step = {"op": "set_remove", "args": {"member": entry}, "requirement": "SET-3"}
        held = self.member_of(role, self.real(entry))
        if held is None:
            self.forget(role)
            return {**step, "error": "not_found"}
        self.sets[role].remove(held)
        self.restart(role)
        return {**step, "expect": None}

    def restart(self, role: str) -> None:
        """SET-5: a change of members during an iteration makes the next pair the first of the changed set. Before
        any set_first, after the end (null) and after a list, what the next set_next gives is open."""
        if role in self.running:
            self.start(role).restarted = True
        else:
            self.forget(role)

    def forget(self, role: str) -> None:
        self.running.discard(role)
        if role in self.iterations:
            self.iterations[role] = None

    def count_step(self, role: str) -> dict[str, Any]:
        self.forget(role)  # a count may use the members' own iterations: the set's is open after it
        return {"op": "count", "expect": sum(len(self.elements[self.real(e)]) for e in self.sets[role]), "requirement": "SET-4"}

    def list_step(self, role: str) -> dict[str, Any]:
        self.forget(role)  # PROTOCOL: the iteration after a list of the set is the implementation's
        pairs = self.merged(role)
        return {"op": "list", "expect": [self.shown(p) for p in pairs], "requirement": "SET-2" if self.ties(pairs) else "SET-1"}

    def refine(self, step: dict[str, Any], outcome: Any) -> str:
        return str(step.get("requirement") or "SPEC-1")

    def refine_tree(self, step: dict[str, Any], top: Any) -> str:
        return str(step.get("requirement") or "SPEC-1")
