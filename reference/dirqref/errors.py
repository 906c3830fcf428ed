"""Errors raised by dirqref; each carries its SPEC-3 ``kind``."""

from __future__ import annotations

from typing import ClassVar


class DirqError(Exception):
    """Base of every dirqref error; ``kind`` is the SPEC-3 error vocabulary word."""

    kind: ClassVar[str] = "io"


class InvalidName(DirqError):
    """An element identifier that does not match the ABNF (NAME-10)."""

    kind = "invalid_name"


class InvalidSchema(DirqError):
    """A Normal schema that breaks SCHEMA-1..5, or add/get without a schema (SCHEMA-6)."""

    kind = "invalid_schema"


class InvalidData(DirqError):
    """Data that does not fit the queue (NORMAL-ADD-1, TABLE-4/5, NORMAL-FIELD-2/3)."""

    kind = "invalid_data"


class InvalidOption(DirqError):
    """A constructor or purge option out of its domain (COMMON-3, COMMON-8, ...)."""

    kind = "invalid_option"


class NotFound(DirqError):
    """The element (or the file given to add_path) does not exist."""

    kind = "not_found"


class NotLocked(DirqError):
    """The operation needs a lock the element does not have."""

    kind = "not_locked"


class Locked(DirqError):
    """Strict lock of an element that is already locked."""

    kind = "locked"


class Unsupported(DirqError):
    """The queue type does not implement the operation (SPEC-2, NULL-4)."""

    kind = "unsupported"


class QueueIOError(DirqError):
    """A filesystem operation failed for a reason the format does not tolerate."""

    kind = "io"

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno


def io_error(action: str, path: str, exc: OSError) -> QueueIOError:
    """The QueueIOError for ``action`` on ``path`` that failed with ``exc``."""
    return QueueIOError(f"cannot {action} {path}: {exc.strerror or exc}", exc.errno)


def refused(permissive: bool, error: DirqError) -> bool:
    """The answer of a lock or unlock that did not happen: False when permissive, else ``error``."""
    if permissive:
        return False
    raise error from None
