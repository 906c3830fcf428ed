"""Fixture queue trees: the real-producer archives and the tree manifests.

A real-producer fixture (fixtures/real/) is ``NAME.tar.gz`` (the queue
directory, as the producer left it) next to ``NAME.json`` (its manifest,
described in fixtures/real/README.md). :func:`load_tree` reads both into the
same :class:`~dirqkit.trees.manifest.TreeManifest` a YAML tree manifest
(fixtures/corrupt/) gives, so every fixture is built by one function,
:func:`dirqkit.trees.manifest.materialize`. Reading an archive refuses absolute
member names, ``..``, devices, FIFOs, symlinks pointing outside and members
under a symlink; hard links are kept (a locked Simple element's ``.lck`` is
one). Ages count back from the archive's newest mtime, so a tree can be built
as of any day (:func:`offset_for_age`, :func:`extract`).
A case's ``{fixture: NAME}`` step is expanded by ``dirqkit.suite.fixture_steps``.
"""

from __future__ import annotations

import json
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from dirqkit import resources
from dirqkit.trees.manifest import (
    NS_PER_SECOND,
    TOP,
    Element,
    FixtureError,
    Node,
    TreeManifest,
    check,
    decode_fields,
    decode_payload,
    load,
    materialize,
    stays_inside,
)

FIXTURES_DIR = resources.fixtures_dir()
REAL_DIR = FIXTURES_DIR / "real"
CORRUPT_DIR = FIXTURES_DIR / "corrupt"


@dataclass(frozen=True)
class Leftover:
    """A non-element entry (interrupted add or remove) and who made it."""

    path: str
    what: str
    made_by: str


@dataclass(frozen=True)
class TreeEntry:
    """One path of the tree as the manifest lists it (mtime as captured, not re-based)."""

    path: str
    kind: str
    size: int | None
    mode: int
    mtime: int
    nlink: int


@dataclass(frozen=True)
class Manifest:
    fixture: str
    implementation: str
    written_by: str
    written_on: str
    queue_type: str
    options: dict[str, Any]
    schema: dict[str, str] | None
    tree_root: str
    elements: tuple[Element, ...]
    locked: tuple[str, ...]
    leftovers: tuple[Leftover, ...]
    files: tuple[TreeEntry, ...]

    @property
    def newest_mtime(self) -> int:
        return max(entry.mtime for entry in self.files)


def archives(directory: Path) -> list[Path]:
    """The fixture archives in ``directory``, sorted by name."""
    return sorted(directory.glob("*.tar.gz"))


def manifest_path(archive: Path) -> Path:
    """``NAME.json`` next to ``NAME.tar.gz``."""
    return archive.with_name(archive.name.removesuffix(".tar.gz") + ".json")


def offset_for_age(manifest: Manifest, age: float) -> float:
    """The mtime offset that makes the tree's newest entry ``age`` seconds old now."""
    return time.time() - age - manifest.newest_mtime


def extract(archive: Path, dest: Path, *, mtime_offset: float = 0.0) -> Manifest:
    """Build ``archive``'s tree in ``dest``/TREE_ROOT and return its parsed JSON manifest.

    Every mtime is the archived one plus ``mtime_offset`` seconds. Raises
    FixtureError naming the member when the archive is unsafe or unreadable.
    """
    manifest = load_manifest(manifest_path(archive))
    tree = load_tree(archive, manifest)
    assert tree.captured_ns is not None  # an archive's ages count back from its newest mtime
    materialize(tree, dest / manifest.tree_root, reference_ns=tree.captured_ns + round(mtime_offset * NS_PER_SECOND))
    return manifest


def load_tree(archive: Path, manifest: Manifest | None = None) -> TreeManifest:
    """The archive and its JSON manifest as a TreeManifest; ages count back from the newest mtime."""
    manifest = manifest or load_manifest(manifest_path(archive))
    members: list[tuple[Node, int]] = []  # (node with age 0, mtime in ns)
    kinds: dict[str, str] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                members.append(_member_node(tar, member, manifest.tree_root, kinds))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise FixtureError(f"{archive}: cannot read: {exc}") from None
    newest = max((mtime for _, mtime in members), default=0)
    nodes = tuple(Node(n.path, n.kind, n.data, n.target, n.mode, 0 if n.kind == "link" else newest - mtime) for n, mtime in members)
    tree = TreeManifest(
        name=manifest.fixture,
        description=f"written by {manifest.written_by} on {manifest.written_on}",
        queue_type=manifest.queue_type,
        options=manifest.options,
        schema=manifest.schema,
        nodes=nodes,
        elements=manifest.elements,
        locked=manifest.locked,
        leftovers=tuple(leftover.path for leftover in manifest.leftovers),
        captured_ns=newest,
    )
    try:
        check(tree)  # the JSON manifest describes the archive: elements, payloads, lock state
    except ValueError as exc:
        raise FixtureError(f"{archive}: {exc}") from None
    return tree


