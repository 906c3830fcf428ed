"""Driver for dirqref, the reference implementation: ``python -m dirqkit.drivers.ref``.

dirqref errors carry their SPEC-3 kind, so the mapping is the identity; an
``io`` error may have happened half-way, so its effect is ``unknown``.

A dirqref QueueSet is iterated as a Python iterator; the stateful
``set_first``/``set_next`` ops hold one such iterator, which restarts by
itself when a member is added or removed (SET-5).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any, ClassVar

from dirqref import QueueNormal, QueueNull, QueueSet, QueueSimple
from dirqref.errors import DirqError

from dirqkit import __version__

from .server import Failure, serve

COMMON_OPTIONS = ("umask", "rndhex", "maxtemp", "maxlock")


class RefQueueSet(QueueSet):
    """dirqref's QueueSet with the first()/next() calls of Perl and python-dirq, over its own iterator."""

    _cursor: Iterator[tuple[Any, str]] = iter(())  # next() before first(): nothing

    def first(self) -> tuple[Any, Any]:
        self._cursor = iter(self)
        return self.next()

    def next(self) -> tuple[Any, Any]:
        return next(self._cursor, (None, None))


class RefAdapter:
    name = "dirqref"
    language = "python"
    version = __version__  # the kit's own; importlib.metadata would add a third to every driver start-up
    queue_types: tuple[str, ...] = ("simple", "normal", "null", "set")
    features: tuple[str, ...] = ("batch",)
    options: ClassVar[dict[str, tuple[str, ...]]] = {
        "simple": COMMON_OPTIONS + ("granularity",),
        "normal": COMMON_OPTIONS + ("maxelts", "nlink"),
        "null": (),
    }

    def open(self, qtype: str, path: str, options: dict[str, Any], schema: dict[str, Any] | None) -> Any:
        if qtype == "simple":
            return QueueSimple(path, **options)
        if qtype == "normal":
            return QueueNormal(path, schema, **options)
        return QueueNull()

    def make_set(self, queues: list[Any]) -> RefQueueSet:
        return RefQueueSet(*queues)

    def failure(self, op: str, exc: Exception) -> Failure | None:
        if isinstance(exc, DirqError):
            return Failure(exc.kind, str(exc), "unknown" if exc.kind == "io" else "none")
        return None


if __name__ == "__main__":
    sys.exit(serve(RefAdapter))
