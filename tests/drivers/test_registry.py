"""The registry of known drivers and `dirqkit drivers`."""

import json
import os

import pytest

from dirqkit.cli import main
from dirqkit.drivers.client import DriverClient
from dirqkit.drivers.registry import DRIVERS


def test_drivers_command_lists_every_known_driver(capsys):
    assert main(["drivers", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"ref", "python-dirq", "perl", "c", "java"}
    assert rows["ref"]["available"] is True
    assert (rows["ref"]["command"][1], rows["ref"]["command"][4]) == ("-S", "dirqkit.drivers.ref")
    assert all(row["reason"] for row in rows.values())


@pytest.mark.parametrize(("name", "implementation"), [("ref", "dirqref"), ("python-dirq", "python-dirq")])
def test_python_drivers_start_without_site_nor_pythonpath(name, implementation):
    """No site module (the start-up it costs): the command itself names where the kit and the implementation are."""
    available, reason = DRIVERS[name].probe()
    if not available:
        pytest.skip(reason)
    command = list(DRIVERS[name].command)
    assert command[1] == "-S"
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    with DriverClient(command, timeout=30, env=env, cwd="/") as client:
        assert client.hello["implementation"]["name"] == implementation
        queue = client.request("open", type="null")
        assert client.request("count", queue=queue) == 0


def test_c_probe_reports_a_missing_library(monkeypatch, tmp_path):
    monkeypatch.setenv("DIRQKIT_LIBDIRQ", str(tmp_path / "libdirq.so"))
    available, reason = DRIVERS["c"].probe()
    assert not available and str(tmp_path / "libdirq.so") in reason


def test_perl_probe_without_perl(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert DRIVERS["perl"].probe() == (False, "perl is not on PATH")


def test_perl_probe_without_directory_queue(monkeypatch, tmp_path):
    fake = tmp_path / "perl"  # a perl that lacks the module, whatever this machine has
    fake.write_text("#!/bin/sh\necho \"Can't locate Directory/Queue.pm in @INC (you may need to install it) (@INC contains: /x /y)\" >&2\nexit 2\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert DRIVERS["perl"].probe() == (
        False, "perl -MDirectory::Queue -e1 failed: Can't locate Directory/Queue.pm in @INC (you may need to install it)")


def test_text_listing(capsys):
    assert main(["drivers"]) == 0
    out = capsys.readouterr().out
    assert "ref" in out and "command:" in out
