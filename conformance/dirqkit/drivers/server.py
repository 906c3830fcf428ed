"""The generic server loop shared by every Python driver (protocol v1, PROTOCOL.md).

It owns everything that does not depend on the implementation: JSON-lines
framing, ``seq`` echo, argument checks, queue handles, the batch ops
(``produce``/``consume``) and their histories, and turning exceptions into
error replies. A driver supplies an :class:`Adapter` (open a queue, build a
set, name an implementation's exceptions) and calls :func:`serve`.

Queue objects returned by ``Adapter.open`` must offer the dirqref method set:
``add add_path lock unlock touch get get_path remove count purge`` and
iteration over names; set objects returned by ``Adapter.make_set`` offer
``count add remove first next`` and iteration over (queue, name) pairs, where
``first`` and ``next`` return ``(None, None)`` at the end (python-dirq's
calls). Optional arguments (``permissive``, ``maxtemp``,
``maxlock``) are passed only when the request carries them, so an omitted
argument means the implementation's own default.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any, BinaryIO, ClassVar, NamedTuple, NoReturn, Protocol

from .protocol import (
    PROTOCOL_VERSION,
    COMPACT_HISTORY,
    BadRequest,
    b64decode,
    b64encode,
    decode_fields,
    digest,
    encode_fields,
    history_events,
    payload,
)


# No dataclasses here nor in dirqref: importing that module is a sixth of a driver's start-up, paid by every
# driver process a run starts.
class Failure(NamedTuple):
    """An error reply's ``error`` object."""

    kind: str
    message: str
    effect: str = "none"

    def wire(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message, "effect": self.effect}


