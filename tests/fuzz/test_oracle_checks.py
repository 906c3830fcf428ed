"""The fuzzer's checks of foreign entries, links, modes, names, refused opens, rewritten tables and list order:
each holds for the reference and fails, citing its requirement, on a planted violation.

The reference plays every role in this process; the steps and tree checks are the ones the oracle gives
the state machine, run through the suite's engine as the fuzzer runs them.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest
from scenario_testutil import InProcessActor

from dirqkit.drivers.client import OpError
from dirqkit.fuzz.oracle import FOREIGN_TEXT, Element, LINK_TARGET_AGE, LINK_TARGET_TEXT, Model, Planted
from dirqkit.suite.caseload import Case
from dirqkit.suite.engine import CaseFailed, Engine


class Harness:
    """One queue opened by the reference as role ``a``, and the oracle's model of it."""

    def __init__(self, tmp_path: Path, queue: dict[str, Any], actor: Any = None) -> None:
        case = Case(id="t", title="t", requirements=("SPEC-1",), queue=queue, roles={"a": "consumer"}, steps=(),
                    group="fuzz", where="test")
        self.engine = Engine(case, {"a": actor or InProcessActor()}, tmp_path / "queue", tmp_path / "work")
        self.engine.run.work.mkdir(parents=True)
        self.engine.open_queues()
        self.model = Model(queue["type"], self.engine.run.bindings, queue.get("schema", {}), options=queue.get("options", {}))
        self.top, self.work = self.engine.run.top, self.engine.run.work

    def op(self, step: dict[str, Any]) -> None:
        """Run an op step; a failure is re-raised citing what the fuzzer would cite (the oracle's refinement)."""
        try:
            self.engine.run_step(0, {"role": "a", **step})
        except CaseFailed as failed:
            raise CaseFailed(0, self.model.refine(step, self.engine.last), failed.message) from None

    def checks(self, checks: list[tuple[str, dict[str, Any]]]) -> None:
        for requirement, expectation in checks:
            self.engine.run_step(0, {"tree": expectation, "requirement": requirement})

    def add(self, var: str, data: Any) -> Any:
        self.op(self.model.add_step(var, data))
        element, made = self.model.added(var, data)
        self.checks(self.model.layout_checks(element, made))
        return element

    def fs(self, action: dict[str, Any]) -> None:
        self.engine.run_step(0, {"fs": action})


def fails(requirement: str, run: Any, *args: Any) -> None:
    with pytest.raises(CaseFailed) as failed:
        run(*args)
    assert failed.value.requirement == requirement, failed.value.message


@pytest.fixture
def simple(tmp_path: Path) -> Harness:
    return Harness(tmp_path, {"type": "simple"})


def test_a_foreign_file_purge_rewrites_or_removes_breaks_common_2(simple):
    element = simple.add("e1", b"x")
    path = f"${{e1:dir}}/{0xfeed0001:014x}.bak"
    simple.fs({"write": path, "text": FOREIGN_TEXT})
    simple.fs({"backdate": [path], "seconds": 172800})
    simple.model.planted.append(Planted(path, "foreign", simple.model.dir_of(element), 172800))
    simple.op(simple.model.purge_step(0, 3600))
    simple.checks(simple.model.purged(0, 3600))  # the reference leaves it as it was
    simple.fs({"write": path, "text": "changed"})
    fails("COMMON-2", simple.checks, simple.model.purged(0, 3600))
    simple.fs({"remove": path})
    fails("COMMON-2", simple.checks, simple.model.purged(0, 3600))


def plant_link_temp(harness: Harness, age: int) -> str:
    harness.fs({"write": "WORK/target", "text": LINK_TARGET_TEXT})
    harness.fs({"backdate": ["WORK/target"], "seconds": LINK_TARGET_AGE})
    harness.model.link_target = True
    path = f"${{e1:dir}}/{0xfeed0002:014x}.tmp"
    harness.fs({"symlink": path, "target": "$WORK/target"})
    if age:
        harness.fs({"backdate": [path], "seconds": age})
    harness.model.planted.append(Planted(path, "temp", harness.model.dir_of(harness.model.elements[0]), age, link=True))
    return path


