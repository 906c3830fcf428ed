"""Driver processes of their own, started like a role's actor (stress, crash and fault steps).

A case has one driver process per role, taken from the pool. The concurrency
steps need more processes than roles (two producers of one implementation)
and processes they may kill, which must never be the pool's. A :class:`Worker`
is a driver started with the same command line and environment as a role's
actor, with one queue opened, that the step closes itself; a healthy one is
kept for later workers of later cases (stress, crash, fault and syscalls steps
alike), so that most steps start no process at all.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any, ClassVar

from dirqkit.drivers.client import Actor, DriverClient, DriverError, OpError, batch_request
from dirqkit.drivers.protocol import BATCH_OPS, BadHistory, history_events


IDLE_LIMIT = 8  # idle processes kept per command line


class _Idle:
    """Healthy driver processes that workers gave back, by command line and environment.

    Starting a driver costs more than most stress steps' work per process, so a
    later worker of the same command takes one of these (its queues closed)
    instead of starting another, as the suite's own pool does across cases.
    """

    lock = threading.Lock()
    clients: ClassVar[dict[tuple[Any, ...], list[DriverClient]]] = {}

    @staticmethod
    def key(client: DriverClient) -> tuple[Any, ...]:
        env = tuple(sorted(client.env.items())) if client.env is not None else None
        return (tuple(client.argv), env, client.cwd, client.timeout, client.name)

    @classmethod
    def take(cls, client: DriverClient) -> DriverClient | None:
        """A kept process started like ``client`` that is still running (None: there is none)."""
        gone = []
        with cls.lock:
            idle = cls.clients.get(cls.key(client), [])
            while idle and not idle[-1].running:
                gone.append(idle.pop())  # it exited while idle: reaped, never used
            taken = idle.pop() if idle else None
        for dead in gone:
            dead.close(graceful=False)
        return taken

    @classmethod
    def give(cls, client: DriverClient) -> bool:
        with cls.lock:
            idle = cls.clients.setdefault(cls.key(client), [])
            if len(idle) < IDLE_LIMIT:
                idle.append(client)
                return True
        return False

    @classmethod
    def close_all(cls) -> None:
        with cls.lock:
            clients = [client for idle in cls.clients.values() for client in idle]
            cls.clients = {}
        for client in clients:
            client.close()


close_idle = _Idle.close_all  # at the end of a session


class Worker:
    """One extra driver process playing a role's implementation; ``call`` acts on its open queue.

    The process may be one an earlier worker gave back, and goes back when
    closed healthy: never one the kit killed, one that broke the protocol
    or timed out, nor one still traced (a tracer left attached).
    """

    def __init__(self, actor: Actor, label: str) -> None:
        if not isinstance(actor, DriverClient):
            raise TypeError(f"{label}: the stress, crash and fault steps start drivers like a role's, "
                            f"which needs a driver process, not {type(actor).__name__}")
        self.label = label
        self.implementation = actor.implementation
        self.client: DriverClient = DriverClient(actor.argv, name=actor.implementation, timeout=actor.timeout, env=actor.env, cwd=actor.cwd)
        self.handle: str | None = None
        self.killed: bool = False  # by the kit, on purpose

    @property
    def pid(self) -> int:
        assert self.client.pid is not None
        return self.client.pid

    def start(self, open_args: dict[str, Any] | None = None) -> Worker:
        reused = _Idle.take(self.client)
        if reused is not None:
            self.client = reused
        else:
            self.client.start()
        if open_args is not None:
            self.open(open_args)
        return self

    def open(self, open_args: dict[str, Any]) -> None:
        """Open (another) queue; later calls act on it."""
        if self.handle is not None:
            self.client.call("close", {"queue": self.handle})
        self.handle = str(self.client.call("open", open_args))

    def call(self, op: str, args: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        """The op's result; a batch op's history always as events (compact rows are expanded)."""
        result = self.client.call(op, batch_request(self.client, op, {"queue": self.handle, **(args or {})}), timeout)
        if op in BATCH_OPS and isinstance(result, dict) and "history" not in result:
            try:
                return {"count": result.get("count"), "history": history_events(result)}
            except BadHistory as exc:
                raise DriverError("ERROR", f"{op} result: {exc}", op, self.client.stderr_tail()) from None
        return result

    def kill(self) -> None:
        """SIGKILL the driver's process group (a child of ours, by its id)."""
        self.killed = True
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # RACE: it exited meanwhile

    def close(self) -> None:
        client = self.client
        if not self.killed and client.failed is None and client.running and not traced(self.pid):
            try:
                if self.handle is not None:
                    client.call("close", {"queue": self.handle})
                self.handle = None
                client.transcript.clear()
                if _Idle.give(client):
                    return
            except (DriverError, OpError):
                pass  # not fit for reuse
        client.close(graceful=client.failed is None)


def traced(pid: int) -> bool:
    """Whether a tracer (strace) is attached to the process; a process that is gone counts as traced."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("TracerPid:")) != 0
    except (OSError, StopIteration, ValueError):
        return not os.path.isdir("/proc/self")  # no /proc (not Linux): there is no strace either


class Spares:
    """Workers of one role for a traced step, each a healthy process kept from an earlier case when there is one.

    A driver that broke (a fault or a crash state it did not survive) is
    replaced: :meth:`prepare` starts (or takes) the successor in the background
    while the state is checked, which hides the driver's start-up time. A spare still unused at the end goes back to the
    idle processes for the next case, never wasted.
    """

    def __init__(self, actor: Actor, label: str) -> None:
        self.actor, self.label = actor, label
        self._next: Worker | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def prepare(self) -> None:
        """Have the next worker ready for :meth:`take` (after one was lost)."""
        if self._thread is not None:
            return

        def start() -> None:
            try:
                self._next = Worker(self.actor, self.label).start()
            except BaseException as exc:  # noqa: BLE001 - raised again by take()
                self._error = exc

        self._thread = threading.Thread(target=start, name=f"spare-{self.label}", daemon=True)
        self._thread.start()

    def _join(self) -> tuple[Worker | None, BaseException | None]:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        done = self._next, self._error
        self._next = self._error = None
        return done

    def take(self) -> Worker:
        worker, error = self._join()
        if error is not None:
            raise error
        return worker if worker is not None else Worker(self.actor, self.label).start()

    def close(self) -> None:
        worker, _ = self._join()  # a start that failed has nothing to close
        if worker is not None:
            worker.close()
