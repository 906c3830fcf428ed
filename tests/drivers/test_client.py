"""The kit's driver client: handshake, requests, named outcomes of broken drivers, reaping."""

import json
import subprocess
import sys
import textwrap
import time

import pytest
from drivers_testutil import BROKEN, REF, reaped, running

from dirqkit.drivers.client import (
    DriverClient,
    DriverError,
    DriverUnavailable,
    split_command,
)
from dirqkit.suite.engine import OpError


def test_ref_round_trip_and_error_reply(tmp_path):
    with DriverClient(REF, validate=True) as client:
        assert client.hello["implementation"]["name"] == "dirqref"
        assert client.implementation == "dirqref"
        queue = client.request("open", type="simple", path=str(tmp_path / "q"))
        name = client.request("add", queue=queue, data="aGk=")
        assert client.request("list", queue=queue) == [name]
        with pytest.raises(OpError) as error:
            client.request("lock", queue=queue, name="../x", permissive=False)
        assert (error.value.kind, error.value.effect) == ("invalid_name", "none")
        pid = client.pid
    assert client.proc.returncode == 0  # shutdown, then a clean exit
    assert reaped(pid)


def test_transcript_records_every_message(tmp_path):
    with DriverClient(REF) as client:
        client.request("open", type="null")
    client.save_transcript(tmp_path / "t.jsonl")
    lines = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert [(entry["dir"], json.loads(entry["line"]).get("op")) for entry in lines] == [
        (">", "hello"), ("<", None), (">", "open"), ("<", None), (">", "shutdown"), ("<", None)]


@pytest.mark.parametrize("mode, outcome, says", [
    ("crash", "CRASH", "exited with status 3"),
    ("exit", "CRASH", "exited with status 0"),
    ("garbage", "ERROR", "not JSON: 'debug: this is not protocol'"),
    ("wrong-seq", "ERROR", "reply seq 2 does not match request seq 1"),
    ("bad-error", "ERROR", "error.kind"),
])
def test_broken_driver_outcomes(broken, mode, outcome, says):
    client = DriverClient(broken(mode), timeout=5)
    client.start()
    pid = client.pid
    with pytest.raises(DriverError) as error:
        client.request("count", queue="q1")
    assert error.value.outcome == outcome
    assert error.value.op == "count"
    assert says in error.value.message
    assert reaped(pid)
    with pytest.raises(DriverError) as again:  # a failed driver stays failed
        client.request("count", queue="q1")
    assert again.value is error.value


def test_crash_shows_stderr_tail(broken):
    with DriverClient(broken("crash"), timeout=5) as client, pytest.raises(DriverError) as error:
        client.request("lock", queue="q1", name="x")
    assert "boom: simulated crash in lock" in error.value.stderr_tail


def test_hang_is_a_timeout_and_the_driver_is_killed(broken):
    client = DriverClient(broken("hang"), timeout=0.3)
    client.start()
    started = time.monotonic()
    with pytest.raises(DriverError) as error:
        client.request("count", queue="q1")
    assert error.value.outcome == "TIMEOUT"
    assert time.monotonic() - started < 2
    assert reaped(client.pid)


def test_schema_invalid_reply_is_an_error_when_validating(broken):
    with DriverClient(broken("schema-invalid")) as lenient:
        assert lenient.request("lock", queue="q1", name="x") == "yes"
    with DriverClient(broken("schema-invalid"), validate=True) as strict, pytest.raises(DriverError) as error:
        strict.request("lock", queue="q1", name="x")
    assert error.value.outcome == "ERROR"
    assert "'yes' is not of type 'boolean'" in error.value.message


def test_exit_before_handshake(tmp_path):
    with pytest.raises(DriverError) as error:
        DriverClient([sys.executable, "-c", "import sys; sys.exit(7)"], timeout=5).start()
    assert (error.value.outcome, error.value.op) == ("CRASH", "hello")
    assert "status 7" in error.value.message


def test_unavailable_implementation(broken):
    with pytest.raises(DriverUnavailable, match="library libfoo missing"):
        DriverClient(broken("unavailable")).start()


def test_command_that_cannot_start():
    with pytest.raises(DriverError) as error:
        DriverClient("/nonexistent/driver --flag").start()
    assert error.value.op == "spawn"


def test_command_strings_are_split_like_a_shell():
    assert split_command("faketime -f '@2030-01-01 00:00:00' perl d.pl") == ["faketime", "-f", "@2030-01-01 00:00:00", "perl", "d.pl"]
    with pytest.raises(ValueError):
        split_command("  ")


def test_stubborn_driver_is_killed_and_its_children_too(broken):
    client = DriverClient(broken("stubborn"))
    client.start()
    started = time.monotonic()
    client.close(grace=0.2)  # it ignores shutdown's end of input and SIGTERM
    assert time.monotonic() - started < 2
    assert reaped(client.pid)

    client = DriverClient(broken("grandchild"))
    client.start()
    grandchild = int(client.hello["implementation"]["version"])
    assert running(grandchild)
    client.close()
    assert reaped(client.pid)
    deadline = time.monotonic() + 2
    while running(grandchild) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not running(grandchild)  # killed with the driver's process group


KIT_SCRIPT = textwrap.dedent("""
    import os, signal, sys, threading
    from dirqkit.drivers.client import DriverClient
    client = DriverClient([sys.executable, {broken!r}, "hang"], timeout=60)
    client.start()  # a started client may still be used as a context manager
    print(client.pid, flush=True)
    if sys.argv[1] == "interrupt":
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
        with client:
            client.request("count", queue="q1")
    # "exit": leave without closing; atexit must reap the driver
""")


@pytest.mark.parametrize("how", ["interrupt", "exit"])
def test_kit_leaving_abruptly_reaps_its_drivers(tmp_path, how):
    script = tmp_path / "kit.py"
    script.write_text(KIT_SCRIPT.format(broken=str(BROKEN)))
    done = subprocess.run([sys.executable, str(script), how], capture_output=True, text=True, timeout=20, check=False)
    pid = int(done.stdout.split()[0])
    assert ("KeyboardInterrupt" in done.stderr) == (how == "interrupt")
    assert not running(pid)
