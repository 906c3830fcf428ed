"""tools/fs_matrix.py without mounting anything: what it decides, blames, renders and always undoes.

The mounting itself runs in CI (.ci/run), as root.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dirqkit.suite.expectations import ExpectedFailure

TOOL = Path(__file__).resolve().parents[2] / "tools" / "fs_matrix.py"
spec = importlib.util.spec_from_file_location("fs_matrix", TOOL)
fs_matrix = importlib.util.module_from_spec(spec)
sys.modules["fs_matrix"] = fs_matrix  # dataclasses look their module up
spec.loader.exec_module(fs_matrix)


def record(case, roles, outcome, violated=(), requirements=("NORMAL-GET-1",)):
    return {"case": case, "roles": roles, "outcome": outcome, "violated": list(violated), "requirement": None,
            "requirements": list(requirements)}


def test_failures_are_blamed_on_the_implementation_that_always_fails_and_known_ones_listed_per_filesystem():
    records = [
        record("get", {"producer": "ref", "consumer": "ref"}, "PASS"),
        record("get", {"producer": "ref", "consumer": "py"}, "FAIL", ["NORMAL-GET-2"]),
        record("get", {"producer": "py", "consumer": "py"}, "FAIL", ["NORMAL-GET-2"]),
        record("get", {"producer": "py", "consumer": "ref"}, "PASS"),
        record("count", {"consumer": "ref"}, "FAIL"),  # the reference alone: blamed, on the case's first requirement
        record("known", {"consumer": "py"}, "XFAIL"),
        record("skipped", {}, "SKIP"),
    ]
    loaded = [ExpectedFailure("py", "known", (("consumer", "py"),), "NFS-3", "link counts", True, filesystems=("btrfs",)),
              ExpectedFailure("py", "known", (("consumer", "py"),), "NORMAL-DIR-2", "everywhere")]
    row = fs_matrix.Row("btrfs", environment={"filesystem": "btrfs", "dir_link_counts": False})
    fs_matrix.fill(row, records, loaded)
    assert row.cells["py"].failing == {"NORMAL-GET-2"} and row.cells["py"].known_here == {"NFS-3"}
    assert row.cells["ref"].failing == {"NORMAL-GET-1"}
    other = fs_matrix.Row("ext4", environment={"filesystem": "ext4", "dir_link_counts": True})
    fs_matrix.fill(other, [record("get", {"consumer": "py"}, "PASS"), record("known", {"consumer": "py"}, "XFAIL")], loaded)
    skipped = fs_matrix.Row("xfs", skipped="mkfs.xfs not installed (Debian package xfsprogs)")
    table = fs_matrix.render([row, other, skipped], ["ref", "py", "perl"])
    assert table.splitlines()[:4] == [
        "| filesystem | dir link counts | ref | py | perl |",
        "|---|---|---|---|---|",
        "| btrfs | no | FAIL NORMAL-GET-1 | FAIL NORMAL-GET-2; known here: NFS-3 | - |",
        "| ext4 | yes | - | ok | - |",
    ]
    assert "xfs: skipped: mkfs.xfs not installed (Debian package xfsprogs)" in table


def test_what_stops_mounting_is_named(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert fs_matrix.mount_problem() == "not root: mounting needs root"
    monkeypatch.setattr(fs_matrix.shutil, "which", lambda name: None)
    assert fs_matrix.image_problem("btrfs") == "mkfs.btrfs not installed (Debian package btrfs-progs)"
    assert fs_matrix.image_problem("overlay") is None


def test_the_overlay_runs_the_fixture_group_from_its_lower_layer():
    assert [label for label, _ in fs_matrix.suite_runs("ext4")] == ["suite", "concurrency"]
    assert [label for label, _ in fs_matrix.suite_runs("overlay-redirect")] == ["suite", "concurrency", "fixtures-from-lower"]


def test_cleanup_undoes_in_reverse_and_stops_the_child_on_sigterm(tmp_path):
    done = []
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as stopped:
        with fs_matrix.Cleanup() as cleanup:
            cleanup.push("first", lambda: done.append("first"))
            cleanup.push("broken", lambda: (_ for _ in ()).throw(OSError("busy")))
            cleanup.push("last", lambda: done.append("last"))
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            cleanup.child = child
            os.kill(os.getpid(), signal.SIGTERM)
    assert stopped.value.code == 128 + signal.SIGTERM
    assert done == ["last", "first"]  # a failing action does not stop the others
    assert child.poll() is not None
    assert signal.getsignal(signal.SIGTERM) is before
