"""Queue trees as reviewable data: the tree manifest format, its loader and its capture.

A *tree manifest* (YAML; JSON is YAML too; the format is described in
fixtures/README.md) lists every path of a queue tree with its kind, its content
as text or base64, its mode and its *age*: its mtime as seconds before a
reference time. :func:`materialize` builds the tree in a directory with every
mtime counted back from a reference time the caller chooses (now by default),
so that "older than maxtemp" means the same on any day. :func:`capture` does
the reverse for a live directory, never following a symbolic link.

Besides the tree, a manifest says what a consumer must see (the elements, their
payloads and whether they are locked), which entries are leftovers of killed
processes, and which findings ``dirqkit fsck`` must report on the tree.
"""

from __future__ import annotations

import base64
import math
import os
import re
import stat
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from dirqref.errors import InvalidData, InvalidSchema
from dirqref.names import is_directory_name, is_element_name
from dirqref.schema import Schema
from dirqref.table import parse as parse_table

FORMAT = "dirqkit-tree/1"
NS_PER_SECOND = 1_000_000_000
WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# The keys each kind of entry takes besides path and kind. A link is a second name
# of a file's inode: it has no mode or time of its own.
ENTRY_KEYS = {"dir": {"mode", "age"}, "file": {"mode", "age", "text", "base64"}, "symlink": {"age", "target"}, "link": {"target"}}
DEFAULT_MODES = {"dir": 0o755, "file": 0o644}
TOP = "."  # the node path of the queue directory itself
REQUIREMENT_ID_RE = re.compile(r"[A-Z]+(-[A-Z]+)*-[1-9][0-9]*")
MODE_RE = re.compile(r"0[0-7]{3}")

FieldValue = str | dict[str, str] | bytes


class FixtureError(Exception):
    """A manifest or archive that cannot be used, or a tree that cannot be built safely."""


@dataclass(frozen=True)
class Element:
    """An element a consumer must see: Simple ``value`` is bytes, Normal a field -> value dict.

    ``value`` is None when the manifest does not state the payload.
    """

    name: str
    value: bytes | dict[str, FieldValue] | None


@dataclass(frozen=True)
class Node:
    """One path of the tree.

    ``dir``, ``file`` (with ``data``), ``symlink`` (``target`` is the link's text,
    kept verbatim) or ``link``: another name of the inode of the file at
    ``target``, which has no mode or age of its own (a Simple lock is one).
    """

    path: str
    kind: str
    data: bytes = b""
    target: str = ""
    mode: int = 0
    age_ns: int = 0


@dataclass(frozen=True)
class ExpectedFinding:
    """A finding ``dirqkit fsck`` must report: requirement ID and path relative to TOP."""

    id: str
    path: str


@dataclass(frozen=True)
class TreeManifest:
    name: str
    description: str
    queue_type: str
    options: dict[str, Any]
    schema: dict[str, str] | None
    nodes: tuple[Node, ...]
    elements: tuple[Element, ...] = ()
    locked: tuple[str, ...] = ()
    leftovers: tuple[str, ...] = ()
    findings: tuple[ExpectedFinding, ...] = ()
    captured_ns: int | None = None  # the absolute time the ages count back from, when known

    def node(self, path: str) -> Node | None:
        return next((n for n in self.nodes if n.path == path), None)

    def lock_path(self, name: str) -> str:
        """SIMPLE-LOCK-1 / NORMAL-LOCK-1: the entry that makes element ``name`` locked."""
        return f"{name}.lck" if self.queue_type == "simple" else f"{name}/locked"


# -- paths -------------------------------------------------------------------


def relative_path(path: object, what: str) -> str:
    """``path`` as a clean relative POSIX path (``.`` for TOP); ValueError otherwise."""
    if not isinstance(path, str):
        raise TypeError(f"{what} must be a string, got {path!r} (quote names such as '00000000')")
    if path == TOP:
        return path
    parts = path.split("/")
    if path.startswith("/") or "\0" in path or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"{what} {path!r} must be relative, without '.', '..' or empty parts")
    return path


def stays_inside(path: PurePosixPath) -> bool:
    """Lexically resolving ``..`` in the relative ``path`` never climbs above its root."""
    depth = 0
    for part in path.parts:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            return False
    return True


