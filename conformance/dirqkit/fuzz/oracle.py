"""What SPEC.md allows after each generated step: a model of the queue, and the checks it implies.

The model knows every element the fuzzer added (by binding name: ``$e3``,
whatever name the implementation gave it), whether it is present and
locked, how old the kit made its lock time, and what the kit planted in the
tree. From it come, for each op, the step a case would hold (``expect`` or
``error``, citing the requirement) and, after it, the ``tree`` checks that
must hold on disk, each citing its own requirement. Ages are discrete (just
set, or backdated by an hour or two days) against limits of 0, 30 minutes
or a day, so staleness never depends on how long a step took.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dirqref.table import serialize

ELEMENT_ID = "[0-9a-f]{8}/[0-9a-f]{14}"
BACKDATES = (3600, 172800)  # the ages the kit gives lock times and temps
LIMITS = (0, 1800, 86400)  # maxtemp / maxlock values a purge gets (0: that class is not purged)
DEFAULT_LIMITS = {"maxtemp": 300, "maxlock": 600}  # COMMON-8
PLANTED_OLD_DIR = "00000001"  # an intermediate directory older than any a producer makes now
# Granularities whose multiples a pattern can state: the last one or two hex digits of the directory are 0
GRANULARITY_DIGITS = {16: 1, 256: 2}
# Options an implementation must refuse with invalid_option, and the requirement that says so
INVALID_OPTIONS = (("NAME-5", {"rndhex": 16}), ("NAME-5", {"rndhex": -1}), ("COMMON-3", {"umask": 512}),
                   ("COMMON-3", {"umask": -1}), ("COMMON-8", {"maxtemp": -1}), ("COMMON-8", {"maxlock": -300}))
SIMPLE_INVALID_OPTIONS = (("SIMPLE-DIR-2", {"granularity": -60}),)
# SCHEMA-1: field names are ASCII letters and digits, never "locked"
INVALID_FIELD_NAMES = ("locked", "a-b", "a_b", "é")
FOREIGN_TEXT = "not the queue's"
LINK_TARGET_TEXT = "outside the queue"
LINK_TARGET_AGE = BACKDATES[-1]  # the kit backdates the target of the links it plants by this much


def literal(data: bytes) -> dict[str, str]:
    """A case data literal: text when it is plain printable ASCII (and no $, which a case substitutes), else base64."""
    if all(32 <= b < 127 for b in data) and b"$" not in data:
        return {"text": data.decode("ascii")}
    return {"base64": base64.b64encode(data).decode("ascii")}


@dataclass
class Element:
    var: str  # the binding of the add's result
    data: Any  # Simple: bytes; Normal: typed fields, as get returns them
    present: bool = True
    locked: bool = False
    age: int = 0  # how far the kit backdated the lock time (0: set just now)
    lock_swap: str | None = None  # Simple: what the kit put in place of E.lck: a "link" out of the queue or a "fifo"
    get_requirement: str | None = None  # Normal: the kit rewrote a table field; what its get rests on
    unreadable: tuple[str, str] | None = None  # Normal: the error get must fail with, and why (a field the kit spoilt)
    subdir: bool = False  # Normal: the kit made a foreign subdirectory in the element (no lock for all that: NFS-3)


@dataclass
class Planted:
    path: str  # case path, may use ${eN:dir}
    kind: str  # temp, foreign, symlink, wrongtype, element (well-formed, written by the kit: its path is its identifier)
    directory: str | None  # actual intermediate directory it lies in (None: elsewhere)
    age: int = 0
    present: bool = True
    inner: str | None = None  # Normal temp: a foreign file planted inside it
    link: bool = False  # a symbolic link out of the queue (its target is older than itself: ages come from lstat)
    dir_entry: bool = False  # a directory, not a file


def stale(age: int, limit: int) -> bool:
    """COMMON-5 with discrete ages: a limit of 0 purges nothing of that class."""
    return limit != 0 and age > limit


@dataclass
class Model:
    queue_type: str
    bindings: dict[str, Any]  # the engine's: $eN -> the identifier the implementation returned
    schema: dict[str, str] = field(default_factory=dict)
    maxelts: int = 16000
    elements: list[Element] = field(default_factory=list)
    planted: list[Planted] = field(default_factory=list)
    dirs: dict[str, bool] = field(default_factory=dict)  # actual intermediate directory -> exists
    options: dict[str, int] = field(default_factory=dict)  # the queue's options (granularity, rndhex, umask)
    process_umask: int | None = None  # the drivers' process umask, when the kit set it
    link_target: bool = False  # the kit made the file out of the queue that the links it plants point to

    # -- names ----------------------------------------------------------

    @property
    def simple(self) -> bool:
        return self.queue_type == "simple"

    def ident(self, element: Element) -> str:
        return str(self.bindings[element.var])

    def dir_of(self, element: Element) -> str:
        return self.ident(element).split("/", 1)[0]

    def dir_ref(self, directory: str) -> str:
        """How a case names an intermediate directory: through the first element in it, else literally."""
        for element in self.elements:
            if self.dir_of(element) == directory:
                return f"${{{element.var}:dir}}"
        return directory

    def live(self) -> list[Element]:
        return [e for e in self.elements if e.present]

    def elements_in(self, directory: str) -> int:
        return sum(1 for ident, _ in self.listed() if ident.split("/", 1)[0] == directory)

    def entries(self, directory: str) -> int:
        """What readdir of an intermediate directory shows besides . and .. (NORMAL-DIR-2)."""
        return (sum(1 for e in self.live() if self.dir_of(e) == directory)
                + sum(1 for p in self.planted if p.present and p.directory == directory))

    def listed(self) -> list[tuple[str, str]]:
        """What iteration and count must see: (identifier, how a case names it) of every element, the fuzzer's and
        those the kit wrote in the format, in ITER-1 order."""
        own = [(self.ident(e), f"${e.var}") for e in self.live()]
        return sorted(own + [(p.path, p.path) for p in self.planted if p.present and p.kind == "element"])

    def planted_element(self, directory: str, name: str) -> tuple[Planted, dict[str, dict[str, Any]]]:
        """An element the kit writes in the format into ``directory``, as a producer with a slower clock would have
        made it (Simple) or as one that added into an older directory (Normal): the planted entry, and its files
        (Simple: the element file itself; Normal: one per mandatory field) as case data literals."""
        path = f"{directory}/{name}"
        if self.simple:
            files = {path: {"text": "planted"}}
        else:
            values = {"string": b"planted", "binary": b"\x00planted", "table": serialize({"k": "planted"})}
            files = {f"{path}/{field}": literal(values[kind]) for field, kind in self.schema.items() if not kind.endswith("?")}
        planted = Planted(path, "element", directory)
        self.planted.append(planted)
        self.dirs[directory] = True
        return planted, files

    def existing_dirs(self) -> list[str]:
        return sorted(d for d, exists in self.dirs.items() if exists)

    # -- ops: the step a case holds ---------------------------------------

    def name_pattern(self) -> str:
        """NAME-4: with the rndhex option, the last digit of every name is that digit."""
        rndhex = self.options.get("rndhex")
        return "[0-9a-f]{14}" if rndhex is None else f"[0-9a-f]{{13}}{rndhex:x}"

    def add_step(self, var: str, data: Any) -> dict[str, Any]:
        if self.simple:  # SIMPLE-DIR-1: the directory is a multiple of the granularity
            zeros = GRANULARITY_DIGITS.get(self.options.get("granularity", 60), 0)
            directory = f"[0-9a-f]{{{8 - zeros}}}{'0' * zeros}"
            return {"op": "add", "args": {"data": literal(data)}, "bind": var,
                    "expect": {"match": f"{directory}/{self.name_pattern()}"}, "requirement": "SIMPLE-ADD-5"}
        target, requirement = self.insertion_dir()
        return {"op": "add", "args": {"data": data}, "bind": var,
                "expect": {"match": f"{target}/{self.name_pattern()}"}, "requirement": requirement}

    def unencodable_add_step(self, data: dict[str, Any]) -> dict[str, Any]:
        """NORMAL-FIELD-2: a string with no UTF-8 encoding (a lone surrogate) is refused with invalid_data."""
        return {"op": "add", "args": {"data": data}, "error": "invalid_data", "requirement": "NORMAL-FIELD-2"}

    def refused_add(self) -> list[tuple[str, dict[str, Any]]]:
        """NORMAL-ADD-1: an add refused for its data made no change: no temporary/ entry besides the kit's."""
        return [("NORMAL-ADD-1", {"count": {"temporary/*": sum(1 for p in self.planted if p.present and p.kind == "temp")}})]

    def invalid_open_step(self, requirement: str, options: dict[str, int] | None = None,
                          schema: dict[str, str] | None = None) -> dict[str, Any]:
        """An open the implementation must refuse: an option out of range, or a schema with a bad field name."""
        if schema is not None:
            return {"op": "open", "args": {"schema": schema}, "error": "invalid_schema", "requirement": requirement}
        return {"op": "open", "args": {"options": options}, "error": "invalid_option", "requirement": requirement}

    def insertion_dir(self) -> tuple[str, str]:
        """NORMAL-DIR-1: the greatest directory while it has room, else the next; an empty one is used (NORMAL-DIR-4)."""
        dirs = self.existing_dirs()
        if not dirs:
            return "00000000", "NORMAL-DIR-1"
        greatest = dirs[-1]
        entries = self.entries(greatest)
        if entries == 0:
            return greatest, "NORMAL-DIR-4"
        return (greatest if entries < self.maxelts else f"{int(greatest, 16) + 1:08x}"), "NORMAL-DIR-1"

    def added(self, var: str, data: Any) -> tuple[Element, bool]:
        """The element just added, and whether its add made its intermediate directory."""
        element = Element(var, data)
        self.elements.append(element)
        made = not self.dirs.get(self.dir_of(element))
        self.dirs[self.dir_of(element)] = True
        return element, made

    def req(self, simple: str, normal: str) -> str:
        return simple if self.simple else normal

    def lock_step(self, element: Element, permissive: bool | None) -> dict[str, Any]:
        args: dict[str, Any] = {"name": f"${element.var}"}
        if permissive is not None:
            args["permissive"] = permissive
        step = {"op": "lock", "args": args}
        if element.present and not element.locked:
            return {**step, "expect": True, "requirement": self.req("SIMPLE-LOCK-1", "NORMAL-LOCK-1")}
        requirement = self.req("SIMPLE-LOCK-2", "NORMAL-LOCK-1")
        if permissive is False:
            return {**step, "error": "locked" if element.present else "not_found", "message": [f"${{{element.var}:elt}}"],
                    "requirement": requirement}
        return {**step, "expect": False, "requirement": requirement}

    def unlock_step(self, element: Element, permissive: bool | None) -> dict[str, Any]:
        args: dict[str, Any] = {"name": f"${element.var}"}
        if permissive is not None:
            args["permissive"] = permissive
        requirement = self.req("SIMPLE-UNLOCK-1", "NORMAL-UNLOCK-1")
        if element.present and element.locked:
            return {"op": "unlock", "args": args, "expect": True, "requirement": requirement}
        if permissive:
            return {"op": "unlock", "args": args, "expect": False, "requirement": requirement}
        return {"op": "unlock", "args": args, "error": "not_locked", "message": [f"${{{element.var}:elt}}"], "requirement": requirement}

    def touch_step(self, element: Element) -> dict[str, Any]:
        step = {"op": "touch", "args": {"name": f"${element.var}"}, "requirement": self.req("SIMPLE-TOUCH-1", "NORMAL-TOUCH-1")}
        return {**step, "expect": None} if element.present else {**step, "error": "not_found"}

    def touch_link_step(self, link: Planted) -> dict[str, Any]:
        """touch(D/E) where E is a symbolic link: it succeeds on the link itself (SIMPLE-TOUCH-1, NORMAL-TOUCH-1)."""
        return {"op": "touch", "args": {"name": link.path}, "expect": None, "requirement": self.req("SIMPLE-TOUCH-1", "NORMAL-TOUCH-1")}

    def link_touched(self, link: Planted) -> list[tuple[str, dict[str, Any]]]:
        link.age = 0
        return [(self.req("SIMPLE-TOUCH-1", "NORMAL-TOUCH-1"), {"fresh": [link.path]})]

    def lock_link_step(self, link: Planted) -> dict[str, Any]:
        """Simple lock(D/E) where E is a symbolic link: the link(2) of step 2 does not follow it, so the lock is
        taken on the link itself (SIMPLE-LOCK-1)."""
        return {"op": "lock", "args": {"name": link.path}, "expect": True, "requirement": "SIMPLE-LOCK-1"}

    def link_locked(self, link: Planted) -> list[tuple[str, dict[str, Any]]]:
        """... and the lock time is set on the link (SIMPLE-LOCK-3), never through it: the target keeps its old
        time (SEC-1)."""
        link.age = 0
        return [("SEC-1", {"old": ["WORK/target"]}), ("SIMPLE-LOCK-3", {"fresh": [link.path, f"{link.path}.lck"]})]

    def get_step(self, element: Element) -> dict[str, Any]:
        step = {"op": "get", "args": {"name": f"${element.var}"}}
        if not (element.present and element.locked):  # the message names the element (SPEC-4)
            return {**step, "error": "not_locked", "message": [f"${{{element.var}:elt}}"],
                    "requirement": self.unlocked_requirement(element, "SIMPLE-GET-1", "NORMAL-GET-1")}
        if element.lock_swap:  # E.lck is a link out of the queue (SEC-1) or a FIFO (SEC-6): get reads neither
            return {**step, "error": "any", "requirement": "SEC-1" if element.lock_swap == "link" else "SEC-6"}
        if self.simple:
            return {**step, "expect": literal(element.data), "requirement": "SIMPLE-GET-1"}
        if element.unreadable:
            return {**step, "error": element.unreadable[0], "requirement": element.unreadable[1]}
        return {**step, "expect": element.data, "requirement": element.get_requirement or "NORMAL-GET-2"}

    def unlocked_requirement(self, element: Element, simple: str, normal: str) -> str:
        """What refuses an op on an unlocked element: NFS-3 when a foreign subdirectory would give it a link count
        like a locked one's."""
        return "NFS-3" if element.subdir else self.req(simple, normal)

    def get_path_step(self, element: Element) -> dict[str, Any]:
        path = f"$TOP/${{{element.var}}}.lck" if self.simple else f"$TOP/${{{element.var}}}"
        return {"op": "get_path", "args": {"name": f"${element.var}"}, "expect": path,
                "requirement": self.req("SIMPLE-GET-2", "NORMAL-GET-3")}

    def remove_step(self, element: Element) -> dict[str, Any]:
        step = {"op": "remove", "args": {"name": f"${element.var}"}}
        if element.present and element.locked:
            return {**step, "expect": None, "requirement": self.req("SIMPLE-REMOVE-2", "NORMAL-REMOVE-2")}
        return {**step, "error": "not_locked", "requirement": self.unlocked_requirement(element, "SIMPLE-REMOVE-1", "NORMAL-REMOVE-1")}

    def bad_name_step(self, op: str, name: str) -> dict[str, Any]:
        """NAME-10: an identifier that is not elt-id is refused before any path is built from it."""
        return {"op": op, "args": {"name": name}, "error": "invalid_name", "requirement": "NAME-10"}

    def add_without_top(self, data: Any) -> dict[str, Any]:
        """An add while TOP does not exist: a Simple producer makes TOP/D with one non-recursive mkdir, which fails
        (DIR-3), a Normal add fails with io (ITER-6); neither makes TOP again."""
        if self.simple:
            return {"op": "add", "args": {"data": literal(data)}, "error": "any", "requirement": "DIR-3"}
        return {"op": "add", "args": {"data": data}, "error": "io", "requirement": "ITER-6"}

    def top_lost(self) -> list[tuple[str, dict[str, Any]]]:
        return [(self.req("DIR-3", "ITER-6"), {"absent": ["."]})]

    def count_step(self) -> dict[str, Any]:
        return {"op": "count", "expect": len(self.listed()), "requirement": self.req("SIMPLE-COUNT-1", "NORMAL-COUNT-1")}

    def list_step(self) -> dict[str, Any]:
        return {"op": "list", "expect": [ref for _, ref in self.listed()], "requirement": "ITER-1"}

    def name_order_step(self, previous: Element, element: Element) -> dict[str, Any] | None:
        """NAME-7: the names one queue object makes increase. When an add of a queue object got an identifier below
        its previous one, a list by that object shows it: the elements in add order within each directory."""
        if self.ident(element) > self.ident(previous):
            return None
        position = {id(e): i for i, e in enumerate(self.elements)}
        ordered = sorted([(self.dir_of(e), position[id(e)], f"${e.var}") for e in self.live()]  # the kit's names are below any clock's
                         + [(p.directory or "", -1, p.path) for p in self.planted if p.present and p.kind == "element"])
        return {"op": "list", "expect": [ref for *_, ref in ordered], "requirement": "NAME-7"}

    def purge_step(self, maxtemp: int | None, maxlock: int | None) -> dict[str, Any]:
        args = {k: v for k, v in (("maxtemp", maxtemp), ("maxlock", maxlock)) if v is not None}
        return {"op": "purge", "args": args, "expect": None, "requirement": self.req("SIMPLE-PURGE-1", "NORMAL-PURGE-1")}

    def refine(self, step: dict[str, Any], outcome: Any) -> str:
        """The requirement a step that did not go as predicted breaks, from what it did instead."""
        if step["op"] == "add" and "expect" in step and isinstance(outcome, str) and re.fullmatch(ELEMENT_ID, outcome):
            directory = step["expect"]["match"].split("/", 1)[0]
            if not re.fullmatch(self.name_pattern(), outcome[9:]):
                return "NAME-4"
            if self.simple and not re.fullmatch(directory, outcome[:8]):
                return "SIMPLE-DIR-1"
            dirs = self.existing_dirs()
            if not self.simple and dirs and outcome[:8] == dirs[-1] != directory and \
                    self.elements_in(dirs[-1]) < self.maxelts:
                return "NORMAL-DIR-2"  # full only with the foreign entries counted, which readdir shows and a link count misses
            if not self.simple and dirs and outcome[:8] == f"{int(dirs[-1], 16) + 1:08x}" != directory and self.entries(dirs[-1]) \
                    and not self.elements_in(dirs[-1]) and not any(p.present and p.directory == dirs[-1] and p.dir_entry for p in self.planted):
                return "NORMAL-DIR-2"  # G holds entries but no directory: a link count (st_nlink - 2) sees it empty
        if step["op"] == "list" and step["requirement"] == "ITER-1" and isinstance(outcome, list):
            wanted = [ident for ident, _ in self.listed()]
            if sorted(map(str, outcome)) == sorted(wanted):
                return "ITER-1"
            planted = {self.resolve(p.path) for p in self.planted if p.present and p.kind in ("symlink", "wrongtype")}
            return "ITER-4" if set(map(str, outcome)) - set(wanted) <= planted and set(wanted) <= set(outcome) else "ITER-3"
        if step["op"] == "lock" and "permissive" not in step["args"] and getattr(outcome, "kind", None) in ("locked", "not_found"):
            return self.req("SIMPLE-LOCK-4", "NORMAL-LOCK-1")  # refused as a strict lock would: the default is not permissive
        if step["op"] == "get" and isinstance(outcome, dict) and isinstance(step.get("expect"), dict):
            wrong = [name for name, value in step["expect"].items() if outcome.get(name) != value]
            if wrong and all(step["expect"][n]["type"] == "table" and "\\" in serialize(step["expect"][n]["value"]).decode()
                             for n in wrong):
                return "TABLE-6"  # only tables with escapes read back wrong: the reader's unescaping
        if step["op"] == "purge" and getattr(outcome, "kind", None) is not None and not self.simple:
            # a purge that failed on a temporary/ entry with a foreign file in it: left in place without error
            # when stale (NORMAL-PURGE-6), left untouched when young (NORMAL-PURGE-3)
            # ... or on an old intermediate directory that foreign entries keep (ENOTEMPTY is success: NORMAL-PURGE-2)
            limit = step["args"].get("maxtemp", DEFAULT_LIMITS["maxtemp"])
            held = [p for p in self.planted if p.present and p.kind == "temp" and p.inner]
            kept = [d for d in self.existing_dirs()[:-1] if not self.elements_in(d) and self.entries(d)]
            if held and (not kept or "temporary" in str(outcome)):
                return "NORMAL-PURGE-6" if any(stale(p.age, limit) for p in held) else "NORMAL-PURGE-3"
            if "temporary" in str(outcome) and any(p.present and p.kind == "temp" and not stale(p.age, limit) for p in self.planted):
                return "NORMAL-PURGE-3"  # it went for a temp that is not stale
            if kept:
                return "NORMAL-PURGE-2"
        if step["op"] == "count" and isinstance(outcome, int):
            wrong_kind = sum(1 for p in self.planted if p.present and p.kind in ("symlink", "wrongtype"))
            return "ITER-4" if wrong_kind and outcome == len(self.listed()) + wrong_kind else step["requirement"]
        return str(step["requirement"])

    def refine_tree(self, step: dict[str, Any], top: Path) -> str:
        """The requirement a failed content check breaks, from what the file holds instead."""
        requirement = str(step["requirement"])
        if requirement == "SIMPLE-LAYOUT-1" and "content" in step["tree"]:
            var = next(iter(step["tree"]["content"]))[1:]  # $eN
            element = next(e for e in self.elements if e.var == var)
            try:
                written = (top / self.ident(element)).read_bytes()
            except OSError:
                return requirement
            data, cut = element.data, element.data[len(written):]
            # a prefix is an incomplete write (SIMPLE-ADD-3), unless it is the data with its trailing NULs stripped
            stripped = not cut.strip(b"\0") and not written.endswith(b"\0")
            return "SIMPLE-ADD-3" if data.startswith(written) and cut and not stripped else requirement
        if requirement != "TABLE-1" or "content" not in step["tree"]:
            return requirement
        # a table field: unsorted lines break TABLE-1, unescaped text TABLE-2
        path = next(iter(step["tree"]["content"]))  # $eN/field
        var, name = path[1:].split("/", 1)
        element = next(e for e in self.elements if e.var == var)
        table = element.data[name]["value"]
        try:
            written = (top / self.ident(element) / name).read_bytes()
        except OSError:
            return requirement
        if sorted(written.split(b"\n")) == sorted(serialize(table).split(b"\n")):
            return "TABLE-1"  # the right lines in the wrong order
        needs_escape = any(c in text for pair in table.items() for text in pair for c in "\\\t\n")
        return "TABLE-2" if needs_escape else "TABLE-1"

    def resolve(self, path: str) -> str:
        """A case path with ${eN:dir} replaced (for comparing with what an implementation returned)."""
        for element in self.elements:
            path = path.replace(f"${{{element.var}:dir}}", self.dir_of(element))
        return path

    # -- after the op: the model moves on, and the tree checks ------------

    def locked(self, element: Element) -> list[tuple[str, dict[str, Any]]]:
        element.locked, element.age = True, 0
        if self.simple:
            return [("SIMPLE-LOCK-1", {"kind": {f"${element.var}.lck": "file"}}),
                    ("SIMPLE-LOCK-3", {"fresh": [f"${element.var}"]})]
        return [("NORMAL-LOCK-1", {"kind": {f"${element.var}/locked": "dir"}}),
                ("NORMAL-LOCK-3", {"fresh": [f"${element.var}"]})]

    def lock_of(self, element: Element) -> str:
        return f"${element.var}.lck" if self.simple else f"${element.var}/locked"

    def unlocked(self, element: Element) -> list[tuple[str, dict[str, Any]]]:
        element.locked, element.lock_swap = False, None
        return [(self.req("SIMPLE-UNLOCK-1", "NORMAL-UNLOCK-1"), {"absent": [self.lock_of(element)]})]

    def touched(self, element: Element) -> list[tuple[str, dict[str, Any]]]:
        element.age = 0
        return [(self.req("SIMPLE-TOUCH-1", "NORMAL-TOUCH-1"), {"fresh": [f"${element.var}"]})]

    def removed(self, element: Element) -> list[tuple[str, dict[str, Any]]]:
        element.present = element.locked = False
        element.lock_swap = None
        checks = [(self.req("SIMPLE-REMOVE-2", "NORMAL-REMOVE-2"), {"absent": [f"${element.var}", self.lock_of(element)]})]
        if not self.simple:
            checks.append(("NORMAL-REMOVE-2", {"count": {"obsolete/*": 0}}))
        return checks

    def unchanged(self, element: Element, requirement: str) -> list[tuple[str, dict[str, Any]]]:
        """A refused op changed nothing: the element and its lock are as they were."""
        where = "present" if element.locked else "absent"
        if not element.present:
            return [(requirement, {"absent": [f"${element.var}", self.lock_of(element)]})]
        return [(requirement, {"present": [f"${element.var}"], where: [self.lock_of(element)]})]

    def modes(self, element: Element, made: bool) -> list[tuple[str, dict[str, Any]]]:
        """COMMON-3: with the umask option, what the add created has 0666 or 0777 less the umask; COMMON-4:
        without it, less the process umask."""
        requirement, umask = ("COMMON-3", self.options["umask"]) if "umask" in self.options else ("COMMON-4", self.process_umask)
        if umask is None:
            return []
        file, directory = f"{0o666 & ~umask:04o}", f"{0o777 & ~umask:04o}"
        var = element.var
        if self.simple:
            modes = {f"${var}": file}
        else:
            modes = {f"${var}": directory, **{f"${var}/{name}": file for name in element.data}}
        if made:
            modes[f"${{{var}:dir}}"] = directory
        return [(requirement, {"mode": modes})]

    def layout_checks(self, element: Element, made: bool) -> list[tuple[str, dict[str, Any]]]:
        """Just added: the element holds its data, no temp of the add is left, the umask option gave the modes."""
        var = element.var
        temps = [p for p in self.planted if p.present and p.kind == "temp"]
        if self.simple:
            directory = self.dir_of(element)
            left = sum(1 for p in self.planted if p.present and p.directory == directory and p.path.endswith(".tmp"))
            return [("SIMPLE-LAYOUT-1", {"kind": {f"${var}": "file"}, "content": {f"${var}": literal(element.data)}}),
                    ("SIMPLE-ADD-5", {"count": {f"${{{var}:dir}}/*.tmp": left}}), *self.modes(element, made)]
        checks: list[tuple[str, dict[str, Any]]] = [("NORMAL-ADD-4", {"kind": {f"${var}": "dir"}, "count": {"temporary/*": len(temps)}})]
        for name, value in element.data.items():
            if value["type"] == "table":
                encoded = serialize(value["value"])
                requirement = "TABLE-3" if not value["value"] else "TABLE-1"
                checks.append((requirement, {"content": {f"${var}/{name}": {"base64": base64.b64encode(encoded).decode()}}}))
            else:
                content = {"text": value["value"]} if value["type"] == "string" else {"base64": value["base64"]}
                checks.append(("NORMAL-ADD-3", {"content": {f"${var}/{name}": content}}))
        return checks + self.modes(element, made)

    def purged(self, maxtemp: int | None, maxlock: int | None) -> list[tuple[str, dict[str, Any]]]:
        """SIMPLE-PURGE-*/NORMAL-PURGE-*: stale temps and locks go, the rest stays, empty old directories go."""
        temp_limit = DEFAULT_LIMITS["maxtemp"] if maxtemp is None else maxtemp
        lock_limit = DEFAULT_LIMITS["maxlock"] if maxlock is None else maxlock
        keep = self.req("SIMPLE-PURGE-4", "NORMAL-PURGE-5")
        limits = self.req("SIMPLE-PURGE-1", "NORMAL-PURGE-1")

        def ruled(limit: int | None) -> Any:
            """A fate decided by a 0 that disables its class, or by the value of a defaulted limit, rests on
            PURGE-1 (with COMMON-8); one set just now (age 0) is young under any limit: its own rule decides."""
            return lambda requirement, age: limits if limit == 0 or (limit is None and age) else requirement

        lock_rule, temp_rule = ruled(maxlock), ruled(maxtemp)
        checks: list[tuple[str, dict[str, Any]]] = []
        dirs = self.existing_dirs()
        if not self.simple:  # NORMAL: the directory pass comes first, before locks and temps (6.12)
            checks += self.empty_dirs_gone(dirs, "NORMAL-PURGE-2")
        for element in self.live():
            checks.append((keep, {"present": [f"${element.var}"]}))
            # SEC-1: a lock that is a link is judged by its own age, which following it would not give
            linked = element.lock_swap == "link" and stale(element.age, lock_limit) != stale(LINK_TARGET_AGE, lock_limit)
            if element.locked and stale(element.age, lock_limit):
                element.locked, element.lock_swap = False, None
                checks.append(("SEC-1" if linked else lock_rule(self.req("SIMPLE-PURGE-3", "NORMAL-PURGE-4"), element.age),
                               {"absent": [self.lock_of(element)]}))
            elif element.locked:
                checks.append(("SEC-1" if linked else lock_rule(self.req("SIMPLE-PURGE-4", "NORMAL-PURGE-4"), element.age),
                               {"present": [self.lock_of(element)]}))
        for planted in [p for p in self.planted if p.present]:
            # SEC-1: a link's own age decides; its target is older, so following it would decide otherwise
            linked = planted.link and stale(planted.age, temp_limit) != stale(LINK_TARGET_AGE, temp_limit)
            if planted.kind == "temp" and stale(planted.age, temp_limit):
                if planted.inner is None:
                    planted.present = False
                    checks.append(("SEC-1" if linked else temp_rule(self.req("SIMPLE-PURGE-2", "NORMAL-PURGE-3"), planted.age),
                                   {"absent": [planted.path]}))
                else:  # NORMAL-PURGE-6: the foreign file keeps its temp directory
                    checks.append(("NORMAL-PURGE-6", {"present": [planted.inner]}))
            elif planted.kind == "temp":
                checks.append(("SEC-1" if linked else temp_rule(self.req("SIMPLE-PURGE-4", "NORMAL-PURGE-3"), planted.age),
                               {"present": [planted.path]}))
            elif planted.kind == "element":
                checks.append((keep, {"present": [planted.path]}))
            else:
                checks.append(("COMMON-2", self.untouched(planted)))
        if self.simple:
            checks += self.empty_dirs_gone(dirs, "SIMPLE-PURGE-5")
        return checks

    def untouched(self, planted: Planted) -> dict[str, Any]:
        """COMMON-2: a foreign entry is still there, a file with the content the kit gave it."""
        if planted.kind == "foreign" and not planted.dir_entry:
            return {"present": [planted.path], "content": {planted.path: {"text": FOREIGN_TEXT}}}
        return {"present": [planted.path]}

    def link_targets(self) -> list[tuple[str, dict[str, Any]]]:
        """SEC-1: whatever links the kit planted, their target out of the queue holds what it held."""
        if not self.link_target:
            return []
        path = "WORK/target" if self.simple else "WORK/target/body"
        return [("SEC-1", {"content": {path: {"text": LINK_TARGET_TEXT}}})]

    def empty_dirs_gone(self, dirs: list[str], requirement: str) -> list[tuple[str, dict[str, Any]]]:
        checks = []
        for directory in dirs:
            if directory == dirs[-1]:
                checks.append((requirement, {"present": [self.dir_ref(directory)]}))
            elif self.entries(directory) == 0:
                self.dirs[directory] = False
                checks.append((requirement, {"absent": [self.dir_ref(directory)]}))
            elif any(p.present and p.directory == directory and p.kind not in ("temp", "element") for p in self.planted):
                checks.append((self.req("SIMPLE-PURGE-6", "NORMAL-PURGE-5"), {"present": [self.dir_ref(directory)]}))
        return checks
