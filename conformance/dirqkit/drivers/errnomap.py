"""Error kinds for implementations that report a bare errno (python-dirq, c-dirq).

Such implementations name no error kind: the kind follows from which op
failed with which errno. Everything unforeseen is ``io`` with effect
``unknown`` (the op may have happened in part).
"""

from __future__ import annotations

import errno
import re

from .server import Failure

ERRNO_IN_TEXT = re.compile(r"\[Errno (\d+)\]")

# (op, errno) -> kind, for the ops whose errno says what went wrong (SPEC-3)
KINDS = {
    ("lock", errno.EEXIST): "locked",  # SIMPLE-LOCK-2, NORMAL-LOCK-1
    ("lock", errno.ENOENT): "not_found",
    ("unlock", errno.ENOENT): "not_locked",  # SIMPLE-UNLOCK-1, NORMAL-UNLOCK-1
    ("get", errno.ENOENT): "not_locked",  # SIMPLE-GET-1: the .lck is missing
    ("touch", errno.ENOENT): "not_found",
    ("add_path", errno.ENOENT): "not_found",
    ("remove", errno.ENOENT): "not_found",
}


def errno_of(exc: OSError) -> int | None:
    """The errno of an OSError, also when it was only formatted into the message."""
    if exc.errno:
        return exc.errno
    found = ERRNO_IN_TEXT.search(str(exc))
    return int(found.group(1)) if found else None


def errno_failure(op: str, code: int | None, message: str) -> Failure:
    kind = KINDS.get((op, code or 0))
    if kind is None:
        return Failure("io", message, "unknown")
    if op == "remove" and ".lck" in message:
        # Simple remove unlinks the element before its lock: a missing lock is
        # noticed after the element is gone (SIMPLE-REMOVE-1 deviation).
        return Failure("not_locked", message, "unknown")
    return Failure(kind, message)