def test_a_link_named_like_a_temp_is_judged_by_its_own_age(simple):
    simple.add("e1", b"x")
    path = plant_link_temp(simple, 0)
    simple.op(simple.model.purge_step(86400, 0))
    checks = simple.model.purged(86400, 0) + simple.model.link_targets()
    assert ("SEC-1", {"present": [path]}) in checks  # young itself, old through its target
    simple.checks(checks)
    simple.fs({"remove": path})  # what a purge that took the target's age would have done
    fails("SEC-1", simple.checks, checks)


def test_a_link_target_that_changed_breaks_sec_1(simple):
    simple.add("e1", b"x")
    plant_link_temp(simple, 3600)
    simple.checks(simple.model.link_targets())
    simple.fs({"write": "WORK/target", "text": "written through a link"})
    fails("SEC-1", simple.checks, simple.model.link_targets())


def test_get_through_a_lock_that_is_a_link_breaks_sec_1(simple):
    element = simple.add("e1", b"inside")
    simple.op(simple.model.lock_step(element, None))
    simple.checks(simple.model.locked(element))
    simple.fs({"write": "WORK/target", "text": LINK_TARGET_TEXT})
    simple.fs({"remove": "$e1.lck"})
    simple.fs({"symlink": "$e1.lck", "target": "$WORK/target"})
    element.lock_swap = "link"
    simple.op(simple.model.get_step(element))  # the reference refuses to read through it
    simple.fs({"remove": "$e1.lck"})
    simple.fs({"write": "$e1.lck", "text": "read"})  # a get that reads the lock as a file: what following does
    fails("SEC-1", simple.op, simple.model.get_step(element))


def process_umask() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


@pytest.mark.parametrize("queue, requirement", [({"type": "simple", "options": {"umask": 0o027}}, "COMMON-3"),
                                                ({"type": "normal", "schema": {"body": "string"}, "options": {"umask": 0o002}}, "COMMON-3"),
                                                ({"type": "simple"}, "COMMON-4")])
def test_modes_under_the_umask_option_or_the_process_umask_and_a_wrong_one(queue, requirement, tmp_path):
    harness = Harness(tmp_path, queue)
    harness.model.process_umask = process_umask()  # the in-process reference runs under this test's umask
    data = b"x" if queue["type"] == "simple" else {"body": {"type": "string", "value": "x"}}
    element = harness.add("e1", data)  # the reference gives the modes the umask says (checked in layout_checks)
    checks = harness.model.modes(element, made=True)
    assert checks and checks[0][0] == requirement
    os.chmod(harness.top / harness.model.ident(element), 0o751 if queue["type"] == "simple" else 0o701)
    fails(requirement, harness.checks, checks)


def test_simple_names_follow_granularity_and_rndhex(tmp_path):
    harness = Harness(tmp_path, {"type": "simple", "options": {"granularity": 256, "rndhex": 9}})
    harness.add("e1", b"x")
    assert harness.model.ident(harness.model.elements[0]).endswith("9")
    assert harness.model.dir_of(harness.model.elements[0]).endswith("00")
    step = harness.model.add_step("e2", b"y")
    # what a producer that ignores the granularity, or the rndhex, returns
    assert harness.model.refine(step, "70dbd89e/70dbd89e000019") == "SIMPLE-DIR-1"
    assert harness.model.refine(step, "70dbd800/70dbd89e000013") == "NAME-4"
    assert harness.model.refine(step, "70dbd800/not-a-name") == "SIMPLE-ADD-5"


class Accepting(InProcessActor):
    """The reference, except that it opens a queue with any options and schema (drops what it would refuse)."""

    def call(self, op: str, args: dict[str, Any]) -> Any:
        if op == "open":
            args = {**args, "options": {}, "schema": {"body": "string"}} if "schema" in args else {**args, "options": {}}
        return super().call(op, args)


@pytest.mark.parametrize("requirement, options, schema", [("NAME-5", {"rndhex": 16}, None), ("COMMON-3", {"umask": 512}, None),
                                                          ("COMMON-8", {"maxlock": -300}, None),
                                                          ("SCHEMA-1", None, {"body": "string", "locked": "string?"})])
def test_an_open_the_implementation_must_refuse(requirement, options, schema, tmp_path):
    queue = {"type": "normal", "schema": {"body": "string"}}
    step = Model("normal", {}).invalid_open_step(requirement, options, schema)
    Harness(tmp_path / "ref", queue).op(step)
    fails(requirement, Harness(tmp_path / "accepting", queue, Accepting()).op, step)