def symlink_escapes(link_path: str, target: str) -> bool:
    """A symlink at ``link_path`` (relative to TOP) with text ``target`` points outside TOP."""
    return target.startswith("/") or not stays_inside(PurePosixPath(link_path).parent / target)


# -- loading -----------------------------------------------------------------


def load(path: Path) -> TreeManifest:
    """Parse a tree manifest file; FixtureError naming the file and the entry on bad input."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise FixtureError(f"{path}: cannot read manifest: {exc}") from None
    try:
        return parse(raw, path.stem)
    except KeyError as exc:
        raise FixtureError(f"{path}: missing key {exc}") from None
    except (TypeError, ValueError) as exc:
        raise FixtureError(f"{path}: {exc}") from None


def parse(raw: Any, default_name: str) -> TreeManifest:
    """A TreeManifest from parsed YAML; ValueError naming the field on bad input."""
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ValueError(f"not a tree manifest: the first key must be 'format: {FORMAT}'")
    unknown = set(raw) - {"format", "name", "description", "captured", "queue", "age", "entries",
                          "elements", "leftovers", "findings"}
    if unknown:
        raise ValueError(f"unknown key(s): {', '.join(sorted(unknown))}")
    queue = raw["queue"]
    if not isinstance(queue, dict) or queue.get("type") not in ("simple", "normal"):
        raise ValueError("queue: needs 'type: simple' or 'type: normal'")
    schema = queue.get("schema")
    if schema is not None:
        try:
            Schema.parse(schema)
        except InvalidSchema as exc:
            raise ValueError(f"queue.schema: {exc}") from None
    default_age = _seconds(raw.get("age", 0), "age")
    nodes = tuple(_node(i, entry, default_age) for i, entry in enumerate(raw["entries"]))
    elements, locked = [], []
    for index, entry in enumerate(raw.get("elements") or []):
        element, is_locked = _element(index, entry, queue["type"])
        elements.append(element)
        if is_locked:
            locked.append(element.name)
    tree = TreeManifest(
        name=str(raw.get("name", default_name)),
        description=str(raw.get("description", "")),
        queue_type=queue["type"],
        options=dict(queue.get("options") or {}),
        schema=schema,
        nodes=nodes,
        elements=tuple(elements),
        locked=tuple(locked),
        leftovers=tuple(relative_path(p, f"leftovers[{i}]") for i, p in enumerate(raw.get("leftovers") or [])),
        findings=tuple(_finding(i, f) for i, f in enumerate(raw.get("findings") or [])),
        captured_ns=None if raw.get("captured") is None else round(_seconds(raw["captured"], "captured") * NS_PER_SECOND),
    )
    check(tree)
    return tree


def _seconds(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a non-negative number of seconds, got {value!r}")
    return float(value)


def _mode(value: object, what: str) -> int:
    if not isinstance(value, str) or not MODE_RE.fullmatch(value):
        raise ValueError(f"{what} must be a quoted 4-digit octal string such as '0644', got {value!r}")
    return int(value, 8)


def data_of(entry: Mapping[str, Any], what: str) -> bytes:
    """The bytes of ``text:`` (UTF-8) or ``base64:`` in ``entry`` (empty when neither is given)."""
    if "text" in entry and "base64" in entry:
        raise ValueError(f"{what}: give text or base64, not both")
    if "base64" in entry:
        try:
            return base64.b64decode(entry["base64"], validate=True)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{what}: base64: {exc}") from None
    text = entry.get("text", "")
    if not isinstance(text, str):
        raise TypeError(f"{what}: text must be a string, got {text!r}")
    return text.encode("utf-8")


def _node(index: int, entry: Any, default_age: float) -> Node:
    if not isinstance(entry, dict):
        raise TypeError(f"entries[{index}] must be a mapping")
    path = relative_path(entry.get("path"), f"entries[{index}].path")
    what = f"entries[{index}] ({path})"
    kind = entry.get("kind")
    if kind not in ENTRY_KEYS:
        raise ValueError(f"{what}: kind must be one of {', '.join(ENTRY_KEYS)}, got {kind!r}")
    extra = set(entry) - {"path", "kind"} - ENTRY_KEYS[kind]
    if extra:
        raise ValueError(f"{what}: a {kind} entry has no {', '.join(sorted(extra))}")
    if path == TOP and kind != "dir":
        raise ValueError(f"{what}: TOP ('.') is a directory")
    target = entry.get("target", "")
    if kind in ("link", "symlink") and (not isinstance(target, str) or not target):
        raise ValueError(f"{what}: a {kind} needs a target")
    return Node(
        path=path,
        kind=kind,
        data=data_of(entry, what) if kind == "file" else b"",
        target=relative_path(target, f"{what}.target") if kind == "link" else target,
        mode=0 if kind in ("link", "symlink") else _mode(entry.get("mode", f"{DEFAULT_MODES[kind]:04o}"), f"{what}.mode"),
        age_ns=0 if kind == "link" else round(_seconds(entry.get("age", default_age), f"{what}.age") * NS_PER_SECOND),
    )


def _element(index: int, entry: Any, queue_type: str) -> tuple[Element, bool]:
    if not isinstance(entry, dict):
        raise TypeError(f"elements[{index}] must be a mapping")
    name = entry.get("name")
    if not isinstance(name, str) or "/" not in name or not is_directory_name(name.split("/")[0]) or not is_element_name(name.split("/", 1)[1]):
        raise ValueError(f"elements[{index}].name must be an element identifier DDDDDDDD/EEEEEEEEEEEEEE, got {name!r}")
    what = f"elements[{index}] ({name})"
    payload_keys = {"text", "base64"} if queue_type == "simple" else {"fields"}
    if set(entry) - {"name", "locked"} - payload_keys:
        raise ValueError(f"{what}: a {queue_type} element has name, locked and {' or '.join(sorted(payload_keys))}")
    locked = entry.get("locked", False)
    if not isinstance(locked, bool):
        raise TypeError(f"{what}: locked must be true or false")
    value: bytes | dict[str, FieldValue] | None = None
    if queue_type == "simple" and payload_keys & set(entry):
        value = data_of(entry, what)
    elif "fields" in entry:
        value = decode_fields(entry["fields"])
    return Element(name, value), locked


def _finding(index: int, entry: Any) -> ExpectedFinding:
    if not isinstance(entry, dict) or set(entry) != {"id", "path"} or not REQUIREMENT_ID_RE.fullmatch(str(entry["id"])):
        raise ValueError(f"findings[{index}] must be {{id: REQUIREMENT-ID, path: PATH}}, got {entry!r}")
    return ExpectedFinding(entry["id"], relative_path(entry["path"], f"findings[{index}].path"))


def decode_payload(payload: Mapping[str, str]) -> bytes:
    """A real-producer Simple payload: ``{"encoding": "utf-8" | "base64", "value": ...}``."""
    if payload["encoding"] == "utf-8":
        return payload["value"].encode("utf-8")
    if payload["encoding"] == "base64":
        return base64.b64decode(payload["value"], validate=True)
    raise ValueError(f"payload encoding {payload['encoding']!r} unknown")


def decode_fields(fields: Mapping[str, Mapping[str, Any]]) -> dict[str, FieldValue]:
    """Typed fields (as in the driver protocol): string -> str, table -> dict[str, str], binary -> bytes."""
    record: dict[str, FieldValue] = {}
    for name, spec in fields.items():
        if spec["type"] == "binary":
            record[name] = base64.b64decode(spec["base64"], validate=True)
        elif spec["type"] == "string" and isinstance(spec["value"], str):
            record[name] = spec["value"]
        elif spec["type"] == "table" and isinstance(spec["value"], dict):
            record[name] = {str(k): str(v) for k, v in spec["value"].items()}
        else:
            raise ValueError(f"field {name}: {spec!r} is not a typed field (string, table or binary)")
    return record


def typed_fields(record: Mapping[str, FieldValue]) -> dict[str, dict[str, Any]]:
    """The inverse of :func:`decode_fields`: the protocol's typed fields for a decoded record."""
    typed: dict[str, dict[str, Any]] = {}
    for name, value in record.items():
        if isinstance(value, bytes):
            typed[name] = {"type": "binary", "base64": base64.b64encode(value).decode("ascii")}
        else:
            typed[name] = {"type": "table" if isinstance(value, dict) else "string", "value": value}
    return typed


