"""Queue trees written by real implementations (fixtures/real/): safe extraction and manifests.

A fixture is ``NAME.tar.gz`` (the queue directory) next to ``NAME.json`` (its
manifest, described in fixtures/real/README.md). :func:`extract` unpacks the
archive without ever leaving the destination: absolute member names, ``..``,
device files and symlinks pointing outside are refused, nothing is written
through a symlink, and hard links are kept (a locked Simple element's ``.lck``
is one). Every mtime is shifted by the same offset, so that ages mean the
same on any day (:func:`offset_for_age`).
"""

from __future__ import annotations

import base64
import json
import os
import stat
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

NS_PER_SECOND = 1_000_000_000
WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

FieldValue = str | dict[str, str] | bytes


class FixtureError(Exception):
    """An archive that cannot be extracted safely, or a malformed manifest."""


@dataclass(frozen=True)
class Element:
    """One element the fixture holds: Simple ``value`` is bytes, Normal a field -> value dict."""

    name: str
    value: bytes | dict[str, FieldValue]


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
    """Unpack ``archive`` into ``dest`` (created if missing) and return its parsed manifest.

    Every mtime is the archived one plus ``mtime_offset`` seconds. Raises
    FixtureError naming the member when the archive is unsafe or unreadable.
    """
    manifest = load_manifest(manifest_path(archive))
    dest.mkdir(parents=True, exist_ok=True)
    offset_ns = round(mtime_offset * NS_PER_SECOND)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            stamps: list[tuple[Path, int, int | None]] = []  # (path, mtime ns, mode to set last)
            for member in tar:
                stamps.append(_extract_member(tar, member, dest, offset_ns))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise FixtureError(f"{archive}: cannot extract: {exc}") from None
    # Directories last and deepest first: creating their entries changed their mtimes,
    # and a read-only mode would have refused those entries.
    stamps.sort(key=lambda stamp: (stamp[2] is not None, -len(stamp[0].parts)))
    for path, mtime_ns, dir_mode in stamps:
        if dir_mode is not None:
            os.chmod(path, dir_mode, follow_symlinks=False)
        os.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=False)
    return manifest


def _extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path, offset_ns: int) -> tuple[Path, int, int | None]:
    """Create one member; returns (path, new mtime in ns, directory mode or None)."""
    path = dest / _safe_relative(member.name, member.name)
    _check_parents(path, dest, member.name)
    mode = member.mode & 0o777  # no setuid, setgid or sticky bits from an archive
    mtime_ns = int(member.mtime) * NS_PER_SECOND + offset_ns
    if member.isdir():
        path.mkdir(mode=0o700)
        return path, mtime_ns, mode
    if member.isreg():
        source = tar.extractfile(member)
        assert source is not None  # a regular member always has a data stream
        fd = os.open(path, WRITE_FLAGS, 0o600)
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(1 << 16):
                out.write(chunk)
            os.fchmod(out.fileno(), mode)
        return path, mtime_ns, None
    if member.islnk():
        target = dest / _safe_relative(member.linkname, member.name)
        _check_parents(target, dest, member.name)
        if not stat.S_ISREG(os.lstat(target).st_mode):
            raise FixtureError(f"member {member.name!r}: hard link to {member.linkname!r}, not a regular file")
        os.link(target, path, follow_symlinks=False)
        return path, mtime_ns, None
    if member.issym():
        inside = PurePosixPath(member.name).parent / member.linkname
        if member.linkname.startswith("/") or not _stays_inside(inside):
            raise FixtureError(f"member {member.name!r}: symlink to {member.linkname!r} leaves the archive")
        os.symlink(member.linkname, path)
        return path, mtime_ns, None
    raise FixtureError(f"member {member.name!r}: device, FIFO or other special file refused")


def _safe_relative(name: str, member: str) -> PurePosixPath:
    """``name`` as a relative path with no ``..``; FixtureError otherwise."""
    path = PurePosixPath(name)
    if not name or name.startswith("/") or path.is_absolute():
        raise FixtureError(f"member {member!r}: absolute path {name!r} refused")
    if ".." in path.parts or "\0" in name:
        raise FixtureError(f"member {member!r}: path {name!r} with '..' refused")
    return path


def _stays_inside(path: PurePosixPath) -> bool:
    """Lexically resolving ``..`` in the relative ``path`` never climbs above its root."""
    depth = 0
    for part in path.parts:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            return False
    return True


def _check_parents(path: Path, dest: Path, member: str) -> None:
    """Every directory between ``dest`` and ``path`` is a real directory (never a symlink)."""
    for parent in reversed(path.relative_to(dest).parents[:-1]):
        try:
            mode = os.lstat(dest / parent).st_mode
        except FileNotFoundError:
            raise FixtureError(f"member {member!r}: its directory {str(parent)!r} is not in the archive before it") from None
        if not stat.S_ISDIR(mode):
            raise FixtureError(f"member {member!r}: {str(parent)!r} is not a directory (symlinks are not followed)")


def load_manifest(path: Path) -> Manifest:
    """Parse a fixture manifest; FixtureError naming the file and the field on bad input."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FixtureError(f"{path}: cannot read manifest: {exc}") from None
    try:
        queue_type = raw["queue_type"]
        if queue_type not in ("simple", "normal"):
            raise ValueError(f"queue_type {queue_type!r} is neither simple nor normal")
        decode = _decode_payload if queue_type == "simple" else _decode_fields
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
                Element(e["name"], decode(e["payload"] if queue_type == "simple" else e["fields"])) for e in raw["elements"]
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


def _decode_payload(payload: dict[str, str]) -> bytes:
    """A Simple payload: ``{"encoding": "utf-8" | "base64", "value": ...}``."""
    if payload["encoding"] == "utf-8":
        return payload["value"].encode("utf-8")
    if payload["encoding"] == "base64":
        return base64.b64decode(payload["value"], validate=True)
    raise ValueError(f"payload encoding {payload['encoding']!r} unknown")


def _decode_fields(fields: dict[str, dict[str, Any]]) -> dict[str, FieldValue]:
    """Normal fields: string -> str, table -> dict[str, str], binary -> bytes."""
    record: dict[str, FieldValue] = {}
    for name, field in fields.items():
        if field["type"] == "binary":
            record[name] = base64.b64decode(field["base64"], validate=True)
        elif field["type"] in ("string", "table"):
            record[name] = field["value"]
        else:
            raise ValueError(f"field {name}: type {field['type']!r} unknown")
    return record
