"""An exact copy of a directory tree, as it is at one moment (the crash explorer's crash states).

:func:`copy_tree` copies everything below a directory without following
anything: file contents, modes, atimes and mtimes to the nanosecond (a
directory's are set after it is filled), hard links between files of the tree
(one inode in the copy too, with the same link count), symbolic links as
links, FIFOs and device or socket nodes as such, and empty directories. Each
entry is looked at (``lstat``) before it is read, so that the reading does not
change the times it copies. Owners are not copied (the copy is the caller's).
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

NODES = (stat.S_ISFIFO, stat.S_ISCHR, stat.S_ISBLK, stat.S_ISSOCK)


class CopyError(Exception):
    """An entry of the tree could not be copied; names it."""


def copy_tree(source: Path, dest: Path) -> None:
    """Copy ``source`` (a directory) to ``dest`` (which must not exist)."""
    try:
        _copy(source, dest, {})
    except OSError as exc:
        raise CopyError(f"cannot copy {exc.filename or source}: {exc.strerror or exc}") from None


def _copy(source: Path, dest: Path, inodes: dict[tuple[int, int], Path]) -> None:
    info = os.lstat(source)
    mode = info.st_mode
    if stat.S_ISREG(mode) and info.st_nlink > 1:
        first = inodes.get((info.st_dev, info.st_ino))
        if first is not None:
            os.link(first, dest, follow_symlinks=False)  # mode and times are the inode's: copied with the first name
            return
        inodes[(info.st_dev, info.st_ino)] = dest
    if stat.S_ISDIR(mode):
        os.mkdir(dest, 0o700)
        for name in sorted(os.listdir(source)):
            _copy(source / name, dest / name, inodes)
    elif stat.S_ISREG(mode):
        shutil.copyfile(source, dest, follow_symlinks=False)
    elif stat.S_ISLNK(mode):
        os.symlink(os.readlink(source), dest)
    elif any(kind(mode) for kind in NODES):
        os.mknod(dest, mode, info.st_rdev)
    else:
        raise OSError(0, f"unknown kind of entry (mode {mode:o})", str(source))
    if not stat.S_ISLNK(mode):  # a symlink's own mode cannot be set on Linux
        os.chmod(dest, stat.S_IMODE(mode))
    os.utime(dest, ns=(info.st_atime_ns, info.st_mtime_ns), follow_symlinks=False)
