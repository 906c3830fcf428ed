"""Implementations under test and the pool of driver processes that play roles.

Drivers are long-lived: a worker starts a driver the first time a role needs
it and reuses it for later cases (each case opens its own queue). Two roles
played by one implementation in a case get two processes. A driver that
broke the protocol is dropped, never reused.
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass, field
from typing import Any

from dirqkit.crash.syscalls import tracing_unavailable
from dirqkit.drivers.client import (
    DriverClient,
    DriverError,
    DriverUnavailable,
    split_command,
)
from dirqkit.drivers.registry import DRIVERS
from dirqkit.suite.caseload import Case
from dirqkit.suite.roles import Assignment

FAKETIME_STARTS = 3  # tries at starting a driver under the faketime wrapper (see DriverPool.start)
# Case clocks are UTC; only the wall clock is faked. FAKETIME_FORCE_MONOTONIC_FIX=0: with the monotonic
# clock left alone, libfaketime 0.9.10's rewrite of pthread_cond_timedwait deadlines makes every timed wait
# of a JVM return at once, and an idle java driver spun at a third of a core for the whole run.
FAKETIME_ENV = {"FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_FORCE_MONOTONIC_FIX": "0", "NO_FAKE_STAT": "1", "TZ": "UTC"}


@dataclass
class Implementation:
    name: str
    command: list[str]
    available: bool
    reason: str
    hello: dict[str, Any] = field(default_factory=dict)

    @property
    def unavailable_reason(self) -> str | None:
        return None if self.available else f"{self.name} unavailable: {self.reason}"

    def unsupported_reason(self, case: Case) -> str | None:
        """Why this implementation cannot take part in ``case`` at all (None: it can)."""
        if not self.available:
            return None
        reason = self.unclaimed_reason(case)
        if reason:
            return reason
        if (case.faketime or case.clock) and shutil.which("faketime") is None:
            return "faketime is not installed (Debian package faketime)"
        if case.is_traced():
            return tracing_unavailable()
        return None

    def unclaimed_reason(self, case: Case) -> str | None:
        """The queue type, role or option of ``case`` that the implementation's hello does not claim (None: all)."""
        queue_type = case.queue["type"]
        for needed in [queue_type, *(m["type"] for m in case.queue.get("members", []))]:
            if needed not in self.hello.get("queue_types", []):
                return f"{self.name} does not support {needed} queues"
        missing = sorted(set(case.roles.values()) - set(self.hello.get("roles", [])))
        if missing:
            return f"{self.name} does not play {', '.join(missing)}"
        known_options = self.hello.get("options", {}).get(queue_type)
        if known_options is not None:
            missing = sorted(case.option_names() - set(known_options))
            if missing:
                return f"{self.name} {queue_type} queues have no option {', '.join(missing)}"
        return None


class DriverPool:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._idle: dict[tuple[str, tuple[str, ...]], list[DriverClient]] = {}
        self._all: list[DriverClient] = []
        self._keys: dict[int, tuple[str, tuple[str, ...]]] = {}
        self._lock = threading.Lock()

    def start(self, name: str, command: list[str], faketime: str | None = None, umask: str | None = None) -> DriverClient:
        """A driver process; under ``faketime -f`` and with a process umask when a case asks for them."""
        env = None
        if faketime:
            command = ["faketime", "-f", faketime, *command]
            env = {**os.environ, **FAKETIME_ENV}
        if umask:
            command = ["sh", "-c", f'umask {int(umask, 8):03o} && exec "$@"', "sh", *command]
        attempt = 1
        while True:
            client = DriverClient(command, name=name, timeout=self.timeout, env=env)
            with self._lock:
                self._all.append(client)
                self._keys[id(client)] = (name, _variant(faketime, umask))
            try:
                client.start()
                return client
            except DriverError as exc:
                # RACE: the faketime wrapper names a semaphore after its pid; a stale one left by an earlier
                # process with that pid makes it exit before the driver starts. The kit's start-up, not the driver.
                if not faketime or "sem_open" not in exc.stderr_tail or attempt == FAKETIME_STARTS:
                    raise
                attempt += 1

    def actors(self, assignment: Assignment, implementations: dict[str, Implementation],
               case: Case) -> dict[str, DriverClient]:
        """One driver process per role, reusing idle ones; a role runs under faketime if the case sets its time or clock."""
        taken: dict[str, DriverClient] = {}
        try:
            for role, name in assignment.pairs:
                faketime, umask = case.faketime_of(role), case.umask
                with self._lock:
                    key = (name, _variant(faketime, umask))
                    idle = self._idle.get(key, [])
                    client = idle.pop() if idle else None
                if client is None:
                    client = self.start(name, implementations[name].command, faketime, umask)
                client.transcript.clear()  # the evidence of a failure is this case's messages only
                taken[role] = client
        except BaseException:
            self.release(taken)
            raise
        return taken

    def release(self, actors: dict[str, DriverClient]) -> None:
        for client in actors.values():
            if client.failed is not None:
                client.close(graceful=False)
                continue
            with self._lock:
                self._idle.setdefault(self._keys[id(client)], []).append(client)

    def close_all(self) -> None:
        with self._lock:
            clients, self._all, self._idle, self._keys = self._all, [], {}, {}
        for client in clients:
            client.close()


def _variant(faketime: str | None, umask: str | None) -> tuple[str, ...]:
    """How a driver process was started, beyond its command: only equal variants are reused."""
    return (*((faketime,) if faketime else ()), *((f"umask={umask}",) if umask else ()))


def discover(selected: list[str], extra: dict[str, str], pool: DriverPool) -> dict[str, Implementation]:
    """The implementations to run: the selected known ones (default all) plus ``extra`` drivers.

    A known driver whose probe fails, or that does not start, is unavailable
    with the reason; a driver given on the command line must start.
    """
    unknown = [n for n in selected if n not in DRIVERS and n not in extra]
    if unknown:
        raise ValueError(f"unknown implementation(s) {', '.join(unknown)}; known: {', '.join(DRIVERS)} "
                         "(add others with --driver CMD --name NAME)")
    names = selected or [*DRIVERS, *extra]
    found: dict[str, Implementation] = {}
    for name in names:
        if name in extra:
            command, (available, reason) = split_command(extra[name]), (True, "given on the command line")
        else:
            spec = DRIVERS[name]
            command, (available, reason) = list(spec.command), spec.probe()
        impl = Implementation(name, command, available, reason)
        if available:
            try:
                probe = pool.start(name, command)
                impl.hello = probe.hello
                pool.release({"probe": probe})
            except DriverUnavailable as exc:
                impl.available, impl.reason = False, str(exc)
            except DriverError as exc:
                impl.available, impl.reason = False, f"driver failed to start: {exc}"
                if name in extra:
                    raise ValueError(f"driver {name} ({' '.join(command)}) does not work: {exc}") from None
        found[name] = impl
    return found
