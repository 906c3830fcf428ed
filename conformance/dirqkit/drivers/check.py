"""Does a driver speak protocol v1 correctly? (``dirqkit driver-check``)

It runs the driver through the handshake and every op of the queue types its
hello claims (batch ops and error replies included), validating every
message against the protocol's JSON Schemas. Findings:

- FAIL: the driver broke the protocol (bad JSON, wrong seq, schema-invalid
  or missing field, timeout, crash, wrong batch history): exit 1;
- DEVIATION: a well-formed answer that is not what SPEC.md asks of the
  implementation (e.g. ``false`` where ``invalid_name`` is due): reported,
  exit 0 unless ``--strict``; the conformance suite judges these in detail;
- SKIP: a queue type the driver does not claim.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from dirqkit.drivers.client import DriverClient, DriverError, DriverUnavailable, OpError
from dirqkit.drivers.protocol import COMPACT_HISTORY, b64encode, digest, history_events, payload

ELEMENT_ID = re.compile(r"[0-9a-f]{8}/[0-9a-f]{14}")
NORMAL_SCHEMA = {"body": "string", "header": "table?", "data": "binary?"}
NORMAL_ELEMENT = {
    "body": {"type": "string", "value": "Grüße\tx\n"},
    "header": {"type": "table", "value": {"k\tey": "v\nal", "": "empty"}},
    "data": {"type": "binary", "base64": b64encode(bytes(range(256)))},
}
BATCH: dict[str, Any] = {"count": 5, "size": 64, "seed": "driver-check"}
ABSENT = "00000000/00000000000000"
INVALID = "../../etc/passwd"


@dataclass
class Finding:
    status: str  # PASS, FAIL, DEVIATION, SKIP
    check: str
    detail: str = ""


class Aborted(Exception):
    """The driver broke the protocol: no further check is possible."""


class Checker:
    """Runs the checks against one driver, collecting findings."""

    def __init__(self, client: DriverClient, workdir: str) -> None:
        self.client, self.workdir = client, workdir
        self.findings: list[Finding] = []

    def note(self, status: str, check: str, detail: str = "") -> None:
        self.findings.append(Finding(status, check, detail))

    def send(self, check: str, op: str, **args: Any) -> tuple[bool, Any]:
        """(True, result) or (False, OpError); a protocol break is a FAIL that aborts."""
        try:
            return True, self.client.call(op, args)
        except OpError as error:
            return False, error
        except DriverError as exc:
            detail = str(exc)
            if exc.stderr_tail:
                detail += "\n    driver stderr (tail):\n" + "\n".join("      " + s for s in exc.stderr_tail.splitlines())
            self.note("FAIL", check, detail)
            raise Aborted from None

    def expect(self, check: str, op: str, want: Callable[[Any], bool] | Any, **args: Any) -> Any:
        """Expect success; ``want`` is a predicate or a literal result. Returns the result (None on error)."""
        ok, got = self.send(check, op, **args)
        if not ok:
            self.note("DEVIATION", check, f"{op}: expected success, got error {got.kind}: {got.message}")
            return None
        good = want(got) if callable(want) else got == want
        self.note("PASS" if good else "DEVIATION", check, "" if good else f"{op}: unexpected result {_show(got)}")
        return got

    def expect_error(self, check: str, op: str, kind: str, miss: str = "DEVIATION", **args: Any) -> None:
        """Expect an error of ``kind``; anything else is a ``miss`` (FAIL for protocol rules)."""
        ok, got = self.send(check, op, **args)
        if ok:
            self.note(miss, check, f"{op}: expected error {kind}, got result {_show(got)}")
        elif got.kind != kind:
            self.note(miss, check, f"{op}: expected error {kind}, got error {got.kind}: {got.message}")
        else:
            self.note("PASS", check)

    def open(self, check: str, **args: Any) -> str | None:
        handle = self.expect(check, "open", lambda h: isinstance(h, str), **args)
        if handle is None:
            self.note("SKIP", check.split(".")[0] + ".*", "cannot open a queue: the remaining checks of this type are skipped")
        return handle

    # -- the checks ------------------------------------------------------

    def run(self) -> None:
        hello = self.client.hello
        impl = hello["implementation"]
        types = hello["queue_types"]
        self.note("PASS", "hello", f"{impl['name']} {impl['version']} ({impl['language']}): types {', '.join(types) or 'none'}; "
                                   f"roles {', '.join(hello['roles']) or 'none'}; features {', '.join(hello['features']) or 'none'}")
        try:
            self.expect_error("unknown-op", "no_such_op", "unsupported", miss="FAIL")
            for qtype, check in (("simple", self.check_simple), ("normal", self.check_normal), ("null", self.check_null), ("set", self.check_set)):
                if qtype in types:
                    check()
                else:
                    self.note("SKIP", f"{qtype}.*", f"the driver does not claim {qtype} queues")
            self.check_shutdown()
        except Aborted:
            pass

    def check_simple(self) -> None:
        q = self.open("simple.open", type="simple", path=f"{self.workdir}/simple")
        if q is None:
            return
        data = b64encode(b"hello\x00\xff")
        name = self.expect("simple.add", "add", lambda n: isinstance(n, str) and ELEMENT_ID.fullmatch(n) is not None, queue=q, data=data)
        self.expect("simple.count", "count", 1, queue=q)
        self.expect("simple.list", "list", [name], queue=q)
        if name is None:
            return
        self.lock_cycle("simple", q, name, lambda got: got == data, data)
        path = f"{self.workdir}/add-path-file"
        with open(path, "wb") as out:
            out.write(b"from a file")
        moved = self.expect("simple.add_path", "add_path", lambda n: isinstance(n, str) and not os.path.exists(path), queue=q, path=path)
        if moved is not None:
            self.expect("simple.add_path-lock", "lock", True, queue=q, name=moved)
            self.expect("simple.add_path-get", "get", b64encode(b"from a file"), queue=q, name=moved)
            self.expect("simple.add_path-remove", "remove", None, queue=q, name=moved)
        self.common_tail("simple", q, {})

    def check_normal(self) -> None:
        self.expect_error("normal.open-invalid-schema", "open", "invalid_schema", type="normal", path=f"{self.workdir}/bad", schema={"body": "nope"})
        q = self.open("normal.open", type="normal", path=f"{self.workdir}/normal", schema=NORMAL_SCHEMA)
        if q is None:
            return
        self.expect_error("normal.add-missing-field", "add", "invalid_data", queue=q, data={"header": NORMAL_ELEMENT["header"]})
        name = self.expect("normal.add", "add", lambda n: isinstance(n, str) and ELEMENT_ID.fullmatch(n) is not None, queue=q, data=NORMAL_ELEMENT)
        self.expect("normal.count", "count", 1, queue=q)
        self.expect("normal.list", "list", [name], queue=q)
        if name is None:
            return
        self.lock_cycle("normal", q, name, lambda got: got == NORMAL_ELEMENT, NORMAL_ELEMENT)
        self.common_tail("normal", q, {"field": "body"})

    def lock_cycle(self, qtype: str, q: str, name: str, same: Callable[[Any], bool], data: Any) -> None:
        """lock, get, touch, unlock and their error cases, then remove; ends with an empty queue."""
        c = f"{qtype}."
        self.expect_error(c + "get-unlocked", "get", "not_locked", queue=q, name=name)
        self.expect(c + "lock", "lock", True, queue=q, name=name)
        self.expect(c + "lock-again-permissive", "lock", False, queue=q, name=name, permissive=True)
        self.expect_error(c + "lock-again-strict", "lock", "locked", queue=q, name=name, permissive=False)
        self.expect(c + "get", "get", same, queue=q, name=name)
        self.expect(c + "get_path", "get_path", lambda p: isinstance(p, str) and p.startswith(f"{self.workdir}/{qtype}/"), queue=q, name=name)
        self.expect(c + "touch", "touch", None, queue=q, name=name)
        self.expect(c + "unlock", "unlock", True, queue=q, name=name)
        self.expect_error(c + "unlock-strict-unlocked", "unlock", "not_locked", queue=q, name=name, permissive=False)
        self.expect(c + "unlock-permissive-unlocked", "unlock", False, queue=q, name=name, permissive=True)
        self.expect(c + "lock-absent-permissive", "lock", False, queue=q, name=ABSENT, permissive=True)
        self.expect_error(c + "lock-absent-strict", "lock", "not_found", queue=q, name=ABSENT, permissive=False)
        self.expect_error(c + "touch-absent", "touch", "not_found", queue=q, name=ABSENT)
        self.expect_error(c + "invalid-name", "lock", "invalid_name", queue=q, name=INVALID, permissive=False)
        self.expect(c + "relock", "lock", True, queue=q, name=name)
        self.expect(c + "remove", "remove", None, queue=q, name=name)
        # Last, as some implementations delete the element before noticing it is not locked.
        other = self.expect(c + "add-another", "add", lambda n: isinstance(n, str), queue=q, data=data)
        if other is not None:
            self.expect_error(c + "remove-unlocked", "remove", "not_locked", queue=q, name=other)
            self.expect(c + "cleanup", "consume", lambda r: isinstance(r, dict), queue=q, **({"field": "body"} if qtype == "normal" else {}))
        self.expect(c + "count-after-remove", "count", 0, queue=q)

    def common_tail(self, qtype: str, q: str, field: dict[str, str]) -> None:
        c = f"{qtype}."
        self.expect(c + "purge-defaults", "purge", None, queue=q)
        self.expect(c + "purge-explicit", "purge", None, queue=q, maxtemp=300, maxlock=600)
        self.check_batch(qtype, q, field)
        self.expect(c + "close", "close", None, queue=q)

    def check_batch(self, qtype: str, q: str, field: dict[str, str]) -> None:
        """produce and consume in the events form, then in the compact form when the hello announces it."""
        self.check_batch_form(f"{qtype}.", q, field)
        if COMPACT_HISTORY in self.client.hello["features"]:
            self.check_batch_form(f"{qtype}.compact-", q, {**field, "history": "compact"})
        else:
            self.note("PASS", f"{qtype}.compact-history", f"the driver does not announce {COMPACT_HISTORY}: "
                      "batch histories in the events form only (deprecated, PROTOCOL.md 2.4)")

    def check_batch_form(self, c: str, q: str, args: dict[str, str]) -> None:
        ok, result = self.send(c + "produce", "produce", queue=q, **BATCH, **args)
        if not ok:
            self.note("DEVIATION", c + "produce", f"expected success, got error {result.kind}: {result.message}")
            return
        if not self.right_form(c + "produce", result, args):
            return
        problems, produced = produce_problems({"count": result["count"], "history": history_events(result)})
        self.note("FAIL" if problems else "PASS", c + "produce", "; ".join(problems))
        first = self.expect(c + "consume-limit", "consume", lambda r: r["count"] == 3, queue=q, limit=3, **args)
        rest = self.expect(c + "consume-rest", "consume", lambda r: r["count"] == BATCH["count"] - 3, queue=q, **args)
        if first is None or rest is None or not self.right_form(c + "consume", first, args) or not self.right_form(c + "consume", rest, args):
            return
        both = {"count": first["count"] + rest["count"], "history": history_events(first) + history_events(rest)}
        failures, deviations = consume_problems(both, produced)
        self.note("FAIL" if failures else "DEVIATION" if deviations else "PASS", c + "consume-history", "; ".join(failures + deviations))

    def right_form(self, check: str, result: dict[str, Any], args: dict[str, str]) -> bool:
        """A batch result in the history form asked for (the schema has checked the form's shape)."""
        if ("history" in result) == ("history" in args):
            self.note("FAIL", check + "-form", f"asked for the {args.get('history', 'events')} history form, got "
                      f"{'events' if 'history' in result else 'compact rows'}")
            return False
        return True

    def check_null(self) -> None:
        q = self.open("null.open", type="null")
        if q is None:
            return
        self.expect("null.add", "add", "", queue=q, data=b64encode(b"gone"))
        self.expect("null.count", "count", 0, queue=q)
        self.expect("null.list", "list", [], queue=q)
        self.expect_error("null.lock", "lock", "unsupported", queue=q, name=ABSENT)
        self.expect("null.close", "close", None, queue=q)

    def check_set(self) -> None:
        base = "simple" if "simple" in self.client.hello["queue_types"] else "normal"
        extra = {"schema": NORMAL_SCHEMA} if base == "normal" else {}
        data = b64encode(b"member") if base == "simple" else {"body": {"type": "string", "value": "member"}}
        members, expected = [], []
        for label in ("a", "b"):
            q = self.open(f"set.open-{label}", type=base, path=f"{self.workdir}/set-{label}", **extra)
            if q is None:
                return
            name = self.expect(f"set.add-{label}", "add", lambda n: isinstance(n, str), queue=q, data=data)
            if name is None:
                return
            members.append(q)
            expected.append([q, name])
        expected.sort(key=lambda pair: (pair[1][-14:], members.index(pair[0])))  # SET-1, SET-2
        self.expect("set.set_list", "set_list", expected, queues=members)
        s = self.open("set.open", type="set", members=members)
        if s is None:
            return
        self.expect("set.list", "list", expected, queue=s)
        self.expect("set.count", "count", 2, queue=s)
        self.check_set_changes(s, members, expected)
        for q in [s, *members]:
            self.expect("set.close", "close", None, queue=q)

    def check_set_changes(self, s: str, members: list[str], expected: list[list[str]]) -> None:
        """The set's stateful iteration, and adding and removing members (SET-3, SET-5)."""
        first, second = expected
        self.expect("set.set_first", "set_first", first, queue=s)
        self.expect("set.set_next", "set_next", second, queue=s)
        self.expect("set.set_next-end", "set_next", None, queue=s)
        self.expect_error("set.set_add-duplicate", "set_add", "invalid_option", queue=s, member=members[0])
        self.expect("set.set_first-again", "set_first", first, queue=s)
        self.expect("set.set_remove", "set_remove", None, queue=s, member=first[0])
        self.expect("set.set_remove-restarts", "set_next", second, queue=s)  # the first pair of what is left
        self.expect_error("set.set_remove-absent", "set_remove", "not_found", queue=s, member=first[0])
        self.expect("set.set_add", "set_add", None, queue=s, member=first[0])
        self.expect("set.count-after-add", "count", 2, queue=s)

    def check_shutdown(self) -> None:
        self.expect("shutdown", "shutdown", None)
        status = self.client.close(grace=self.client.timeout)
        if status == 0:
            self.note("PASS", "shutdown-exit", "driver exited with status 0")
        else:
            self.note("FAIL", "shutdown-exit", f"after shutdown the driver did not exit by itself with status 0 (status {status})")


def produce_problems(result: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """Problems with a produce history (driver bugs), and the produced name -> sha256."""
    problems: list[str] = []
    produced: dict[str, str] = {}
    attempts = {}
    for event in result["history"]:
        if event["op"] != "add" or "index" not in event:
            problems.append(f"event without add/index: {_show(event)}")
        elif event["type"] == "invoke":
            want = digest(payload(BATCH["seed"], event["index"], BATCH["size"]))
            if event.get("sha256") != want:
                problems.append(f"invoke of index {event['index']} has sha256 {event.get('sha256')}, the payload's is {want}")
            attempts[event["index"]] = want
        elif event["type"] == "ok":
            if event["index"] not in attempts or "name" not in event:
                problems.append(f"ok without a preceding invoke or a name: {_show(event)}")
            else:
                produced[event["name"]] = attempts[event["index"]]
        else:
            problems.append(f"add failed: {_show(event)}")
    if result["count"] != len(produced) or len(produced) != BATCH["count"]:
        problems.append(f"count {result['count']}, {len(produced)} distinct names added, {BATCH['count']} requested")
    return problems, produced


def consume_problems(result: dict[str, Any], produced: dict[str, str]) -> tuple[list[str], list[str]]:
    """(driver bugs, implementation deviations) in a consume history of what produce added."""
    failures: list[str] = []
    deviations: list[str] = []
    removed = []
    for event in result["history"]:
        if event.get("name") is None and event["op"] != "list":
            failures.append(f"event without name: {_show(event)}")
        elif event["type"] == "ok" and event["op"] == "get" and event.get("sha256") != produced.get(event["name"]):
            deviations.append(f"get of {event['name']} has sha256 {event.get('sha256')}, produce added {produced.get(event['name'])}")
        elif event["type"] == "ok" and event["op"] == "remove":
            removed.append(event["name"])
        elif event["type"] in ("fail", "info") and "error" in event:
            deviations.append(f"{event['op']} failed: {event['error']['kind']}: {event['error']['message']}")
    if result["count"] != len(removed):
        failures.append(f"count {result['count']} but {len(removed)} remove ok events")
    if sorted(removed) != sorted(produced):
        deviations.append(f"removed {len(removed)} elements, {len(set(removed) & set(produced))} of the {len(produced)} produced")
    return failures, deviations


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 160 else text[:160] + "..."


@contextmanager
def _workdir(given: str | None) -> Iterator[str]:
    if given:
        os.makedirs(given, exist_ok=True)
        yield os.path.abspath(given)
        return
    path = tempfile.mkdtemp(prefix="dirqkit-driver-check-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def check(command: list[str], timeout: float, workdir: str | None) -> tuple[list[Finding], dict[str, Any]]:
    """Run every check; a command that cannot be started at all raises its DriverError (op ``spawn``)."""
    with _workdir(workdir) as work:
        client = DriverClient(command, timeout=timeout, validate=True)
        try:
            client.start()
        except DriverUnavailable as exc:
            return [Finding("FAIL", "hello", f"the driver says its implementation is unavailable: {exc}")], {}
        except DriverError as exc:
            if exc.op == "spawn":
                raise
            return [Finding("FAIL", "hello", str(exc) + _stderr(exc))], {}
        try:
            checker = Checker(client, work)
            checker.run()
            return checker.findings, client.hello
        finally:
            client.close(graceful=False)


def _stderr(exc: DriverError) -> str:
    return "\n    driver stderr (tail):\n" + "\n".join("      " + s for s in exc.stderr_tail.splitlines()) if exc.stderr_tail else ""
