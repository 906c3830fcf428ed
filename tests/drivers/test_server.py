"""The generic Python server and the adapters, in process (no subprocess)."""

import json

import pytest

from dirqkit.drivers.protocol import digest, history_events, payload
from dirqkit.drivers.python_dirq import DirqAdapter
from dirqkit.drivers.ref import RefAdapter
from dirqkit.drivers.server import Server


class Session:
    def __init__(self, adapter):
        self.server = Server(adapter)
        self.seq = 0
        assert self.call("hello", protocol=1)["ok"]

    def raw(self, line):
        return self.server.reply(line)

    def call(self, op, **args):
        self.seq += 1
        reply = self.server.reply(json.dumps({"seq": self.seq, "op": op, **args}).encode())
        assert reply["seq"] == self.seq
        return reply

    def ok(self, op, **args):
        reply = self.call(op, **args)
        assert reply["ok"], reply
        return reply["result"]

    def error(self, op, **args):
        reply = self.call(op, **args)
        assert not reply["ok"], reply
        return reply["error"]["kind"], reply["error"]["effect"]


@pytest.fixture
def ref():
    return Session(RefAdapter)


@pytest.fixture
def pydirq():
    return Session(DirqAdapter)


def test_requests_that_cannot_be_read(ref):
    assert ref.raw(b"{not json")["seq"] is None
    assert ref.raw(b'{"op": "count"}')["error"]["kind"] == "internal"
    assert ref.error("count", queue="q99") == ("internal", "none")
    assert ref.error("add", queue="q99") == ("internal", "none")
    assert ref.error("frobnicate") == ("unsupported", "none")


def test_hello_first_and_protocol_version():
    server = Server(RefAdapter)
    assert server.reply(b'{"seq": 0, "op": "count", "queue": "q1"}')["error"]["message"] == "bad request: the first request must be hello"
    assert server.reply(b'{"seq": 1, "op": "hello", "protocol": 2}')["error"]["kind"] == "unsupported"


def test_unloadable_implementation_answers_hello_unsupported():
    def load():
        raise ImportError("no module named dirq")

    reply = Server(load).reply(b'{"seq": 0, "op": "hello", "protocol": 1}')
    assert reply["error"]["kind"] == "unsupported"
    assert "no module named dirq" in reply["error"]["message"]


def test_options_are_passed_as_given(ref, tmp_path):
    assert ref.error("open", type="simple", path=str(tmp_path / "a"), options={"rndhex": 16}) == ("invalid_option", "none")
    assert ref.error("open", type="simple", path=str(tmp_path / "a"), options={"colour": 1}) == ("unsupported", "none")
    q = ref.ok("open", type="simple", path=str(tmp_path / "a"))
    assert ref.error("purge", queue=q, maxtemp=-1) == ("invalid_option", "none")


def test_normal_produce_into_a_string_field_and_consume(ref, tmp_path):
    q = ref.ok("open", type="normal", path=str(tmp_path / "n"), schema={"body": "string", "extra": "binary?"})
    produced = ref.ok("produce", queue=q, count=3, size=100, seed="s", field="body")
    assert produced["count"] == 3
    invokes = [e for e in produced["history"] if e["type"] == "invoke"]
    assert [e["sha256"] for e in invokes] == [digest(payload("s", i, 100)) for i in range(3)]
    name = produced["history"][1]["name"]
    assert ref.ok("lock", queue=q, name=name) is True
    assert ref.ok("get", queue=q, name=name) == {"body": {"type": "string", "value": payload("s", 0, 100).decode()}}
    assert ref.ok("unlock", queue=q, name=name) is True
    consumed = ref.ok("consume", queue=q, field="body", hold=0.001)
    gets = {e["name"]: e["sha256"] for e in consumed["history"] if e["op"] == "get" and e["type"] == "ok"}
    assert consumed["count"] == 3 and sorted(gets.values()) == sorted(e["sha256"] for e in invokes)
    times = [e["time"] for e in consumed["history"]]
    assert times == sorted(times)


def test_batch_stops_at_the_first_failure(ref, tmp_path):
    q = ref.ok("open", type="normal", path=str(tmp_path / "n"))  # no schema: add is invalid_schema
    result = ref.ok("produce", queue=q, count=5, size=20, seed="s", field="body")
    assert result["count"] == 0
    assert [(e["type"], e["op"]) for e in result["history"]] == [("invoke", "add"), ("fail", "add")]
    assert result["history"][-1]["error"]["kind"] == "invalid_schema"


def test_payloads_are_deterministic_and_distinct():
    assert payload("x", 0, 16) == b"4e39aaf3cdef5140"
    assert len(payload("x", 1, 200)) == 200 and payload("x", 1, 200).isascii()
    assert len({payload("x", i, 16) for i in range(1000)}) == 1000


def test_sets_name_members_by_handle(ref, tmp_path):
    a = ref.ok("open", type="simple", path=str(tmp_path / "a"))
    b = ref.ok("open", type="simple", path=str(tmp_path / "b"))
    first = ref.ok("add", queue=b, data="Yg==")
    second = ref.ok("add", queue=a, data="YQ==")
    assert ref.ok("set_list", queues=[a, b]) == [[b, first], [a, second]]
    assert ref.error("set_list", queues=[a, a]) == ("invalid_option", "none")  # SET-3
    s = ref.ok("open", type="set", members=[a, b])
    assert ref.ok("count", queue=s) == 2
    assert ref.error("lock", queue=s, name=first) == ("unsupported", "none")


