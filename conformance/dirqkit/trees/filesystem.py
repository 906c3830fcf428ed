"""The filesystem a queue lives on: its type, its mount options, and whether it keeps directory link counts.

What SPEC.md 8.5 says changes from one filesystem to another is measured
here, never guessed from the type's name: ``dir_link_counts`` makes a
directory with one subdirectory and reads its ``st_nlink`` (3 where link
counts are maintained, 1 on btrfs and many network filesystems).
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MOUNTINFO = Path("/proc/self/mountinfo")
_OCTAL = re.compile(r"\\([0-7]{3})")


@dataclass(frozen=True)
class Mount:
    mount_point: str
    fstype: str
    source: str
    options: str  # per-mount options (rw, relatime, nosuid, ...)
    super_options: str  # the filesystem's own options (e.g. lowerdir=... for overlay)


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as \\ooo (octal)."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> list[Mount]:
    """The mounts of a /proc/PID/mountinfo text; a line that is not one is skipped.

    Format (proc(5)): ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS
    """
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        dash = fields.index("-")
        if dash < 6 or len(fields) < dash + 3:
            continue
        mounts.append(Mount(mount_point=_unescape(fields[4]), fstype=fields[dash + 1], source=_unescape(fields[dash + 2]),
                            options=fields[5], super_options=fields[dash + 3] if len(fields) > dash + 3 else ""))
    return mounts


def mount_of(path: Path, mounts: list[Mount]) -> Mount | None:
    """The mount holding ``path``: the longest mount point that is ``path`` or one of its parents (the last one mounted wins)."""
    target = os.path.realpath(path)
    best: Mount | None = None
    for mount in mounts:
        point = mount.mount_point
        inside = target == point or point == "/" or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best.mount_point)):
            best = mount
    return best


def dir_link_counts(path: Path) -> bool:
    """Measured: does a directory in ``path`` with one subdirectory have link count 3 (2 + 1)?"""
    probe = Path(tempfile.mkdtemp(prefix=".dirqkit-nlink-", dir=path))
    try:
        (probe / "sub").mkdir()
        return os.lstat(probe).st_nlink == 3
    finally:
        (probe / "sub").rmdir()
        probe.rmdir()


def writable_problem(path: Path) -> str | None:
    """Why queues cannot be made under ``path`` (None: they can); tried, not guessed from the mode bits."""
    if not path.exists():
        return f"{path} does not exist"
    if not path.is_dir():
        return f"{path} is not a directory"
    try:
        Path(tempfile.mkdtemp(prefix=".dirqkit-probe-", dir=path)).rmdir()
    except OSError as exc:
        return f"cannot create a directory in {path}: {exc.strerror or exc}"
    return None


def describe(path: Path, mountinfo: Path = MOUNTINFO) -> dict[str, Any]:
    """The facts a report records about where the queues of a run live."""
    try:
        mount = mount_of(path, parse_mountinfo(mountinfo.read_text(encoding="utf-8", errors="replace")))
    except OSError:
        mount = None  # not Linux: no mount table to read
    vfs = os.statvfs(path)
    return {
        "dir": str(Path(path).resolve()),
        "filesystem": mount.fstype if mount else "unknown",
        "mount_point": mount.mount_point if mount else None,
        "mount_source": mount.source if mount else None,
        "mount_options": mount.options if mount else None,
        "super_options": mount.super_options if mount else None,
        "read_only": bool(vfs.f_flag & os.ST_RDONLY),
        "max_name_length": vfs.f_namemax,
        "dir_link_counts": dir_link_counts(path),
    }
