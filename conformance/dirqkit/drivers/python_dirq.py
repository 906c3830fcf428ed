"""Driver for python-dirq (``import dirq``): ``python -m dirqkit.drivers.python_dirq``.

python-dirq names no error kind, so its exceptions are mapped:

- ``QueueError`` by its message: "invalid element name" -> invalid_name;
  any message about the schema -> invalid_schema; "not locked" ->
  not_locked; "already in the set" -> invalid_option; every other one
  (unexpected or missing data, bad table line, missing data file) ->
  invalid_data;
- ``OSError`` by op and errno (``errnomap``; python-dirq often formats the
  errno into the message only, where it is read back): lock EEXIST ->
  locked, lock ENOENT -> not_found, unlock and get ENOENT -> not_locked,
  touch, add_path and remove ENOENT -> not_found, remove of a missing
  ``.lck`` -> not_locked with effect unknown; others -> io;
- ``UnicodeError`` -> invalid_data; ``NotImplementedError`` -> unsupported;
  ``TypeError`` from a constructor -> invalid_option.

python-dirq has no maxtemp/maxlock constructor options (purge takes them per
call) and no nlink option: opening with them is refused as unsupported.
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar

from .errnomap import errno_failure, errno_of
from .server import Failure, serve


class DirqAdapter:
    name = "python-dirq"
    language = "python"
    queue_types: tuple[str, ...] = ("simple", "normal", "null", "set")
    features: tuple[str, ...] = ("batch",)
    options: ClassVar[dict[str, tuple[str, ...]]] = {"simple": ("umask", "rndhex", "granularity"), "normal": ("umask", "rndhex", "maxelts"), "null": ()}

    def __init__(self) -> None:
        import dirq
        from dirq.Exceptions import QueueError

        self.dirq = dirq
        self.version = dirq.VERSION
        self.queue_error = QueueError

    def open(self, qtype: str, path: str, options: dict[str, Any], schema: dict[str, Any] | None) -> Any:
        if qtype == "simple":
            from dirq.QueueSimple import QueueSimple

            return QueueSimple(path, **options)
        if qtype == "normal":
            from dirq.queue import Queue

            return Queue(path, **options, **({"schema": schema} if schema is not None else {}))
        from dirq.QueueNull import QueueNull

        return QueueNull()

    def make_set(self, queues: list[Any]) -> Any:
        from dirq.QueueSet import QueueSet

        return QueueSet(*queues)

    def failure(self, op: str, exc: Exception) -> Failure | None:
        message = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, self.queue_error):
            text = str(exc)
            if "invalid element name" in text:
                return Failure("invalid_name", message)
            if "schema" in text:
                return Failure("invalid_schema", message)
            if "not locked" in text:
                return Failure("not_locked", message)
            if "already in the set" in text:
                return Failure("invalid_option", message)
            return Failure("invalid_data", message)
        if isinstance(exc, UnicodeError):
            return Failure("invalid_data", message)
        if isinstance(exc, NotImplementedError):
            return Failure("unsupported", message)
        if isinstance(exc, TypeError) and op == "open":
            return Failure("invalid_option", message)
        if isinstance(exc, OSError):
            return errno_failure(op, errno_of(exc), message)
        return None


if __name__ == "__main__":
    sys.exit(serve(DirqAdapter))