@pytest.fixture
def normal(tmp_path: Path) -> Harness:
    return Harness(tmp_path, {"type": "normal", "schema": {"body": "string", "header": "table"}})


@pytest.mark.parametrize("content, table, requirement", [(b"k\t1\nk\t2\n", {"k": "2"}, "TABLE-8"), (b"k\tv\tw\n", None, "TABLE-5")])
def test_a_rewritten_table_reads_as_table_5_and_table_8_say(normal, content, table, requirement):
    data = {"body": {"type": "string", "value": "b"}, "header": {"type": "table", "value": {"k": "0"}}}
    element = normal.add("e1", data)
    normal.op(normal.model.lock_step(element, None))
    normal.checks(normal.model.locked(element))
    normal.fs({"write": "$e1/header", "base64": base64.b64encode(content).decode()})
    element.data = {**data, "header": {"type": "table", "value": table}}
    element.unreadable, element.get_requirement = (("invalid_data", requirement) if table is None else None), requirement
    normal.op(normal.model.get_step(element))  # the reference reads it as the spec says
    normal.fs({"write": "$e1/header", "text": "k\t1\n"})  # a reader that took another line than the spec's
    fails(requirement, normal.op, normal.model.get_step(element))


def test_names_that_decrease_show_in_the_producers_own_list_name_7(simple):
    for number in range(1, 4):
        simple.add(f"e{number}", b"%d" % number)
    first, second, third = simple.model.elements
    assert simple.model.name_order_step(second, third) is None  # increasing: nothing to show
    simple.op(simple.model.list_step())
    simple.model.elements.reverse()  # as if the names had decreased in add order
    step = simple.model.name_order_step(second, first)
    assert step is not None and step["requirement"] == "NAME-7"
    fails("NAME-7", simple.op, step)


@pytest.mark.parametrize("queue_type, young, old", [("simple", "SIMPLE-PURGE-4", "SIMPLE-PURGE-1"),
                                                    ("normal", "NORMAL-PURGE-3", "NORMAL-PURGE-1")])
def test_a_temp_set_just_now_is_young_under_any_default(queue_type, young, old):
    model = Model(queue_type, {})
    model.planted += [Planted("t/young", "temp", None, 0), Planted("t/old", "temp", None, 3600)]
    checks = {expectation["present" if "present" in expectation else "absent"][0]: requirement
              for requirement, expectation in model.purged(None, None)}
    assert checks == {"t/young": young, "t/old": old}


def test_get_through_a_lock_that_is_a_fifo_breaks_sec_6(simple):
    element = simple.add("e1", b"inside")
    simple.op(simple.model.lock_step(element, None))
    simple.model.locked(element)
    simple.fs({"remove": "$e1.lck"})
    simple.fs({"fifo": "$e1.lck"})  # fed by the kit: a reader that opens it gets data, not a hang
    element.lock_swap = "fifo"
    try:
        simple.op(simple.model.get_step(element))  # the reference does not read it
    finally:
        for feeder in simple.engine.feeders:
            feeder.stop()
    simple.fs({"remove": "$e1.lck"})
    simple.fs({"write": "$e1.lck", "text": "read"})  # what a get that reads whatever E.lck is returns
    fails("SEC-6", simple.op, simple.model.get_step(element))


def test_get_of_a_field_that_is_a_fifo_breaks_sec_6(normal):
    element = normal.add("e1", {"body": {"type": "string", "value": "b"}, "header": {"type": "table", "value": {}}})
    normal.op(normal.model.lock_step(element, None))
    normal.model.locked(element)
    normal.fs({"remove": "$e1/body"})
    normal.fs({"fifo": "$e1/body"})
    element.unreadable = ("invalid_data", "SEC-6")
    try:
        normal.op(normal.model.get_step(element))  # the reference refuses it: invalid_data
    finally:
        for feeder in normal.engine.feeders:
            feeder.stop()
    normal.fs({"remove": "$e1/body"})
    normal.fs({"write": "$e1/body", "text": "read"})
    fails("SEC-6", normal.op, normal.model.get_step(element))


