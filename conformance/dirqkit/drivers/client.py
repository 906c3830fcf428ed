"""The kit's side of the driver protocol (PROTOCOL.md): spawn, talk, reap.

A :class:`DriverClient` runs one driver command in its own process group,
does the ``hello`` handshake and sends requests one at a time, each with a
timeout. Error replies raise :class:`OpError`; a driver that
breaks the protocol raises :class:`DriverError` whose ``outcome`` names what
happened:

- ``ERROR``: garbage on stdout, a reply with the wrong ``seq`` or shape
  (or, with ``validate=True``, one its JSON Schema rejects);
- ``TIMEOUT``: no reply within the timeout;
- ``CRASH``: the driver exited or closed stdout before replying.

After a DriverError the driver is killed and the client is unusable. Every
message is kept in a bounded transcript and stderr in a bounded buffer; both
go into failure reports. Processes are reaped on ``close()``, on leaving a
``with`` block and at interpreter exit.
"""

from __future__ import annotations

import atexit
import collections
import errno
import fcntl
import json
import os
import select
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self

from dirqkit import resources
from dirqkit.drivers.protocol import BATCH_OPS, COMPACT_HISTORY, EFFECTS, ERROR_KINDS, PROTOCOL_VERSION

READ_CHUNK = 1 << 18
STDERR_LIMIT = 64 * 1024
TRANSCRIPT_LIMIT = 2000


class OpError(Exception):
    """An operation the implementation refused: the protocol's error reply."""

    def __init__(self, kind: str, message: str, effect: str = "none") -> None:
        super().__init__(f"{kind}: {message}")
        self.kind, self.message, self.effect = kind, message, effect


class Actor(Protocol):
    """One role's connection to an implementation (a driver)."""

    implementation: str

    def call(self, op: str, args: dict[str, Any]) -> Any:
        """Return the op's result or raise OpError; broken drivers raise DriverError."""


class DriverError(Exception):
    """The driver broke the protocol: ``outcome`` is ERROR, TIMEOUT or CRASH."""

    def __init__(self, outcome: str, message: str, op: str | None, stderr_tail: str = "") -> None:
        super().__init__(f"{outcome} during {op or 'startup'}: {message}")
        self.outcome, self.message, self.op, self.stderr_tail = outcome, message, op, stderr_tail


class DriverUnavailable(Exception):
    """The driver runs but answered hello with ``unsupported``: its implementation cannot be used here."""


def batch_request(actor: object, op: str, args: dict[str, Any]) -> dict[str, Any]:
    """A request's arguments, asking for the compact history (PROTOCOL.md 2.4) of a batch op when
    the actor's driver announced it; drivers that did not get the events form's request unchanged."""
    hello = getattr(actor, "hello", None)
    if op in BATCH_OPS and isinstance(hello, dict) and COMPACT_HISTORY in hello.get("features", ()):
        return {**args, "history": "compact"}
    return args


def split_command(command: str | Sequence[str]) -> list[str]:
    """A driver command line: a shell-like string (shlex-split, no shell) or an argv list, kept opaque."""
    argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    if not argv:
        raise ValueError("empty driver command")
    return argv


class ProtocolValidator:
    """The protocol's JSON Schemas (schemas/driver-*.json), for requests and replies."""

    def __init__(self) -> None:
        import jsonschema
        from referencing import Registry, Resource

        schemas = []
        for path in sorted(resources.schemas_dir().glob("driver-*.json")):
            schema = json.loads(path.read_text(encoding="utf-8"))
            schemas.append((schema["$id"], Resource.from_contents(schema)))
        self.registry: Registry = Registry().with_resources(schemas)
        self.base = schemas[0][0].rsplit("/", 1)[0] + "/"
        self._validators: dict[str, Any] = {}
        self._jsonschema = jsonschema

    def _validator(self, ref: str) -> Any:
        if ref not in self._validators:
            schema = {"$ref": self.base + ref}
            self._validators[ref] = self._jsonschema.Draft202012Validator(schema, registry=self.registry)
        return self._validators[ref]

    def errors(self, ref: str, message: Any) -> list[str]:
        """One line per problem: the JSON path and what is wrong there."""
        found = sorted(self._validator(ref).iter_errors(message), key=lambda e: list(e.absolute_path))
        return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in found]

    def knows(self, op: str) -> bool:
        return (resources.schemas_dir() / f"driver-op-{op}.json").is_file()

    def request_errors(self, message: Mapping[str, Any]) -> list[str]:
        return self.errors(f"driver-op-{message['op']}.json#/$defs/request", message)

    def reply_errors(self, op: str, reply: Any) -> list[str]:
        problems = self.errors("driver-reply.json", reply)
        if not problems and reply.get("ok") and self.knows(op):
            problems = [f"result/{p}" for p in self.errors(f"driver-op-{op}.json#/$defs/result", reply["result"])]
        return problems


