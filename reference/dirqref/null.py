"""QueueNull: a sink that discards everything (NULL-1..4)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import NoReturn

from .errors import InvalidData, NotFound, Unsupported, io_error
from .options import check_path


class QueueNull:
    """A queue that stores nothing: add discards, iteration is empty."""

    path = "NULL"
    id = "NULL"

    def __repr__(self) -> str:
        return "QueueNull()"

    def add(self, data: object) -> str:
        """NULL-1: discard ``data``."""
        return ""

    def add_path(self, path: str) -> str:
        """NULL-2: unlink ``path``; failing to is an error."""
        source = check_path(path, "add_path", InvalidData)
        try:
            os.unlink(source)
        except FileNotFoundError:
            raise NotFound(f"cannot add {source}: no such file") from None
        except OSError as exc:
            raise io_error("unlink", source, exc) from None
        return ""

    def count(self) -> int:
        """NULL-3."""
        return 0

    def __iter__(self) -> Iterator[str]:
        """NULL-3."""
        return iter(())

    def purge(self, maxtemp: int | None = None, maxlock: int | None = None) -> None:
        """NULL-3: nothing to purge."""

    def _unsupported(self, operation: str) -> NoReturn:
        raise Unsupported(f"QueueNull does not support {operation}")  # NULL-4

    def lock(self, name: str, permissive: bool = True) -> bool:
        self._unsupported("lock")

    def unlock(self, name: str, permissive: bool = False) -> bool:
        self._unsupported("unlock")

    def touch(self, name: str) -> None:
        self._unsupported("touch")

    def get(self, name: str) -> object:
        self._unsupported("get")

    def get_path(self, name: str) -> str:
        self._unsupported("get_path")

    def remove(self, name: str) -> None:
        self._unsupported("remove")