def test_a_foreign_subdirectory_does_not_lock_an_element_nfs_3(normal):
    element = normal.add("e1", {"body": {"type": "string", "value": "b"}, "header": {"type": "table", "value": {}}})
    normal.fs({"mkdir": "$e1/extra"})
    element.subdir = True
    normal.op(normal.model.get_step(element))  # the reference: not locked
    normal.op(normal.model.remove_step(element))
    normal.fs({"mkdir": "$e1/locked"})  # what a get and remove that take the link count for a lock see
    fails("NFS-3", normal.op, normal.model.get_step(element))
    fails("NFS-3", normal.op, normal.model.remove_step(element))


@pytest.mark.parametrize("age, requirement", [(172800, "NORMAL-PURGE-6"), (0, "NORMAL-PURGE-3")])
def test_a_purge_that_fails_on_a_temporary_entry_holding_a_foreign_file(age, requirement):
    model = Model("normal", {})
    model.planted.append(Planted("temporary/t", "temp", None, age, inner="temporary/t/notes.txt"))
    failed = OpError("io", "cannot rmdir temporary/t: Directory not empty")
    assert model.refine(model.purge_step(86400, None), failed) == requirement
    assert Model("normal", {}).refine(model.purge_step(86400, None), failed) == "NORMAL-PURGE-1"  # nothing held it


def test_a_string_with_a_lone_surrogate_is_refused_normal_field_2(normal):
    step = normal.model.unencodable_add_step({"body": {"type": "string", "value": "a\ud800b"},
                                              "header": {"type": "table", "value": {}}})
    normal.op(step)  # the reference refuses it, and leaves nothing behind
    normal.checks(normal.model.refused_add())
    normal.fs({"mkdir": "temporary/00000000000001"})  # what an add that made its temporary directory first leaves
    fails("NORMAL-ADD-1", normal.checks, normal.model.refused_add())
    accepting = {**step, "args": {"data": {"body": {"type": "string", "value": "ab"}, "header": {"type": "table", "value": {}}}}}
    fails("NORMAL-FIELD-2", normal.op, accepting)  # what an add that wrote some bytes for it looks like


def test_touch_of_a_link_sets_the_links_own_time(simple):
    simple.add("e1", b"x")
    simple.fs({"write": "WORK/target", "text": LINK_TARGET_TEXT})
    path = f"${{e1:dir}}/{0xfeed0003:014x}"
    simple.fs({"symlink": path, "target": "$WORK/target"})
    simple.fs({"backdate": [path], "seconds": 3600})
    link = Planted(path, "symlink", simple.model.dir_of(simple.model.elements[0]), 3600, link=True)
    simple.model.planted.append(link)
    simple.op(simple.model.touch_link_step(link))  # the reference sets the link's time
    checks = simple.model.link_touched(link)
    simple.checks(checks)
    simple.fs({"backdate": [path], "seconds": 3600})  # a touch that set the target's time instead left the link old
    fails("SIMPLE-TOUCH-1", simple.checks, checks)


def test_get_of_a_field_that_is_a_link_breaks_sec_1(normal):
    element = normal.add("e1", {"body": {"type": "string", "value": "b"}, "header": {"type": "table", "value": {}}})
    normal.op(normal.model.lock_step(element, None))
    normal.model.locked(element)
    normal.fs({"write": "WORK/target/body", "text": LINK_TARGET_TEXT})
    normal.model.link_target = True
    normal.fs({"remove": "$e1/body"})
    normal.fs({"symlink": "$e1/body", "target": "$WORK/target/body"})
    element.unreadable = ("any", "SEC-1")
    normal.op(normal.model.get_step(element))  # the reference does not read through it
    normal.checks(normal.model.link_targets())
    normal.fs({"remove": "$e1/body"})
    normal.fs({"write": "$e1/body", "text": LINK_TARGET_TEXT})  # what a get that follows the link returns
    fails("SEC-1", normal.op, normal.model.get_step(element))


def test_a_purge_that_fails_on_an_old_directory_foreign_entries_keep():
    model = Model("normal", {"e1": "00000001/00000001000001"})
    model.dirs.update({"00000000": True, "00000001": True})
    model.elements.append(Element("e1", {}))
    model.planted.append(Planted("00000000/notes", "foreign", "00000000"))
    failed = OpError("io", "cannot rmdir(00000000): Directory not empty")
    assert model.refine(model.purge_step(None, None), failed) == "NORMAL-PURGE-2"


