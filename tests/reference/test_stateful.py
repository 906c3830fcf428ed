"""Stateful property tests: random add/lock/unlock/get/remove/touch/backdate/purge sequences,
done through two queue objects on the same tree, checked against an in-memory model."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dirqref_testutil import backdate
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from dirqref import QueueNormal, QueueSimple
from dirqref.errors import Locked, NotFound, NotLocked

STALE = 1000  # seconds; beyond the default maxtemp (300) and maxlock (600)


@dataclass
class Element:
    data: object
    locked: bool = False
    stale: bool = False  # backdated beyond maxlock since the last lock or touch


class QueueMachine(RuleBasedStateMachine):
    """Model: element id -> Element. Subclasses say how to build a queue and its data."""

    names = Bundle("names")
    payloads: st.SearchStrategy[object]

    def make_queue(self, top: Path) -> QueueSimple | QueueNormal:
        raise NotImplementedError

    def stale_temp(self, top: Path, index: int) -> Path:
        """Leave an interrupted add behind and return its path."""
        raise NotImplementedError

    @initialize()
    def setup(self) -> None:
        self.top = Path(tempfile.mkdtemp(prefix="dirqref-stateful-")) / "q"
        self.queues = [self.make_queue(self.top), self.make_queue(self.top)]
        self.model: dict[str, Element] = {}
        self.temps: list[Path] = []

    def teardown(self) -> None:
        if hasattr(self, "top"):
            shutil.rmtree(self.top.parent)

    def element_path(self, name: str) -> Path:
        return self.top / name

    @rule(target=names, which=st.integers(0, 1), data=st.data())
    def add(self, which, data):
        payload = data.draw(self.payloads)
        name = self.queues[which].add(payload)
        assert name not in self.model
        self.model[name] = Element(payload)
        return name

    @rule(which=st.integers(0, 1), name=names, permissive=st.booleans())
    def lock(self, which, name, permissive):
        element = self.model.get(name)
        queue = self.queues[which]
        if element is None or element.locked:
            if permissive:
                assert queue.lock(name, permissive=True) is False
            else:
                error = NotFound if element is None else Locked
                try:
                    queue.lock(name, permissive=False)
                except error:
                    pass
                else:
                    raise AssertionError(f"lock of {name} should raise {error.__name__}")
        else:
            assert queue.lock(name, permissive=permissive) is True
            element.locked, element.stale = True, False

    @rule(which=st.integers(0, 1), name=names, permissive=st.booleans())
    def unlock(self, which, name, permissive):
        element = self.model.get(name)
        queue = self.queues[which]
        if element is not None and element.locked:
            assert queue.unlock(name, permissive=permissive) is True
            element.locked = False
        elif permissive:
            assert queue.unlock(name, permissive=True) is False
        else:
            self.expect(NotLocked, queue.unlock, name)

    @rule(which=st.integers(0, 1), name=names)
    def get(self, which, name):
        element = self.model.get(name)
        if element is not None and element.locked:
            assert self.queues[which].get(name) == element.data
        else:
            self.expect(NotLocked, self.queues[which].get, name)

    @rule(which=st.integers(0, 1), name=names)
    def remove(self, which, name):
        element = self.model.get(name)
        if element is not None and element.locked:
            self.queues[which].remove(name)
            del self.model[name]
        else:
            self.expect(NotLocked, self.queues[which].remove, name)

    @rule(which=st.integers(0, 1), name=names)
    def touch(self, which, name):
        element = self.model.get(name)
        if element is None:
            self.expect(NotFound, self.queues[which].touch, name)
        else:
            self.queues[which].touch(name)
            element.stale = False

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def backdate(self, data):
        name = data.draw(st.sampled_from(sorted(self.model)))
        backdate(self.element_path(name), STALE)
        self.model[name].stale = True

    @rule()
    def leave_stale_temp(self):
        self.temps.append(self.stale_temp(self.top, len(self.temps)))

    @rule(which=st.integers(0, 1))
    def purge(self, which):
        self.queues[which].purge()
        for element in self.model.values():
            if element.locked and element.stale:
                element.locked = False
        assert not any(temp.exists() for temp in self.temps)

    @staticmethod
    def expect(error, call, *args):
        try:
            call(*args)
        except error:
            return
        raise AssertionError(f"{call.__name__}{args} should raise {error.__name__}")

    @invariant()
    def iteration_and_count_match_the_model(self):
        if not hasattr(self, "queues"):
            return
        for queue in self.queues:
            assert list(queue) == sorted(self.model)
            assert queue.count() == len(self.model)

    @invariant()
    def lock_state_matches_the_model(self):
        if not hasattr(self, "queues"):
            return
        for name, element in self.model.items():
            assert self.is_locked_on_disk(name) == element.locked, name

    def is_locked_on_disk(self, name: str) -> bool:
        raise NotImplementedError


class SimpleMachine(QueueMachine):
    payloads = st.binary(max_size=64)

    def make_queue(self, top):
        return QueueSimple(top, granularity=1)

    def stale_temp(self, top, index):
        directory = next(top.iterdir(), None) or top / "00000000"
        directory.mkdir(exist_ok=True)
        temp = directory / f"{index:014x}.tmp"
        temp.write_bytes(b"partial")
        backdate(temp, STALE)
        return temp

    def is_locked_on_disk(self, name):
        return os.path.lexists(self.top / (name + ".lck"))


class NormalMachine(QueueMachine):
    payloads = st.fixed_dictionaries(
        {"body": st.text(max_size=16)},
        optional={
            "header": st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=3),
            "data": st.binary(max_size=16),
        },
    )

    def make_queue(self, top):
        return QueueNormal(top, {"body": "string", "header": "table?", "data": "binary?"}, maxelts=3)

    def stale_temp(self, top, index):
        temp = top / "temporary" / f"{index:014x}"
        temp.mkdir()
        (temp / "body").write_bytes(b"partial")
        backdate(temp, STALE)
        return temp

    def is_locked_on_disk(self, name):
        return os.path.isdir(self.top / name / "locked")


TestSimpleQueue = SimpleMachine.TestCase
TestSimpleQueue.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
TestNormalQueue = NormalMachine.TestCase
TestNormalQueue.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