def check(tree: TreeManifest) -> None:
    """The manifest is consistent: parents before children, link targets, elements and locks match the tree."""
    kinds: dict[str, str] = {TOP: "dir"}
    for index, node in enumerate(tree.nodes):
        what = f"entries[{index}] ({node.path})"
        if node.path == TOP:
            if index:
                raise ValueError(f"{what}: TOP ('.') must be the first entry")
            continue
        if node.path in kinds:
            raise ValueError(f"{what}: path listed twice")
        parent = str(PurePosixPath(node.path).parent)
        if kinds.get(parent) != "dir":
            raise ValueError(f"{what}: its directory {parent!r} must be a dir entry listed before it")
        if node.kind == "link" and kinds.get(node.target) != "file":
            raise ValueError(f"{what}: a link's target must be a file entry listed before it, got {node.target!r}")
        kinds[node.path] = node.kind
    data = {n.path: n.data for n in tree.nodes if n.kind == "file"}
    data.update({n.path: data[n.target] for n in tree.nodes if n.kind == "link"})
    for element in tree.elements:
        _check_element(tree, element, kinds, data)
    for path in tree.leftovers:
        if path not in kinds:
            raise ValueError(f"leftover {path!r} is not in the entries")


def _check_element(tree: TreeManifest, element: Element, kinds: dict[str, str], data: dict[str, bytes]) -> None:
    what = f"element {element.name}"
    wanted = ("file", "link") if tree.queue_type == "simple" else ("dir",)
    if kinds.get(element.name) not in wanted:
        raise ValueError(f"{what}: no {wanted[0]} entry at its path")
    lock = tree.lock_path(element.name)
    if (element.name in tree.locked) != (lock in kinds):
        state = "locked" if element.name in tree.locked else "not locked"
        raise ValueError(f"{what}: declared {state}, but {lock} is {'missing' if lock not in kinds else 'there'}")
    if element.value is None:
        return
    if isinstance(element.value, bytes):
        if data[element.name] != element.value:
            raise ValueError(f"{what}: payload differs from the file's content")
        return
    for field, value in element.value.items():
        content = data.get(f"{element.name}/{field}")
        if content is None:
            raise ValueError(f"{what}: field {field} has no file entry")
        try:
            stored: FieldValue = content if isinstance(value, bytes) else parse_table(content) if isinstance(value, dict) else content.decode("utf-8")
        except (InvalidData, UnicodeDecodeError) as exc:
            raise ValueError(f"{what}: field {field}: {exc}") from None
        if stored != value:
            raise ValueError(f"{what}: field {field} differs from its file's content")


