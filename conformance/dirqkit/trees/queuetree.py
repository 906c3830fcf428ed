"""A queue tree as the kit reads it from disk, with no implementation involved.

The crash and fault steps judge the trees killed or failed operations leave
behind: which elements exist and what their payload digests are, which temps,
locks, orphan locks and obsolete entries remain (:func:`read_tree`); and time
moved forward by backdating (:func:`backdate`).
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from dirqref.names import is_directory_name, is_element_name


@dataclass
class Tree:
    """The queue as the kit reads it from disk (no implementation involved)."""

    elements: dict[str, str | None]  # name -> sha256 of the payload (None: a partial Normal element)
    temps: list[str]
    locks: dict[str, float]  # locked element -> lock time (Simple: the inode's mtime; Normal: the element directory's)
    orphans: list[str]  # Simple locks without element
    obsolete: list[str]


def read_tree(top: Path, queue_type: str, field_name: str | None) -> Tree:
    tree = Tree({}, [], {}, [], [])
    if queue_type == "normal":
        for pending in ("temporary", "obsolete"):
            entries = sorted(os.listdir(top / pending)) if (top / pending).is_dir() else []
            (tree.temps if pending == "temporary" else tree.obsolete).extend(f"{pending}/{e}" for e in entries)
    for directory in sorted(os.listdir(top)) if top.is_dir() else []:
        path = top / directory
        if not is_directory_name(directory) or path.is_symlink() or not path.is_dir():
            continue
        names = sorted(os.listdir(path))
        for name in names:
            entry, stem = path / name, name.split(".", 1)[0]
            if queue_type == "simple":
                if name.endswith(".tmp"):
                    tree.temps.append(f"{directory}/{name}")
                elif name.endswith(".lck") and is_element_name(stem):
                    if stem in names:
                        tree.locks[f"{directory}/{stem}"] = entry.lstat().st_mtime
                    else:
                        tree.orphans.append(f"{directory}/{stem}")
                elif is_element_name(name) and entry.is_file() and not entry.is_symlink():
                    tree.elements[f"{directory}/{name}"] = _sha_of(entry)
            elif is_element_name(name) and entry.is_dir() and not entry.is_symlink():
                assert field_name is not None
                tree.elements[f"{directory}/{name}"] = _sha_of(entry / field_name)
                if (entry / "locked").is_dir():
                    tree.locks[f"{directory}/{name}"] = entry.lstat().st_mtime
    return tree


def _sha_of(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def backdate(top: Path, seconds: float, *, shift: bool = False) -> None:
    """Set every mtime under ``top`` to now - seconds, or (``shift``) move it that far back."""
    now = time.time()
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            when = os.lstat(path).st_mtime - seconds if shift else now - seconds
            os.utime(path, (when, when), follow_symlinks=False)
