"""driver-check against the real drivers, the example and broken drivers; its exit codes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from drivers_testutil import REF

import dirqkit
from dirqkit.cli import main
from dirqkit.drivers.check import check
from dirqkit.drivers.registry import DRIVERS

EXAMPLE = Path(dirqkit.__file__).parent / "drivers" / "example" / "simple_driver.py"


def statuses(findings, status):
    return [f"{f.check}: {f.detail}" for f in findings if f.status == status]


def test_ref_passes_strictly():
    findings, hello = check(REF, timeout=10, workdir=None)
    assert statuses(findings, "FAIL") == []
    assert statuses(findings, "DEVIATION") == []
    assert statuses(findings, "SKIP") == []
    assert hello["queue_types"] == ["simple", "normal", "null", "set"]
    assert {f.check for f in findings} >= {"simple.produce", "normal.consume-history", "set.set_list", "shutdown-exit"}


def test_python_dirq_passes_with_its_known_deviations():
    findings, _ = check(list(DRIVERS["python-dirq"].command), timeout=10, workdir=None)
    assert statuses(findings, "FAIL") == []
    deviations = statuses(findings, "DEVIATION")
    assert any(d.startswith("simple.invalid-name: lock: expected error invalid_name") for d in deviations)  # NAME-10
    assert any(d.startswith("normal.get_path: get_path: expected success, got error unsupported") for d in deviations)


def test_example_driver_passes_strictly():
    assert main(["driver-check", "--strict", f"{sys.executable} {EXAMPLE}"]) == 0


def test_example_driver_passes_the_simple_cases(tmp_path):
    """The template conforms: every Simple case with the example in every role (umask cases skipped: not declared)."""
    done = subprocess.run([sys.executable, "-m", "dirqkit", "run", "--driver", f"{sys.executable} {EXAMPLE}",
                           "--name", "example", "--impl", "example", "--group", "simple", "-j", "0",
                           "--json", str(tmp_path / "out.json")], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    outcomes = [r["outcome"] for r in json.loads((tmp_path / "out.json").read_text())["records"]]
    assert outcomes.count("PASS") >= 40 and set(outcomes) <= {"PASS", "SKIP"}


@pytest.mark.parametrize("mode, says", [
    ("garbage", "unknown-op: ERROR during no_such_op: stdout carried a line that is not JSON"),
    ("crash", "unknown-op: CRASH during no_such_op: driver exited with status 3"),
    ("wrong-seq", "unknown-op: ERROR during no_such_op: reply seq 2 does not match request seq 1"),
    ("bad-error", "unknown-op: ERROR during no_such_op: error reply needs error.kind in"),
    ("schema-invalid", ("simple.count: ERROR during count: reply to count does not match the protocol schema: "
                        "result/(top): 'yes' is not of type 'integer'")),
])
def test_broken_drivers_fail_with_the_reason(broken, mode, says):
    findings, _ = check(broken(mode), timeout=5, workdir=None)
    failed = statuses(findings, "FAIL")
    assert failed[-1].startswith(says), failed  # the protocol break ends the check


def test_crash_report_carries_stderr(broken):
    findings, _ = check(broken("crash"), timeout=5, workdir=None)
    assert "boom: simulated crash in no_such_op" in statuses(findings, "FAIL")[0]


def test_hanging_driver_times_out(broken):
    # The timeout covers the driver's start-up too (it answers hello, then hangs): long enough for a start
    # on a loaded machine, where 0.3 s gave a TIMEOUT during hello instead.
    findings, _ = check(broken("hang"), timeout=5, workdir=None)
    assert statuses(findings, "FAIL")[0].startswith("unknown-op: TIMEOUT during no_such_op")


def test_exit_codes_and_json(broken, capsys, tmp_path):
    assert main(["driver-check", "--json", "--workdir", str(tmp_path), *["--", *broken("wrong-seq")]]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is False and report["summary"]["FAIL"] == 1
    assert main(["driver-check"]) == 2
    assert main(["driver-check", "/nonexistent/driver"]) == 2
    assert main(["driver-check", "--driver", "nosuch"]) == 2
    assert main(["driver-check", "--driver", "python-dirq", "--strict"]) == 1  # deviations fail under --strict


def available(name):
    ok, reason = DRIVERS[name].probe()
    return pytest.mark.skipif(not ok, reason=f"{name} driver unavailable: {reason}")


@available("perl")
def test_perl_driver_speaks_the_protocol():
    findings, hello = check(list(DRIVERS["perl"].command), timeout=10, workdir=None)
    assert statuses(findings, "FAIL") == []
    assert set(hello["queue_types"]) >= {"simple", "normal"}


@available("c")
def test_c_driver_speaks_the_protocol():
    findings, hello = check(list(DRIVERS["c"].command), timeout=10, workdir=None)
    assert statuses(findings, "FAIL") == []
    assert statuses(findings, "DEVIATION") == []
    assert hello["queue_types"] == ["simple"]


def test_compact_history_announced_but_not_sent_fails():
    findings, hello = check([sys.executable, str(Path(__file__).with_name("events_only_driver.py"))], timeout=10, workdir=None)
    assert "compact-history" in hello["features"]
    failed = statuses(findings, "FAIL")
    assert failed and all(f.endswith("-form: asked for the compact history form, got events") for f in failed), failed
    assert {"simple.produce", "simple.consume-history"} <= {f.check for f in findings if f.status == "PASS"}