# -- building a tree -----------------------------------------------------------


def materialize(tree: TreeManifest, dest: Path, *, reference_ns: int | None = None) -> Path:
    """Build ``tree`` in ``dest`` (created; must be missing or empty) and return ``dest``.

    Every mtime is ``reference_ns - age`` (now by default). Nothing is written
    through a symbolic link: each entry's parent must be a real directory the
    manifest made. Directory modes and times are set last, deepest first.
    """
    reference = time.time_ns() if reference_ns is None else reference_ns
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise FixtureError(f"{dest}: the destination of a fixture must be empty")
    stamps: list[tuple[Path, Node]] = []
    for node in tree.nodes:
        path = dest if node.path == TOP else dest / node.path
        _check_parents(dest, node.path)
        try:
            _make(path, node, dest)
        except OSError as exc:
            raise FixtureError(f"{tree.name}: entry {node.path!r}: cannot create: {exc}") from None
        if node.kind != "link":
            stamps.append((path, node))
    stamps.sort(key=lambda stamp: (stamp[1].kind == "dir", -len(PurePosixPath(stamp[1].path).parts)))
    for path, node in stamps:
        if node.kind == "dir":
            os.chmod(path, node.mode, follow_symlinks=False)
        mtime = reference - node.age_ns
        os.utime(path, ns=(mtime, mtime), follow_symlinks=False)
    return dest


