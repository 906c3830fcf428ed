"""Driver for dirqref, the reference implementation: ``python -m dirqkit.drivers.ref``.

dirqref errors carry their SPEC-3 kind, so the mapping is the identity; an
``io`` error may have happened half-way, so its effect is ``unknown``.
"""

from __future__ import annotations

import sys
from importlib.metadata import version
from typing import Any, ClassVar

from dirqref import QueueNormal, QueueNull, QueueSet, QueueSimple
from dirqref.errors import DirqError

from .server import Failure, serve

COMMON_OPTIONS = ("umask", "rndhex", "maxtemp", "maxlock")


class RefAdapter:
    name = "dirqref"
    language = "python"
    version = version("dirqkit")
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

    def make_set(self, queues: list[Any]) -> QueueSet:
        return QueueSet(*queues)

    def failure(self, op: str, exc: Exception) -> Failure | None:
        if isinstance(exc, DirqError):
            return Failure(exc.kind, str(exc), "unknown" if exc.kind == "io" else "none")
        return None


if __name__ == "__main__":
    sys.exit(serve(RefAdapter))
