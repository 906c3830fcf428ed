"""Driver for c-dirq through its shared library libdirq (ctypes), Simple queues only.

``python -m dirqkit.drivers.c_dirq [--lib PATH]``. The library is the one
given by ``--lib``, else ``$DIRQKIT_LIBDIRQ``, else ``ctypes.util.find_library("dirq")``.

How c-dirq's API meets the protocol:

- options map to its setters (umask, rndhex, granularity, maxtemp, maxlock),
  called after ``dirq_new`` (which already creates TOP); values that are not
  C ints are refused as invalid_option;
- the C API has no default for ``permissive``: an omitted one gets the
  spec's (lock permissive, unlock strict: SIMPLE-LOCK-4, SIMPLE-UNLOCK-1);
- purge has no arguments in C: per-call maxtemp/maxlock are set on the
  object for the call and restored after;
- c-dirq ``assert``s that a name is 23 characters: the driver answers
  invalid_name for other lengths (and NUL bytes) instead of letting the
  process abort; any other name goes to c-dirq as given;
- errors are errnos, mapped by op as in ``errnomap``.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
from collections.abc import Iterator
from typing import Any, ClassVar

from .errnomap import errno_failure
from .server import Failure, serve

ENV_VAR = "DIRQKIT_LIBDIRQ"
NAME_LENGTH = 23  # DDDDDDDD/EEEEEEEEEEEEEE

WRITER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_char), ctypes.c_size_t)
READER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_char), ctypes.c_size_t)


def locate_library(explicit: str | None) -> str | None:
    """Path (or soname) of libdirq: explicit, else $DIRQKIT_LIBDIRQ, else the system's."""
    given = explicit or os.environ.get(ENV_VAR)
    if given:
        return given
    import ctypes.util  # a sixth of a driver's start-up (subprocess, tempfile): only when it must search

    return ctypes.util.find_library("dirq")


class CDirqError(Exception):
    def __init__(self, errcode: int, message: str) -> None:
        super().__init__(message)
        self.errcode = errcode


class NameRefused(Exception):
    """A name c-dirq would assert on."""


def load_library(path: str) -> ctypes.CDLL:
    lib = ctypes.CDLL(path)
    q, s, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    signatures: dict[str, tuple[list[Any], Any]] = {
        "dirq_new": ([s], q), "dirq_free": ([q], None),
        "dirq_set_granularity": ([q, i], None), "dirq_set_rndhex": ([q, i], None),
        "dirq_set_umask": ([q, ctypes.c_uint], None), "dirq_set_maxlock": ([q, i], None),
        "dirq_set_maxtemp": ([q, i], None), "dirq_get_maxlock": ([q], i), "dirq_get_maxtemp": ([q], i),
        "dirq_first": ([q], s), "dirq_next": ([q], s),
        "dirq_add": ([q, WRITER], s), "dirq_add_path": ([q, s], s),
        "dirq_get": ([q, s, READER], i), "dirq_get_path": ([q, s], s),
        "dirq_lock": ([q, s, i], i), "dirq_unlock": ([q, s, i], i),
        "dirq_remove": ([q, s], i), "dirq_touch": ([q, s], i),
        "dirq_count": ([q], i), "dirq_purge": ([q], i),
        "dirq_get_errcode": ([q], i), "dirq_get_errstr": ([q], s), "dirq_clear_error": ([q], None),
    }
    for name, (argtypes, restype) in signatures.items():
        function = getattr(lib, name)
        function.argtypes, function.restype = argtypes, restype
    return lib