def _make(path: Path, node: Node, dest: Path) -> None:
    if node.kind == "dir":
        if node.path != TOP:
            path.mkdir(mode=0o700)
    elif node.kind == "file":
        fd = os.open(path, WRITE_FLAGS, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(node.data)
            os.fchmod(out.fileno(), node.mode)
    elif node.kind == "link":
        target = dest / node.target
        _check_parents(dest, node.target)
        if not stat.S_ISREG(os.lstat(target).st_mode):
            raise FixtureError(f"entry {node.path!r}: link target {node.target!r} is not a regular file")
        os.link(target, path, follow_symlinks=False)
    else:
        os.symlink(node.target, path)


def _check_parents(dest: Path, relpath: str) -> None:
    """Every directory between ``dest`` and ``relpath`` is a real directory (never a symlink)."""
    for parent in reversed(PurePosixPath(relpath).parents[:-1]):
        try:
            mode = os.lstat(dest / parent).st_mode
        except FileNotFoundError:
            raise FixtureError(f"entry {relpath!r}: its directory {str(parent)!r} does not exist") from None
        if not stat.S_ISDIR(mode):
            raise FixtureError(f"entry {relpath!r}: {str(parent)!r} is not a directory (symlinks are not followed)")


# -- capturing a live tree -------------------------------------------------------


def capture(top: Path, *, queue_type: str | None = None, schema: dict[str, str] | None = None,
            name: str | None = None, description: str = "") -> TreeManifest:
    """The manifest of the live queue directory ``top``; ages count back from now.

    Only ``top`` itself may be a symbolic link (it is followed, as SEC-1 allows);
    inside, symbolic links are recorded as such and never followed, and a second
    name of an inode already seen is recorded as a ``link``. Devices, FIFOs and
    sockets cannot be recorded: FixtureError.
    """
    now = time.time_ns()
    try:
        top_fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise FixtureError(f"{top}: cannot open the queue directory: {exc.strerror}") from None
    try:
        info = os.fstat(top_fd)
        nodes = [Node(TOP, "dir", mode=stat.S_IMODE(info.st_mode) & 0o777, age_ns=now - info.st_mtime_ns)]
        nodes += _walk(top_fd, "", now, {})
    finally:
        os.close(top_fd)
    paths = {n.path: n for n in nodes}
    if queue_type is None:  # NORMAL-LAYOUT-1: only Normal queues have temporary/ and obsolete/
        queue_type = "normal" if any(p in paths and paths[p].kind == "dir" for p in ("temporary", "obsolete")) else "simple"
    elements, locked = _elements(nodes, paths, queue_type, Schema.parse(schema) if schema else None)
    if queue_type == "simple":
        leftovers = [n.path for n in nodes if n.path.endswith(".tmp") and n.path.count("/") == 1]
    else:
        leftovers = [n.path for n in nodes if n.path.count("/") == 1 and n.path.split("/")[0] in ("temporary", "obsolete")]
    return TreeManifest(name or top.name, description, queue_type, {}, schema, tuple(nodes), tuple(elements),
                        tuple(locked), tuple(leftovers), (), now)


def _walk(dir_fd: int, prefix: str, now: int, inodes: dict[tuple[int, int], str]) -> Iterator[Node]:
    """Nodes below the open directory ``dir_fd``, in name order, parents first."""
    with os.scandir(dir_fd) as entries:
        names = sorted(entry.name for entry in entries)
    for name in names:
        path = prefix + name
        try:
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            continue  # RACE: removed while the tree was being captured
        mode, age = stat.S_IMODE(info.st_mode) & 0o777, now - info.st_mtime_ns
        if stat.S_ISLNK(info.st_mode):
            yield Node(path, "symlink", target=os.readlink(name, dir_fd=dir_fd), age_ns=age)
        elif stat.S_ISDIR(info.st_mode):
            yield Node(path, "dir", mode=mode, age_ns=age)
            fd = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
            try:
                yield from _walk(fd, path + "/", now, inodes)
            finally:
                os.close(fd)
        elif stat.S_ISREG(info.st_mode):
            first = inodes.setdefault((info.st_dev, info.st_ino), path)
            if first != path:
                yield Node(path, "link", target=first)
            else:
                yield Node(path, "file", data=read_regular(dir_fd, name), mode=mode, age_ns=age)
        else:
            raise FixtureError(f"{path}: a device, FIFO or socket cannot be recorded in a manifest")


def read_regular(dir_fd: int, name: str) -> bytes:
    """The content of the regular file ``name`` in ``dir_fd``, opened without following a link."""
    fd = os.open(name, READ_FLAGS, dir_fd=dir_fd)
    with os.fdopen(fd, "rb") as stream:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FixtureError(f"{name}: not a regular file")
        return stream.read()


def _elements(nodes: list[Node], paths: dict[str, Node], queue_type: str, schema: Schema | None) -> tuple[list[Element], list[str]]:
    """The elements the captured tree holds (NAME-8, DIR-2, ITER-4), with their lock state."""
    wanted = ("file", "link") if queue_type == "simple" else ("dir",)
    elements, locked = [], []
    for node in nodes:
        parts = node.path.split("/")
        if len(parts) != 2 or not is_directory_name(parts[0]) or not is_element_name(parts[1]) or node.kind not in wanted:
            continue  # parents come first, so parts[0] is a real directory here
        if (f"{node.path}.lck" if queue_type == "simple" else f"{node.path}/locked") in paths:
            locked.append(node.path)  # whatever it is, the lock name is taken: nobody can lock the element
        elements.append(Element(node.path, _payload(node, paths, queue_type, schema)))
    return elements, locked


def _payload(node: Node, paths: dict[str, Node], queue_type: str, schema: Schema | None) -> bytes | dict[str, FieldValue] | None:
    if queue_type == "simple":
        return node.data if node.kind == "file" else paths[node.target].data
    if schema is None:
        return None
    record: dict[str, FieldValue] = {}
    for field in schema.fields:
        file = paths.get(f"{node.path}/{field.name}")
        if file is None or file.kind != "file":
            if not field.optional:
                return None  # not a readable element: no payload to state
            continue
        try:
            record[field.name] = field.decode(file.data, file.path)
        except InvalidData:
            return None
    return record


# -- writing a manifest ---------------------------------------------------------


def dump(tree: TreeManifest) -> str:
    """The YAML text of ``tree``: one flow mapping per line for entries and elements, easy to review."""
    header: dict[str, Any] = {"format": FORMAT, "name": tree.name}
    if tree.description:
        header["description"] = tree.description
    if tree.captured_ns is not None:
        header["captured"] = tree.captured_ns / NS_PER_SECOND
    queue: dict[str, Any] = {"type": tree.queue_type}
    if tree.options:
        queue["options"] = tree.options
    if tree.schema:
        queue["schema"] = tree.schema
    header["queue"] = queue
    lines = [_yaml(header, flow=False).rstrip("\n"), "# age: seconds before the reference time (mtime = reference - age)", "entries:"]
    lines += [f"  - {_yaml(_entry(node))}" for node in tree.nodes]
    lines.append("elements:" if tree.elements else "elements: []")
    for element in tree.elements:
        lines.append(f"  - {_yaml(_element_entry(element, element.name in tree.locked))}")
    lines.append(f"leftovers: {_yaml(list(tree.leftovers))}")
    lines.append("findings:" if tree.findings else "findings: []")
    lines += [f"  - {_yaml({'id': f.id, 'path': f.path})}" for f in tree.findings]
    return "\n".join(lines) + "\n"


class _Dumper(yaml.SafeDumper):
    """Strings holding line breaks, tabs or other controls are written double-quoted, on one line."""


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    quoted = any(not c.isprintable() for c in text)
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style='"' if quoted else None)


_Dumper.add_representer(str, _represent_str)


def _yaml(value: Any, flow: bool = True) -> str:
    text: str = yaml.dump(value, Dumper=_Dumper, default_flow_style=flow, sort_keys=False, allow_unicode=True, width=float("inf"))
    return text.strip() if flow else text


def _content(data: bytes) -> dict[str, str]:
    """Text when the bytes are printable UTF-8 (newlines and tabs allowed), else base64."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\n\t" for c in text):
        return {"text": text}
    return {"base64": base64.b64encode(data).decode("ascii")}


def _entry(node: Node) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": node.path, "kind": node.kind}
    if node.kind in ("link", "symlink"):
        entry["target"] = node.target
    if node.kind in ("dir", "file"):
        entry["mode"] = f"{node.mode:04o}"
    if node.kind != "link":
        entry["age"] = round(node.age_ns / NS_PER_SECOND, 6)
    if node.kind == "file":
        entry.update(_content(node.data))
    return entry


def _element_entry(element: Element, locked: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": element.name}
    if locked:
        entry["locked"] = True
    if isinstance(element.value, bytes):
        entry.update(_content(element.value))
    elif element.value is not None:
        entry["fields"] = typed_fields(element.value)
    return entry