def test_an_add_into_a_directory_full_of_foreign_entries_breaks_normal_dir_2():
    model = Model("normal", {"e1": "00000000/00000001000001"}, {"body": "string"}, maxelts=2)
    model.dirs["00000000"] = True
    model.elements.append(Element("e1", {}))
    model.planted.append(Planted("00000000/notes", "foreign", "00000000"))
    step = model.add_step("e2", {"body": {"type": "string", "value": "x"}})
    assert step["expect"]["match"].startswith("00000001/")  # two entries: full
    assert model.refine(step, "00000000/00000002000001") == "NORMAL-DIR-2"  # counted by link count: one entry
    assert model.refine(step, "00000005/00000002000001") == "NORMAL-DIR-1"


class RemakingTop(InProcessActor):
    """The reference, except that an add first makes TOP again when it is missing (what mkdir -p does)."""

    def __init__(self, top: Path, normal: bool) -> None:
        super().__init__()
        self.top, self.normal = top, normal

    def call(self, op: str, args: dict[str, Any]) -> Any:
        if op == "add" and not self.top.exists():
            (self.top / "temporary" if self.normal else self.top).mkdir(parents=True)
        return super().call(op, args)


@pytest.mark.parametrize("queue, data, requirement", [
    ({"type": "simple"}, b"x", "DIR-3"),
    ({"type": "normal", "schema": {"body": "string"}}, {"body": {"type": "string", "value": ""}}, "ITER-6")])
def test_an_add_while_top_is_gone_fails_and_does_not_make_top_again(queue, data, requirement, tmp_path):
    for remake in (False, True):
        top = tmp_path / f"{remake}" / "queue"
        actor = RemakingTop(top, queue["type"] == "normal") if remake else None
        harness = Harness(tmp_path / f"{remake}", queue, actor)
        if queue["type"] == "normal":
            harness.add("e1", data)
        harness.fs({"rename": ".", "to": "WORK/top-away"})
        step = harness.model.add_without_top(data)
        assert step["requirement"] == requirement
        if remake:
            fails(requirement, harness.op, step)
            continue
        harness.op(step)  # the reference fails, and TOP stays away
        harness.checks(harness.model.top_lost())
        harness.fs({"rename": "WORK/top-away", "to": "."})
        harness.op(harness.model.count_step())  # the queue goes on where it was
        harness.fs({"mkdir": "."})  # a TOP made again, as an add that made it would leave it (empty: the check sees it)
    assert (tmp_path / "True" / "queue").is_dir()


class DirectoriesNewestFirst(InProcessActor):
    """The reference, except that list visits intermediate directories newest first once ``broken``."""

    broken = False

    def call(self, op: str, args: dict[str, Any]) -> Any:
        result = super().call(op, args)
        if op == "list" and self.broken:
            return sorted(result, key=lambda ident: (-int(ident[:8], 16), ident[9:]))
        return result


@pytest.mark.parametrize("queue, data", [({"type": "simple"}, b"x"),
                                         ({"type": "normal", "schema": {"body": "string", "note": "binary?"}},
                                          {"body": {"type": "string", "value": "b"}})])
def test_an_element_in_an_older_directory_is_listed_first_and_counted_iter_1(queue, data, tmp_path):
    actor = DirectoriesNewestFirst()
    harness = Harness(tmp_path, queue, actor)
    harness.add("e1", data)
    if queue["type"] == "normal":  # a second directory above the first: the element goes into the least one
        harness.fs({"mkdir": "00000001"})
        harness.model.dirs["00000001"] = True
        harness.add("e2", data)
    older = "00000001" if queue["type"] == "simple" else "00000000"
    planted, files = harness.model.planted_element(older, f"{0xfeed0001:014x}")
    assert list(files) == ([planted.path] if queue["type"] == "simple" else [f"{planted.path}/body"])
    for path, content in files.items():
        harness.fs({"write": path, **content})
    step = harness.model.list_step()
    assert step["expect"][0] == planted.path
    harness.op(step)
    harness.op(harness.model.count_step())
    harness.op(harness.model.purge_step(None, None))
    harness.checks(harness.model.purged(None, None))  # an element, not a foreign entry: purge keeps it
    actor.broken = True
    fails("ITER-1", harness.op, step)