class Refused(Exception):
    """Raised by adapters and the server to answer with a given Failure."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class Adapter(Protocol):
    """What one implementation contributes to a Python driver."""

    name: str
    language: str
    version: str
    queue_types: tuple[str, ...]
    features: tuple[str, ...]
    options: ClassVar[dict[str, tuple[str, ...]]]  # queue type -> open options it accepts

    def open(self, qtype: str, path: str, options: dict[str, Any], schema: dict[str, Any] | None) -> Any:
        """A queue object of type simple, normal or null."""

    def make_set(self, queues: list[Any]) -> Any:
        """A set object over ``queues``: ``count add remove first next`` and iteration over (queue, name)."""

    def failure(self, op: str, exc: Exception) -> Failure | None:
        """The Failure an implementation exception stands for, or None if unforeseen."""


class Handle:
    __slots__ = ("qtype", "queue", "schema", "members")

    def __init__(self, qtype: str, queue: Any, schema: dict[str, Any] | None = None,
                 members: dict[str, str] | None = None) -> None:
        self.qtype = qtype  # simple, normal, null or set
        self.queue = queue
        self.schema = schema
        self.members = {} if members is None else members  # set: queue id -> handle, for every queue ever added


class _Deltas:
    """History timestamps (wall clock, integer microseconds since the Unix epoch) as the
    difference from the previous one, the first from ``t0`` (PROTOCOL.md 2.4)."""

    def __init__(self) -> None:
        self.t0 = self.last = time.time_ns() // 1000

    def __call__(self) -> int:
        now = time.time_ns() // 1000
        delta, self.last = now - self.last, now
        return delta


def _compact(msg: dict[str, Any]) -> bool:
    """Does a batch request ask for the compact history (PROTOCOL.md 2.4)?"""
    form = _optional(msg, "history", str)
    if form not in (None, "events", "compact"):
        _bad(f"argument 'history' must be events or compact, got {form!r}")
    return form == "compact"


def _bad(message: str) -> NoReturn:
    raise BadRequest(message)


def _required(msg: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = msg.get(name)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        _bad(f"argument {name!r} must be a {getattr(kind, '__name__', 'value')}, got {value!r}")
    return value


def _optional(msg: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    return _required(msg, name, kind) if name in msg else None


def _count(msg: dict[str, Any], name: str) -> int:
    value = _required(msg, name, int)
    if value < 0:
        _bad(f"argument {name!r} must be >= 0, got {value}")
    return int(value)


def _passed(msg: dict[str, Any], *names: str) -> dict[str, Any]:
    """The optional arguments the request carries, for the implementation to judge."""
    return {name: msg[name] for name in names if name in msg}


def _queue_id(queue: Any) -> str:
    """How a set tells its members apart (SET-3: TOP's device and inode); some Null queues have no id."""
    return getattr(queue, "id", "")


def _base_type(schema: dict[str, Any] | None, field_name: str) -> str:
    spec = (schema or {}).get(field_name, "binary")
    return spec.rstrip("?*") if isinstance(spec, str) else "binary"


class Server:
    """One driver process: the queue handles and the dispatch of requests."""

    def __init__(self, load: Callable[[], Adapter]) -> None:
        self.load = load
        self.adapter: Adapter | None = None
        self.handles: dict[str, Handle] = {}
        self.opened = 0
        self.running = True
        self.ops: dict[str, Callable[[dict[str, Any]], Any]] = {
            name[3:]: getattr(self, name) for name in dir(self) if name.startswith("op_")
        }

    # -- framing ---------------------------------------------------------

    def reply(self, line: bytes) -> dict[str, Any]:
        """The reply to one request line."""
        try:
            msg = json.loads(line)
        except ValueError as exc:
            return {"seq": None, "ok": False, "error": Failure("internal", f"request is not JSON: {exc}").wire()}
        seq = msg.get("seq") if isinstance(msg, dict) else None
        if not isinstance(seq, int) or isinstance(seq, bool) or not isinstance(msg.get("op"), str):
            return {"seq": None, "ok": False, "error": Failure("internal", "request needs an integer seq and a string op").wire()}
        try:
            return {"seq": seq, "ok": True, "result": self.dispatch(msg)}
        except Refused as refused:
            return {"seq": seq, "ok": False, "error": refused.failure.wire()}
        except BadRequest as exc:
            return {"seq": seq, "ok": False, "error": Failure("internal", f"bad request: {exc}").wire()}
        except Exception as exc:  # noqa: BLE001 - every failure becomes an error reply
            return {"seq": seq, "ok": False, "error": self.failure(msg["op"], exc).wire()}

    def dispatch(self, msg: dict[str, Any]) -> Any:
        op = msg["op"]
        handler = self.ops.get(op)
        if handler is None:
            raise Refused(Failure("unsupported", f"unknown op {op!r}"))
        if self.adapter is None and op not in ("hello", "shutdown"):
            _bad("the first request must be hello")
        return handler(msg)

    def failure(self, op: str, exc: Exception) -> Failure:
        """Name an exception raised by the implementation; unforeseen ones are internal."""
        known = self.adapter.failure(op, exc) if self.adapter else None
        if known is not None:
            return known
        import traceback  # only for a failure no adapter names

        traceback.print_exception(exc, file=sys.stderr)
        return Failure("internal", f"{op}: {type(exc).__name__}: {exc}", "unknown")

    # -- handles ---------------------------------------------------------

    def handle(self, msg: dict[str, Any], name: str = "queue") -> Handle:
        key = _required(msg, name, str)
        try:
            return self.handles[key]
        except KeyError:
            _bad(f"unknown queue handle {key!r}")

    def queue(self, msg: dict[str, Any]) -> Handle:
        """The handle of a simple, normal or null queue (sets only list, count and the set_* ops)."""
        handle = self.handle(msg)
        if handle.qtype == "set":
            raise Refused(Failure("unsupported", f"{msg['op']} is not an operation of a set"))
        return handle

    def queue_set(self, msg: dict[str, Any]) -> Handle:
        """The handle of a set (set_add, set_remove, set_first, set_next)."""
        handle = self.handle(msg)
        if handle.qtype != "set":
            raise Refused(Failure("unsupported", f"{msg['op']} is an operation of a set only"))
        return handle

    def method(self, msg: dict[str, Any], name: str) -> Callable[..., Any]:
        """The queue's method ``name``; an implementation without it answers unsupported (SPEC-2)."""
        handle = self.queue(msg)
        found = getattr(handle.queue, name, None)
        if found is None:
            assert self.adapter is not None
            raise Refused(Failure("unsupported", f"{self.adapter.name} {handle.qtype} queues have no {name}"))
        return found  # type: ignore[no-any-return]

    def new_handle(self, handle: Handle) -> str:
        self.opened += 1
        key = f"q{self.opened}"
        self.handles[key] = handle
        return key

    def make_set(self, keys: object) -> Handle:
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            _bad("a set's members must be a list of queue handles")
        members = [self.handle({"queue": key}) for key in keys]
        assert self.adapter is not None
        queue_set = self.adapter.make_set([member.queue for member in members])
        return Handle("set", queue_set, members={_queue_id(m.queue): k for m, k in zip(members, keys)})

    @staticmethod
    def set_pairs(handle: Handle) -> list[list[str]]:
        """Set iteration as [handle, name] pairs (members are matched by queue id)."""
        return [[handle.members[queue.id], name] for queue, name in handle.queue]

    # -- ops ---------------------------------------------------------------

    def op_hello(self, msg: dict[str, Any]) -> dict[str, Any]:
        if msg.get("protocol") != PROTOCOL_VERSION:
            raise Refused(Failure("unsupported", f"this driver speaks protocol {PROTOCOL_VERSION}, not {msg.get('protocol')!r}"))
        if self.adapter is None:
            try:
                self.adapter = self.load()
            except Exception as exc:  # noqa: BLE001 - the reason the implementation is unavailable
                raise Refused(Failure("unsupported", f"implementation unavailable: {type(exc).__name__}: {exc}")) from None
        adapter = self.adapter
        return {
            "protocol": PROTOCOL_VERSION,
            "implementation": {"name": adapter.name, "language": adapter.language, "version": adapter.version},
            "queue_types": list(adapter.queue_types),
            "roles": ["producer", "consumer", "purger"],
            "features": [*adapter.features, COMPACT_HISTORY] if "batch" in adapter.features else list(adapter.features),
            "options": {qtype: list(names) for qtype, names in adapter.options.items()},
        }

    def op_open(self, msg: dict[str, Any]) -> str:
        assert self.adapter is not None
        qtype = _required(msg, "type", str)
        if qtype not in self.adapter.queue_types:
            raise Refused(Failure("unsupported", f"{self.adapter.name} has no {qtype} queues"))
        if qtype == "set":
            return self.new_handle(self.make_set(msg.get("members")))
        options = _optional(msg, "options", dict) or {}
        unknown = sorted(set(options) - set(self.adapter.options.get(qtype, ())))
        if unknown:
            raise Refused(Failure("unsupported", f"{self.adapter.name} {qtype} queues have no option {', '.join(unknown)}"))
        schema = _optional(msg, "schema", dict)
        path = _required(msg, "path", str) if qtype != "null" else ""
        queue = self.adapter.open(qtype, path, options, schema)
        return self.new_handle(Handle(qtype, queue, schema))

    def op_add(self, msg: dict[str, Any]) -> str:
        handle = self.queue(msg)
        data = msg.get("data")
        value = decode_fields(data) if handle.qtype == "normal" or isinstance(data, dict) else b64decode(data, "data")
        return str(handle.queue.add(value))

    def op_add_path(self, msg: dict[str, Any]) -> str:
        return str(self.method(msg, "add_path")(_required(msg, "path", str)))

    def op_lock(self, msg: dict[str, Any]) -> bool:
        _optional(msg, "permissive", bool)
        return bool(self.method(msg, "lock")(_required(msg, "name", str), **_passed(msg, "permissive")))

    def op_unlock(self, msg: dict[str, Any]) -> bool:
        _optional(msg, "permissive", bool)
        return bool(self.method(msg, "unlock")(_required(msg, "name", str), **_passed(msg, "permissive")))

    def op_touch(self, msg: dict[str, Any]) -> None:
        self.method(msg, "touch")(_required(msg, "name", str))

    def op_get(self, msg: dict[str, Any]) -> Any:
        handle = self.queue(msg)
        value = handle.queue.get(_required(msg, "name", str))
        return encode_fields(value) if handle.qtype == "normal" else b64encode(value)

    def op_get_path(self, msg: dict[str, Any]) -> str:
        return str(self.method(msg, "get_path")(_required(msg, "name", str)))

    def op_remove(self, msg: dict[str, Any]) -> None:
        self.method(msg, "remove")(_required(msg, "name", str))

    def op_count(self, msg: dict[str, Any]) -> int:
        return int(self.handle(msg).queue.count())

    def op_list(self, msg: dict[str, Any]) -> list[Any]:
        handle = self.handle(msg)
        return self.set_pairs(handle) if handle.qtype == "set" else list(handle.queue)

    def op_purge(self, msg: dict[str, Any]) -> None:
        self.method(msg, "purge")(**_passed(msg, "maxtemp", "maxlock"))

    def op_set_list(self, msg: dict[str, Any]) -> list[list[str]]:
        assert self.adapter is not None
        if "set" not in self.adapter.queue_types:
            raise Refused(Failure("unsupported", f"{self.adapter.name} has no queue sets"))
        return self.set_pairs(self.make_set(msg.get("queues")))

    def op_set_add(self, msg: dict[str, Any]) -> None:
        handle, member = self.queue_set(msg), self.handle(msg, "member")
        handle.queue.add(member.queue)
        handle.members[_queue_id(member.queue)] = msg["member"]

    def op_set_remove(self, msg: dict[str, Any]) -> None:
        # The removed queue keeps its entry in members: an implementation may still yield its elements.
        self.queue_set(msg).queue.remove(self.handle(msg, "member").queue)

    def op_set_first(self, msg: dict[str, Any]) -> list[str] | None:
        return self.set_step(msg, "first")

    def op_set_next(self, msg: dict[str, Any]) -> list[str] | None:
        return self.set_step(msg, "next")

    def set_step(self, msg: dict[str, Any], method: str) -> list[str] | None:
        """One call of the set's own stateful iteration: a [handle, name] pair, or None at the end."""
        handle = self.queue_set(msg)
        queue, name = getattr(handle.queue, method)()
        return None if queue is None else [handle.members[queue.id], name]

    def op_close(self, msg: dict[str, Any]) -> None:
        self.handle(msg)
        del self.handles[msg["queue"]]

    def op_shutdown(self, msg: dict[str, Any]) -> None:
        self.running = False

    # -- batch ops -------------------------------------------------------

    def op_produce(self, msg: dict[str, Any]) -> dict[str, Any]:
        handle = self.queue(msg)
        count, size, seed = _count(msg, "count"), _count(msg, "size"), _required(msg, "seed", str)
        compact = _compact(msg)
        as_value = self.payload_value(handle, msg)
        add = handle.queue.add
        clock = _Deltas()
        rows: list[list[Any]] = []  # [sha256, dt invoke, dt end, name | error] (PROTOCOL.md 2.4)
        done = 0
        try:
            for _ in range(count):
                data = payload(seed, done, size)
                row = [digest(data), clock()]
                rows.append(row)
                name = add(as_value(data))
                row += (clock(), name)
                done += 1
        except Exception as exc:  # noqa: BLE001 - recorded in the history, ends the batch
            row += (clock(), self.failure("add", exc).wire())
        result = {"count": done, "t0": clock.t0, "adds": rows}
        return result if compact else {"count": done, "history": history_events(result)}

    def op_consume(self, msg: dict[str, Any]) -> dict[str, Any]:
        handle = self.queue(msg)
        limit = _count(msg, "limit") if "limit" in msg else None
        hold = _optional(msg, "hold", (int, float)) or 0
        compact = _compact(msg)
        payload_of = self.payload_bytes(handle, msg)
        queue = handle.queue
        clock = _Deltas()
        # One row per lock attempt: [name, dt, dt (lock), dt, dt, sha256 (get), dt, dt (remove)],
        # cut short by a false lock or ended by an error object; [null, dt, error]: iteration failed.
        rows: list[list[Any]] = []
        done = 0
        row: list[Any] = []
        stage = "list"  # the step under way, for the failure record
        try:
            progress = True
            while progress and (limit is None or done < limit):
                progress = False
                stage = "list"
                for name in queue:
                    if limit is not None and done >= limit:
                        break
                    row = [name, clock()]
                    rows.append(row)
                    stage = "lock"
                    if not queue.lock(name, True):
                        row.append(clock())
                        stage = "list"
                        continue  # CONC-4: taken by another consumer, or gone
                    row += (clock(), clock())
                    stage = "get"
                    value = queue.get(name)
                    row += (clock(), digest(payload_of(value)))
                    if hold:
                        time.sleep(hold)
                    row.append(clock())
                    stage = "remove"
                    queue.remove(name)
                    row.append(clock())
                    stage = "list"
                    done += 1
                    progress = True
        except Exception as exc:  # noqa: BLE001 - recorded in the history, ends the batch
            error = self.failure(stage, exc).wire()
            if stage == "list":
                rows.append([None, clock(), error])
            else:
                row += (clock(), error)
        result = {"count": done, "t0": clock.t0, "locks": rows}
        return result if compact else {"count": done, "history": history_events(result)}

    @staticmethod
    def payload_value(handle: Handle, msg: dict[str, Any]) -> Callable[[bytes], Any]:
        """How a produced payload is added: bytes, or one field of a Normal element."""
        if handle.qtype != "normal":
            return lambda data: data
        name = _required(msg, "field", str)
        if _base_type(handle.schema, name) == "string":
            return lambda data: {name: data.decode("ascii")}
        return lambda data: {name: data}

    @staticmethod
    def payload_bytes(handle: Handle, msg: dict[str, Any]) -> Callable[[Any], bytes]:
        """The payload bytes of a consumed element (Normal: the named field, text as UTF-8)."""
        if handle.qtype != "normal":
            return bytes
        name = _required(msg, "field", str)

        def field_bytes(value: dict[str, Any]) -> bytes:
            data = value.get(name, b"")
            return data.encode("utf-8") if isinstance(data, str) else bytes(data)

        return field_bytes


# Replies are built here from fresh values, never circular: skipping the check saves a third of the
# encoding time of a batch op's history.
_REPLY_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)


def protocol_stream() -> BinaryIO:
    """The real stdout for replies; fd 1 then points at stderr so stray prints cannot corrupt the protocol."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


def serve(load: Callable[[], Adapter]) -> int:
    """Answer requests on stdin until shutdown or end of input; return the exit status."""
    out = protocol_stream()
    server = Server(load)
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        out.write(_REPLY_ENCODER.encode(server.reply(line)).encode("ascii") + b"\n")
        out.flush()
        if not server.running:
            break
    return 0