def test_set_ops_change_members_and_iterate_statefully(ref, tmp_path):
    a = ref.ok("open", type="simple", path=str(tmp_path / "a"))
    b = ref.ok("open", type="simple", path=str(tmp_path / "b"))
    first, second = ref.ok("add", queue=a, data="YQ=="), ref.ok("add", queue=b, data="Yg==")
    s = ref.ok("open", type="set", members=[a])
    assert ref.ok("set_first", queue=s) == [a, first]
    assert ref.ok("set_add", queue=s, member=b) is None
    assert [ref.ok("set_next", queue=s) for _ in range(3)] == [[a, first], [b, second], None]  # SET-5: restarted
    assert ref.error("set_add", queue=s, member=b) == ("invalid_option", "none")  # SET-3
    assert ref.ok("set_remove", queue=s, member=b) is None
    assert ref.error("set_remove", queue=s, member=b) == ("not_found", "none")  # SET-3
    assert ref.error("set_next", queue=a) == ("unsupported", "none")


def test_python_dirq_set_pairs_of_a_removed_member_keep_its_handle(pydirq, tmp_path):
    a = pydirq.ok("open", type="simple", path=str(tmp_path / "a"))
    b = pydirq.ok("open", type="simple", path=str(tmp_path / "b"))
    a1, b2, _, a4 = (pydirq.ok("add", queue=q, data="eA==") for q in (a, b, b, a))
    s = pydirq.ok("open", type="set", members=[a, b])
    assert [pydirq.ok("set_first", queue=s), pydirq.ok("set_next", queue=s)] == [[a, a1], [b, b2]]
    pydirq.ok("set_remove", queue=s, member=a)
    # python-dirq neither restarts (SET-5) nor forgets a: the driver reports what it yields.
    assert [pydirq.ok("set_next", queue=s), pydirq.ok("set_next", queue=s)] == [[a, a4], None]


@pytest.mark.parametrize("op, args, kind, effect", [
    ("lock", {"permissive": False}, "not_found", "none"),
    ("unlock", {}, "not_locked", "none"),
    ("get", {}, "not_locked", "none"),
    ("touch", {}, "not_found", "none"),
])
def test_python_dirq_errors_by_op_and_errno(pydirq, tmp_path, op, args, kind, effect):
    q = pydirq.ok("open", type="simple", path=str(tmp_path / "q"))
    assert pydirq.error(op, queue=q, name="00000000/00000000000000", **args) == (kind, effect)


def test_python_dirq_other_errors(pydirq, tmp_path):
    q = pydirq.ok("open", type="simple", path=str(tmp_path / "q"))
    name = pydirq.ok("add", queue=q, data="eA==")
    assert pydirq.ok("lock", queue=q, name=name) is True
    assert pydirq.error("lock", queue=q, name=name, permissive=False) == ("locked", "none")
    other = pydirq.ok("add", queue=q, data="eQ==")
    assert pydirq.error("remove", queue=q, name=other) == ("not_locked", "unknown")  # it unlinked the element first
    assert pydirq.error("open", type="simple", path=str(tmp_path / "q"), options={"granularity": "x"}) == ("invalid_option", "none")
    assert pydirq.error("open", type="simple", path=str(tmp_path / "q"), options={"maxtemp": 1}) == ("unsupported", "none")
    assert pydirq.error("open", type="normal", path=str(tmp_path / "n"), schema={"body": "strin"}) == ("invalid_schema", "none")
    n = pydirq.ok("open", type="normal", path=str(tmp_path / "n"), schema={"body": "string"})
    assert pydirq.error("add", queue=n, data={"other": {"type": "string", "value": "x"}}) == ("invalid_data", "none")
    assert pydirq.error("lock", queue=n, name="../x") == ("invalid_name", "none")
    assert pydirq.error("get_path", queue=n, name="00000000/00000000000000") == ("unsupported", "none")
    null = pydirq.ok("open", type="null")
    assert pydirq.error("lock", queue=null, name="00000000/00000000000000") == ("unsupported", "none")


def _shape(events):
    """Events without what differs between two runs (times, element names)."""
    return [(e["type"], e["op"], e.get("index"), e.get("sha256"), e.get("error", {}).get("kind")) for e in events]


def test_compact_rows_stand_for_the_same_events(ref, tmp_path):
    assert "compact-history" in ref.ok("hello", protocol=1)["features"]
    shapes = {}
    for form in ("events", "compact"):
        q = ref.ok("open", type="simple", path=str(tmp_path / form))
        produced = ref.ok("produce", queue=q, count=4, size=64, seed="s", history=form)
        ref.ok("lock", queue=q, name=history_events(produced)[1]["name"])  # held: consume's lock of it is false
        consumed = ref.ok("consume", queue=q, history=form)
        assert ("history" in produced) == ("history" in consumed) == (form == "events")
        events = history_events(produced) + history_events(consumed)
        times = [e["time"] for e in events]
        assert times == sorted(times) and produced["count"] == 4 and consumed["count"] == 3
        shapes[form] = _shape(events)
    assert shapes["events"] == shapes["compact"]
    assert ("fail", "lock", None, None, None) in shapes["compact"]


def test_compact_rows_end_with_the_error(ref, tmp_path):
    q = ref.ok("open", type="normal", path=str(tmp_path / "n"))  # no schema: add is invalid_schema
    result = ref.ok("produce", queue=q, count=5, size=20, seed="s", field="body", history="compact")
    assert result["count"] == 0 and len(result["adds"]) == 1
    sha, _, _, error = result["adds"][0]
    assert sha == digest(payload("s", 0, 20)) and error["kind"] == "invalid_schema"
    assert ref.error("consume", queue=q, field="body", history="rows") == ("internal", "none")