def test_a_count_wrong_beyond_the_wrong_type_entries_is_the_count_requirement(simple):
    simple.add("e1", b"x")
    simple.model.planted.append(Planted(f"${{e1:dir}}/{0xfeed0001:014x}", "wrongtype", simple.model.dir_of(simple.model.elements[0])))
    step = simple.model.count_step()
    assert simple.model.refine(step, 2) == "ITER-4"  # the wrong-type entry counted: that alone
    assert simple.model.refine(step, 3) == "SIMPLE-COUNT-1"  # more than it explains
    assert simple.model.refine(step, 0) == "SIMPLE-COUNT-1"


def test_a_purge_that_fails_on_a_young_temporary_entry_breaks_normal_purge_3():
    model = Model("normal", {}, {"body": "string"})
    model.planted.append(Planted("temporary/000000feed0001", "temp", None, 0))
    failed = OpError("io", "cannot rmdir(/q/temporary/000000feed0001): Directory not empty")
    assert model.refine(model.purge_step(None, None), failed) == "NORMAL-PURGE-3"
    model.planted[0].age = 3600  # stale: its removal was due, the failure is the purge's own
    assert model.refine(model.purge_step(None, None), failed) == "NORMAL-PURGE-1"


def test_an_add_past_a_directory_of_files_only_breaks_normal_dir_2():
    model = Model("normal", {}, {"body": "string"})
    model.dirs["00000001"] = True
    model.planted.append(Planted(f"00000001/{0xfeed0001:014x}", "symlink", "00000001", link=True))
    step = model.add_step("e1", {"body": {"type": "string", "value": ""}})
    assert step["expect"]["match"].startswith("00000001/")
    assert model.refine(step, "00000002/00000002000001") == "NORMAL-DIR-2"  # a link count sees no entry, and skips it
    model.planted.append(Planted("00000001/backup", "foreign", "00000001", dir_entry=True))
    assert model.refine(step, "00000002/00000002000001") == "NORMAL-DIR-1"  # a directory in it: a link count sees it too


class LockTimeOfLinks(InProcessActor):
    """The reference, except that lock of a symbolic link sets the lock time through it, as utime(2) does
    (``follow``), or not at all."""

    def __init__(self, top: Path, follow: bool) -> None:
        self.top, self.follow = top, follow  # before the hello the reference's __init__ sends
        super().__init__()

    def call(self, op: str, args: dict[str, Any]) -> Any:
        path = self.top / str(args.get("name", ""))
        before = os.lstat(path).st_mtime if op == "lock" and path.is_symlink() else None
        result = super().call(op, args)
        if before is not None and result is True:
            os.utime(path, (before, before), follow_symlinks=False)  # the link keeps its own time ...
            if self.follow:
                os.utime(path)  # ... and its target gets the lock time
        return result


@pytest.mark.parametrize("lock_time, requirement", [(None, None), ("follows", "SEC-1"), ("unset", "SIMPLE-LOCK-3")])
def test_a_lock_of_a_link_sets_the_links_own_time_sec_1(lock_time, requirement, tmp_path):
    actor = LockTimeOfLinks(tmp_path / "queue", lock_time == "follows") if lock_time else None
    simple = Harness(tmp_path, {"type": "simple"}, actor)
    simple.add("e1", b"x")
    simple.fs({"write": "WORK/target", "text": LINK_TARGET_TEXT})
    simple.fs({"backdate": ["WORK/target"], "seconds": LINK_TARGET_AGE})  # as the fuzzer plants it
    path = f"${{e1:dir}}/{0xfeed0003:014x}"
    simple.fs({"symlink": path, "target": "$WORK/target"})
    simple.fs({"backdate": [path], "seconds": 3600})
    link = Planted(path, "symlink", simple.model.dir_of(simple.model.elements[0]), 3600, link=True)
    simple.model.planted.append(link)
    simple.op(simple.model.lock_link_step(link))  # link(2) does not follow: the lock is the link's
    checks = simple.model.link_locked(link)
    if requirement:
        fails(requirement, simple.checks, checks)
    else:
        simple.checks(checks)
        simple.fs({"remove": f"{path}.lck"})
        simple.op(simple.model.list_step())  # neither the link nor its lock is an element
