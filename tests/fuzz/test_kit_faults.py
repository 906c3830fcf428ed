"""A kit exception inside a rule stops ``dirqkit fuzz`` as a kit error (exit 2) naming the rule; a driver that
crashes is that implementation's finding (CRASH), never a kit error."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

from scenario_testutil import mutant_driver

from dirqkit.cli import main
from dirqkit.fuzz.oracle import Model


def test_a_kit_exception_in_a_rule_is_a_kit_error_naming_the_rule(monkeypatch, tmp_path, capsys):
    def broken(self):
        raise KeyError("planted kit bug")

    monkeypatch.setattr(Model, "list_step", broken)  # only the iterate rule asks for it
    code = main(["fuzz", "--impl", "ref", "--examples", "20", "--seed", "0", "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert "kit error in fuzz rule iterate: KeyError: 'planted kit bug'" in err
    assert "finding" not in out.replace("0 new finding", "")  # nothing is charged to an implementation
    assert not list((tmp_path / "out").glob("cases/*.yaml"))


def test_a_driver_that_crashes_is_the_implementations_finding(tmp_path):
    crashing = mutant_driver(tmp_path, "count-crashes", "base.py",
                             "        return sum(sum(1 for _ in self._element_names(d)) for d in self._intermediate_dirs())",
                             "        os._exit(3)")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "dirqkit", "fuzz", "--driver", shlex.join(crashing), "--name", "crashing",
                           "--impl", "ref,crashing", "--role", "a=crashing", "--examples", "20", "--shrink", "30", "--seed", "0",
                           "--out", str(out)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "kit error" not in done.stderr
    assert re.search(r"^CRASH SIMPLE-COUNT-1: crashing as role [a-d]$", done.stdout, re.MULTILINE), done.stdout  # a is pinned,
    # others may draw it too: which role the shrunk example keeps depends on the rules the machine has
