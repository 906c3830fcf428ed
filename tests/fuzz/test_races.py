"""dirqkit fuzz race steps: the rule kills a race mutant with the right requirement and writes a races case that
dirqkit run fails; the reference passes with race steps played; without strace no race is scheduled (said once);
every verdict cites a requirement of SPEC.md and every race step is a valid case step."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from scenario_testutil import REF_DRIVER, mutants, needs_strace

from dirqkit import spec
from dirqkit.cli import main
from dirqkit.fuzz import races, search
from dirqkit.suite.caseload import load_case_file

MUTANT = next(m for m in mutants.MUTANTS if m.name == "lock-utime-race-not-tolerated")  # breaks SIMPLE-LOCK-3 (RACE-6)


def dirqkit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dirqkit", *args], capture_output=True, text=True, timeout=900, cwd=cwd)


def test_every_verdict_cites_a_requirement_of_the_spec():
    known = set(spec.requirement_levels())
    for key, verdict in races.VERDICTS.items():
        assert verdict.requirement in known, key
        assert key[3] in ("add", "lock", "lock-wins", "remove", "purge", "aged-purge", "newer-dir-purge",
                          "unlink-held", "rmdir-held", "plant-file-held"), key


@pytest.mark.parametrize("queue_type", ["simple", "normal"])
def test_every_race_step_loads_as_a_case(queue_type, tmp_path):
    schema = {"body": "string", "note": "table?"} if queue_type == "normal" else {}
    keys = races.drawable(queue_type, schema, 0o022)
    assert keys and all(k[0] == queue_type for k in keys)
    steps = [races.race_step(queue_type, key, "a", "b", schema) for key in keys]
    queue = {"type": queue_type, **({"schema": schema} if schema else {})}
    case = {"id": "races", "title": "t", "requirements": ["CONC-6"], "queue": queue,
            "roles": {"a": "purger", "b": "purger"}, "steps": steps}
    path = tmp_path / "races.yaml"
    path.write_text(json.dumps({"cases": [case]}))  # JSON is YAML
    assert len(load_case_file(path)[0].steps) == len(keys)


def test_no_race_where_the_queue_cannot_be_checked():
    assert races.drawable("simple", {}, 0o020) == []  # a TOP every user may write: dirqkit fsck refuses it (SEC-4)
    assert races.drawable("normal", {"body": "table"}, 0o022) == []  # the race's adds write a string or binary field
    assert races.drawable("normal", {"body": "string", "other": "binary"}, 0o022) == []  # a mandatory field they lack
    assert races.drawable("normal", {"body": "binary", "other": "binary?"}, 0o022)


@needs_strace
def test_the_race_rule_kills_a_race_mutant_with_its_requirement(tmp_path):
    source = mutants.build(MUTANT, tmp_path / "mutant")
    driver = shlex.join(["env", f"PYTHONPATH={mutants.driver_pythonpath(source)}", *REF_DRIVER])
    out = tmp_path / "out"
    done = dirqkit("fuzz", "--driver", driver, "--name", "mutant", "--impl", "mutant", "--type", "simple",
                   "--examples", "100", "--shrink", "40", "--seed", "1", "--max-findings", "1", "--out", str(out), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"FAIL {MUTANT.requirement}: mutant as role" in done.stdout
    cases = [load_case_file(p)[0] for p in (out / "cases").glob("*.yaml")]
    assert len(cases) == 1 and cases[0].requirements[0] == MUTANT.requirement, done.stdout
    assert any("fault" in step and "race" in step["fault"] for step in cases[0].steps)  # a races-group step
    assert "  case: " in done.stdout  # written: dirqkit run failed it on SIMPLE-LOCK-3 (casefile checks that)


@needs_strace
@pytest.mark.parametrize("queue_type", ["simple", "normal"])
def test_the_reference_passes_its_races(queue_type, tmp_path):
    done = dirqkit("fuzz", "--impl", "ref", "--type", queue_type, "--examples", "25", "--seed", "4",
                   "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 new finding(s) in 25 examples" in done.stdout
    played = [int(line.split(" race(s)")[0].rsplit(" ", 1)[1]) for line in done.stderr.splitlines() if " race(s)" in line]
    assert played and played[-1] > 0, done.stderr  # race steps ran, and the reference met every verdict


def test_without_strace_no_race_is_scheduled_and_it_says_so_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(search, "tracing_unavailable", lambda: "strace is not installed (test)")
    code = main(["fuzz", "--impl", "ref", "--type", "simple", "--examples", "8", "--seed", "2", "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    assert captured.err.count("no race steps: strace is not installed (test)") == 1
    assert " 0 race(s)" in captured.err and "0 new finding(s) in 8 examples" in captured.out