def _member_node(tar: tarfile.TarFile, member: tarfile.TarInfo, root: str, kinds: dict[str, str]) -> tuple[Node, int]:
    """One archive member as a node (path relative to TOP) and its mtime in ns; unsafe members refused."""
    path = _tree_path(member.name, member.name, root)
    if path != TOP:
        parent = str(PurePosixPath(path).parent)
        if parent not in kinds:
            raise FixtureError(f"member {member.name!r}: its directory {parent!r} is not in the archive before it")
        if kinds[parent] != "dir":
            raise FixtureError(f"member {member.name!r}: {parent!r} is not a directory (symlinks are not followed)")
    mode = member.mode & 0o777  # no setuid, setgid or sticky bits from an archive
    mtime_ns = int(member.mtime) * NS_PER_SECOND
    if member.isdir():
        node = Node(path, "dir", mode=mode)
    elif member.isreg():
        source = tar.extractfile(member)
        assert source is not None  # a regular member always has a data stream
        node = Node(path, "file", data=source.read(), mode=mode)
    elif member.islnk():
        target = _tree_path(member.linkname, member.name, root)
        if kinds.get(target) != "file":
            raise FixtureError(f"member {member.name!r}: hard link to {member.linkname!r}, not a regular file before it")
        node = Node(path, "link", target=target)
    elif member.issym():
        if member.linkname.startswith("/") or not stays_inside(PurePosixPath(member.name).parent / member.linkname):
            raise FixtureError(f"member {member.name!r}: symlink to {member.linkname!r} leaves the archive")
        node = Node(path, "symlink", target=member.linkname)
    else:
        raise FixtureError(f"member {member.name!r}: device, FIFO or other special file refused")
    kinds[path] = "file" if node.kind == "link" else node.kind
    return node, mtime_ns


def _tree_path(name: str, member: str, root: str) -> str:
    """The archive path ``name`` relative to the tree root (``.`` for the root itself)."""
    path = PurePosixPath(name)
    if not name or name.startswith("/") or path.is_absolute():
        raise FixtureError(f"member {member!r}: absolute path {name!r} refused")
    if ".." in path.parts or "\0" in name:
        raise FixtureError(f"member {member!r}: path {name!r} with '..' refused")
    if path == PurePosixPath(root):
        return TOP
    if not path.is_relative_to(root):
        raise FixtureError(f"member {member!r}: outside the tree root {root!r}")
    return path.relative_to(root).as_posix()


def load_manifest(path: Path) -> Manifest:
    """Parse a real-producer JSON manifest; FixtureError naming the file and the field on bad input."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FixtureError(f"{path}: cannot read manifest: {exc}") from None
    try:
        queue_type = raw["queue_type"]
        if queue_type not in ("simple", "normal"):
            raise ValueError(f"queue_type {queue_type!r} is neither simple nor normal")
        return Manifest(
            fixture=raw["fixture"],
            implementation=raw["implementation"],
            written_by=raw["written_by"],
            written_on=raw["written_on"],
            queue_type=queue_type,
            options=dict(raw["options"]),
            schema=raw["schema"],
            tree_root=raw["tree_root"],
            elements=tuple(
                Element(e["name"], decode_payload(e["payload"]) if queue_type == "simple" else decode_fields(e["fields"]))
                for e in raw["elements"]
            ),
            locked=tuple(raw["locked"]),
            leftovers=tuple(Leftover(x["path"], x["what"], x["made_by"]) for x in raw["leftovers"]),
            files=tuple(
                TreeEntry(f["path"], f["kind"], f["size"], int(f["mode"], 8), int(f["mtime"]), int(f["nlink"]))
                for f in raw["files"]
            ),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise FixtureError(f"{path}: malformed manifest: {type(exc).__name__}: {exc}") from None


# -- the fixture registry --------------------------------------------------------


def fixture_names() -> list[str]:
    """Every fixture a case or test can name: real-producer archives and tree manifests."""
    real = [a.name.removesuffix(".tar.gz") for a in archives(REAL_DIR)]
    return sorted(real + [p.stem for p in CORRUPT_DIR.glob("*.yaml")])


def find(name: str) -> TreeManifest:
    """The fixture called ``name``: fixtures/real/NAME.tar.gz or fixtures/corrupt/NAME.yaml."""
    archive = REAL_DIR / f"{name}.tar.gz"
    if archive.is_file():
        return load_tree(archive)
    path = CORRUPT_DIR / f"{name}.yaml"
    if path.is_file():
        return load(path)
    raise FixtureError(f"no fixture {name!r}: neither {archive} nor {path} exists (fixtures need a source checkout)")


# -- fixture steps of cases (see CASES.md) -----------------------------------------