class CQueue:
    """A c-dirq Simple queue with the dirqref method set."""

    SETTERS: ClassVar[dict[str, str]] = {"umask": "dirq_set_umask", "rndhex": "dirq_set_rndhex", "granularity": "dirq_set_granularity",
               "maxtemp": "dirq_set_maxtemp", "maxlock": "dirq_set_maxlock"}

    def __init__(self, lib: ctypes.CDLL, path: str, options: dict[str, Any]) -> None:
        self.lib = lib
        self.dirq = lib.dirq_new(path.encode())
        self._check(-1 if lib.dirq_get_errcode(self.dirq) else 0)
        for option, value in options.items():
            getattr(lib, self.SETTERS[option])(self.dirq, value)

    def _check(self, result: int) -> int:
        """Raise the object's pending error if ``result`` signals one (-1 / NULL)."""
        code = self.lib.dirq_get_errcode(self.dirq)
        if result == -1 and code:
            message = (self.lib.dirq_get_errstr(self.dirq) or b"").decode("utf-8", "replace")
            self.lib.dirq_clear_error(self.dirq)
            raise CDirqError(code, message)
        return result

    def _text(self, value: bytes | None) -> str:
        if value is None:
            self._check(-1)
            raise CDirqError(0, "c-dirq returned no value and no error")
        return value.decode("utf-8", "surrogateescape")

    @staticmethod
    def _name(name: str) -> bytes:
        raw = name.encode("utf-8", "surrogateescape")
        if len(raw) != NAME_LENGTH or b"\0" in raw:
            raise NameRefused(f"invalid element name {name!r} (c-dirq asserts a {NAME_LENGTH}-character name)")
        return raw

    def add(self, data: bytes) -> str:
        sent = 0

        def write(_dirq: int, buffer: Any, size: int) -> int:
            nonlocal sent
            chunk = data[sent: sent + size]
            ctypes.memmove(buffer, chunk, len(chunk))
            sent += len(chunk)
            return len(chunk)

        return self._text(self.lib.dirq_add(self.dirq, WRITER(write)))

    def add_path(self, path: str) -> str:
        return self._text(self.lib.dirq_add_path(self.dirq, path.encode()))

    def lock(self, name: str, permissive: bool = True) -> bool:
        return self._check(self.lib.dirq_lock(self.dirq, self._name(name), int(permissive))) == 0

    def unlock(self, name: str, permissive: bool = False) -> bool:
        return self._check(self.lib.dirq_unlock(self.dirq, self._name(name), int(permissive))) == 0

    def touch(self, name: str) -> None:
        self._check(self.lib.dirq_touch(self.dirq, self._name(name)))

    def get(self, name: str) -> bytes:
        chunks: list[bytes] = []

        def read(_dirq: int, buffer: Any, size: int) -> int:
            chunks.append(ctypes.string_at(buffer, size))
            return 0

        self._check(self.lib.dirq_get(self.dirq, self._name(name), READER(read)))
        return b"".join(chunks)

    def get_path(self, name: str) -> str:
        return self._text(self.lib.dirq_get_path(self.dirq, self._name(name)))

    def remove(self, name: str) -> None:
        self._check(self.lib.dirq_remove(self.dirq, self._name(name)))

    def count(self) -> int:
        return self._check(self.lib.dirq_count(self.dirq))

    def __iter__(self) -> Iterator[str]:
        self.lib.dirq_clear_error(self.dirq)
        name = self.lib.dirq_first(self.dirq)
        while name is not None:
            yield name.decode("ascii")
            name = self.lib.dirq_next(self.dirq)
        self._check(-1)

    def purge(self, maxtemp: int | None = None, maxlock: int | None = None) -> None:
        saved = self.lib.dirq_get_maxtemp(self.dirq), self.lib.dirq_get_maxlock(self.dirq)
        try:
            if maxtemp is not None:
                self.lib.dirq_set_maxtemp(self.dirq, maxtemp)
            if maxlock is not None:
                self.lib.dirq_set_maxlock(self.dirq, maxlock)
            self._check(self.lib.dirq_purge(self.dirq))
        finally:
            self.lib.dirq_set_maxtemp(self.dirq, saved[0])
            self.lib.dirq_set_maxlock(self.dirq, saved[1])


class CAdapter:
    name = "c-dirq"
    language = "c"
    version: str
    queue_types: tuple[str, ...] = ("simple",)
    features: tuple[str, ...] = ("batch",)
    options: ClassVar[dict[str, tuple[str, ...]]] = {"simple": tuple(CQueue.SETTERS)}

    def __init__(self, path: str | None) -> None:
        if path is None:
            raise FileNotFoundError(f"libdirq not found: set {ENV_VAR} or pass --lib")
        self.lib = load_library(path)
        real = os.path.realpath(path)
        self.version = real.split(".so.", 1)[1] if ".so." in real else "unknown"

    def open(self, qtype: str, path: str, options: dict[str, Any], schema: dict[str, Any] | None) -> CQueue:
        return CQueue(self.lib, path, options)

    def make_set(self, queues: list[Any]) -> Any:
        raise AssertionError("c-dirq has no queue sets")  # never called: "set" is not in queue_types

    def failure(self, op: str, exc: Exception) -> Failure | None:
        if isinstance(exc, NameRefused):
            return Failure("invalid_name", str(exc))
        if isinstance(exc, ctypes.ArgumentError) and op in ("open", "purge"):
            return Failure("invalid_option", f"not a C int: {exc}")
        if isinstance(exc, CDirqError):
            return errno_failure(op, exc.errcode, str(exc))
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dirqkit.drivers.c_dirq", description=__doc__.splitlines()[0])
    parser.add_argument("--lib", metavar="PATH", help=f"libdirq to load (default: ${ENV_VAR}, then the system's)")
    args = parser.parse_args(argv)
    return serve(lambda: CAdapter(locate_library(args.lib)))


if __name__ == "__main__":
    sys.exit(main())