@cache
def protocol_validator() -> ProtocolValidator:
    return ProtocolValidator()


class _Live:
    """Every client with a process, killed at interpreter exit."""

    clients: ClassVar[set[DriverClient]] = set()
    lock = threading.Lock()

    @classmethod
    def kill_all(cls) -> None:
        with cls.lock:
            clients = list(cls.clients)
        for client in clients:
            client.close(graceful=False)


atexit.register(_Live.kill_all)


class DriverClient:
    """One running driver process, spoken to in protocol v1."""

    def __init__(
        self,
        command: str | Sequence[str],
        *,
        name: str | None = None,
        timeout: float = 30.0,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        validate: bool = False,
    ) -> None:
        self.argv = split_command(command)
        self.name = name
        self.timeout = timeout
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.validator = protocol_validator() if validate else None
        self.hello: dict[str, Any] = {}
        self.transcript: collections.deque[tuple[float, str, bytes]] = collections.deque(maxlen=TRANSCRIPT_LIMIT)
        self.proc: subprocess.Popen[bytes] | None = None
        self.failed: DriverError | None = None
        self._seq = 0
        self._buffer = bytearray()
        self._stderr = bytearray()
        self._stderr_lock = threading.Lock()
        self._stderr_thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._inflight = False
        self._reaped = False
        self._shutdown_sent = False

    @property
    def implementation(self) -> str:
        """The implementation's name: the one given, else the one the driver announced."""
        return self.name or str(self.hello.get("implementation", {}).get("name", self.argv[0]))

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def running(self) -> bool:
        """Started, not reaped, and not exited."""
        return self.proc is not None and not self._reaped and not self._exited()

    # -- life cycle --------------------------------------------------------

    def start(self) -> dict[str, Any]:
        """Spawn the driver and do the handshake; return the hello result."""
        if self.proc is not None:
            raise RuntimeError("driver already started")
        try:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                bufsize=0, env=self.env, cwd=self.cwd, start_new_session=True,  # own process group
            )
        except OSError as exc:
            raise DriverError("ERROR", f"cannot start {shlex.join(self.argv)}: {exc.strerror or exc}", "spawn") from None
        with _Live.lock:
            _Live.clients.add(self)
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr
        os.set_blocking(self.proc.stdin.fileno(), False)
        _widen_pipe(self.proc.stdout.fileno())
        self._poll_out = select.poll()
        self._poll_out.register(self.proc.stdout.fileno(), select.POLLIN)
        self._poll_in = select.poll()
        self._poll_in.register(self.proc.stdin.fileno(), select.POLLOUT)
        self._stderr_thread = threading.Thread(target=self._drain_stderr, name=f"driver-stderr-{self.proc.pid}", daemon=True)
        self._stderr_thread.start()
        try:
            self.hello = self.call("hello", {"protocol": PROTOCOL_VERSION})
        except OpError as exc:
            self.close(graceful=False)
            if exc.kind == "unsupported":
                raise DriverUnavailable(exc.message) from None
            raise self._fail("ERROR", f"hello failed: {exc.kind}: {exc.message}", "hello") from None
        if not isinstance(self.hello, dict) or self.hello.get("protocol") != PROTOCOL_VERSION:
            raise self._fail("ERROR", f"hello result does not announce protocol {PROTOCOL_VERSION}: {self.hello!r:.200}", "hello")
        return self.hello

    def __enter__(self) -> Self:
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self, graceful: bool = True, grace: float = 2.0) -> int | None:
        """Stop the driver (shutdown when it is healthy, else kill); reap it; return its exit status."""
        proc = self.proc
        if proc is None:
            return None
        if graceful and self.failed is None and not self._inflight and not self._shutdown_sent and not self._exited():
            try:
                self.call("shutdown", timeout=grace)
            except (DriverError, OpError):
                pass
        self._terminate(grace if graceful else 0.0)
        return proc.returncode

    def _terminate(self, grace: float) -> None:
        """Close stdin, give the driver ``grace`` seconds to exit, kill its process group, reap it."""
        proc = self.proc
        assert proc is not None and proc.stdin and proc.stdout
        if self._reaped:
            return
        if not proc.stdin.closed:
            proc.stdin.close()
        deadline = time.monotonic() + grace
        pause = 0.0005
        while not self._exited() and time.monotonic() < deadline:
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the unreaped leader keeps the group id ours
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
        proc.stdout.close()
        if self._stderr_thread:
            self._stderr_thread.join(timeout=1.0)
        self._reaped = True
        with _Live.lock:
            _Live.clients.discard(self)

    def _exited(self) -> bool:
        return self._exit_status() is not None

    def _exit_status(self) -> int | None:
        """The driver's status (negative: killed by that signal) if it exited, else None.

        The driver is not reaped here, so its process group id stays ours to kill.
        """
        assert self.proc is not None
        if self.proc.returncode is not None:
            return self.proc.returncode
        try:
            info = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # reaped elsewhere (e.g. a SIGCHLD handler)
            return self.proc.poll()
        if info is None:
            return None
        return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status

    # -- requests --------------------------------------------------------

    def request(self, op: str, /, **args: Any) -> Any:
        """``request("lock", queue=h, name=n)``: the result, or OpError / DriverError."""
        return self.call(op, args)

    def call(self, op: str, args: Mapping[str, Any] | None = None, timeout: float | None = None) -> Any:
        """Send one request and wait for its reply (``timeout`` defaults to the client's)."""
        with self._lock:
            if self.failed is not None:
                raise self.failed
            if self.proc is None:
                raise DriverError("ERROR", "driver not started", op)
            seq = self._seq
            self._seq += 1
            self._shutdown_sent |= op == "shutdown"
            message = {"seq": seq, "op": op, **(args or {})}
            if self.validator and self.validator.knows(op):
                problems = self.validator.request_errors(message)
                if problems:
                    raise ValueError(f"kit bug: request {op} does not match its schema: {'; '.join(problems)}")
            line = json.dumps(message, separators=(",", ":")).encode("ascii") + b"\n"
            deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
            self._inflight = True
            self._send(line, op, deadline)
            reply = self._receive(op, seq, deadline)
            self._inflight = False
        if reply["ok"]:
            return reply["result"]
        error = reply["error"]
        raise OpError(error["kind"], error["message"], error.get("effect", "none"))

    def _send(self, line: bytes, op: str, deadline: float) -> None:
        assert self.proc and self.proc.stdin
        self.transcript.append((time.time(), ">", line))
        fd = self.proc.stdin.fileno()
        view = memoryview(line)
        while view:
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                if not self._poll_in.poll(max(0.0, deadline - time.monotonic()) * 1000):
                    raise self._fail("TIMEOUT", "driver does not read its stdin", op) from None
            except BrokenPipeError:
                raise self._fail("CRASH", self._exit_story("before reading the request"), op) from None

    def _receive(self, op: str, seq: int, deadline: float) -> dict[str, Any]:
        line = self._read_line(op, deadline)
        self.transcript.append((time.time(), "<", line))
        try:
            reply = json.loads(line.decode("utf-8"))  # a str parses faster than bytes (no surrogatepass decoding)
        except ValueError:  # UnicodeDecodeError too
            raise self._fail("ERROR", f"stdout carried a line that is not JSON: {_clip(line)}", op) from None
        problem = _envelope_problem(reply, seq)
        if problem:
            raise self._fail("ERROR", f"{problem}: {_clip(line)}", op)
        if self.validator:
            problems = self.validator.reply_errors(op, reply)
            if problems:
                raise self._fail("ERROR", f"reply to {op} does not match the protocol schema: {'; '.join(problems)}", op)
        return reply  # type: ignore[no-any-return]

    def _read_line(self, op: str, deadline: float) -> bytes:
        assert self.proc and self.proc.stdout
        fd = self.proc.stdout.fileno()
        scanned = 0  # the buffer before this offset holds no newline
        while True:
            end = self._buffer.find(b"\n", scanned)
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                return line
            scanned = len(self._buffer)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._poll_out.poll(remaining * 1000):
                if self._buffer:
                    raise self._fail("TIMEOUT", f"no end of line after {_clip(bytes(self._buffer))}", op)
                raise self._fail("TIMEOUT", f"no reply within {self.timeout if remaining <= 0 else remaining:g} s", op)
            chunk = os.read(fd, READ_CHUNK)
            if not chunk:
                raise self._fail("CRASH", self._exit_story("before replying"), op)
            self._buffer += chunk

    # -- failure evidence --------------------------------------------------

    def _exit_story(self, when: str) -> str:
        """How the driver went away, waiting a moment for its exit status."""
        assert self.proc is not None
        deadline = time.monotonic() + 1.0
        while (code := self._exit_status()) is None and time.monotonic() < deadline:
            time.sleep(0.005)
        if code is None:
            return f"driver closed its stdout {when} but is still running"
        if code < 0:
            return f"driver was killed by signal {signal.Signals(-code).name} {when}"
        return f"driver exited with status {code} {when}"

    def _fail(self, outcome: str, message: str, op: str) -> DriverError:
        """Kill the driver and build the error (with stderr's tail); later calls raise it again."""
        self._inflight = False
        if self.proc is not None:
            self._terminate(0.0)
        self.failed = DriverError(outcome, message, op, self.stderr_tail())
        return self.failed

    def _drain_stderr(self) -> None:
        assert self.proc and self.proc.stderr
        fd = self.proc.stderr.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                break
            if not chunk:
                break
            with self._stderr_lock:
                self._stderr += chunk
                if len(self._stderr) > STDERR_LIMIT:
                    del self._stderr[: len(self._stderr) - STDERR_LIMIT]
        self.proc.stderr.close()

    def stderr_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines the driver wrote on stderr."""
        with self._stderr_lock:
            text = self._stderr.decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def save_transcript(self, path: Path) -> None:
        """Write the transcript as JSON lines: {"time", "dir": ">" (to driver) or "<", "line"}."""
        with open(path, "w", encoding="utf-8") as out:
            out.writelines(json.dumps({"time": stamp, "dir": direction, "line": line.decode("utf-8", "replace")}) + "\n" for stamp, direction, line in self.transcript)
            tail = self.stderr_tail()
            if tail:
                out.write(json.dumps({"time": time.time(), "dir": "stderr", "line": tail}) + "\n")


def _widen_pipe(fd: int) -> None:
    """Let big replies (batch histories) cross in fewer context switches (Linux; best effort)."""
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, READ_CHUNK)
    except (AttributeError, OSError):
        pass


def _clip(line: bytes, limit: int = 200) -> str:
    text = line.decode("utf-8", "replace")
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _envelope_problem(reply: Any, seq: int) -> str | None:
    """The cheap checks every reply gets (the JSON Schema adds the rest when validating)."""
    if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
        return "reply is not an object with a boolean ok"
    if reply.get("seq") != seq or isinstance(reply.get("seq"), bool):
        return f"reply seq {reply.get('seq')!r} does not match request seq {seq}"
    if reply["ok"]:
        return None if "result" in reply else "ok reply has no result"
    error = reply.get("error")
    if not isinstance(error, dict) or error.get("kind") not in ERROR_KINDS or not isinstance(error.get("message"), str):
        return f"error reply needs error.kind in {{{', '.join(ERROR_KINDS)}}} and a string error.message"
    if error.get("effect", "none") not in EFFECTS:
        return "error.effect must be none or unknown"
    return None
