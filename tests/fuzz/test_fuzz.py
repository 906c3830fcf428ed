"""dirqkit fuzz: it finds a planted bug and writes a case that dirqkit run fails; it finds nothing in the
reference; it is deterministic for a seed and budget; bad options are usage errors.

Budgets are small (at most 100 examples, the search stopping at the planted finding; a short shrink) so that these run in CI.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from scenario_testutil import REF_DRIVER, mutants

from dirqkit.cli import main
from dirqkit.suite.caseload import load_case_file

MUTANT = next(m for m in mutants.MUTANTS if m.name == "lock-ignores-eexist")  # breaks SIMPLE-LOCK-2
EXAMPLES = 100
BUDGET = ["--examples", str(EXAMPLES), "--shrink", "40", "--seed", "0", "--stop-on", MUTANT.requirement]


def dirqkit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dirqkit", *args], capture_output=True, text=True, timeout=900, cwd=cwd)


@pytest.fixture(scope="module")
def mutant(tmp_path_factory: pytest.TempPathFactory) -> str:
    source = mutants.build(MUTANT, tmp_path_factory.mktemp("mutant"))
    return shlex.join(["env", f"PYTHONPATH={mutants.driver_pythonpath(source)}", *REF_DRIVER])


def fuzz_mutant(driver: str, out: Path) -> subprocess.CompletedProcess[str]:
    return dirqkit("fuzz", "--driver", driver, "--name", "mutant", "--impl", "mutant", *BUDGET, "--out", str(out), cwd=out.parent)


@pytest.fixture(scope="module")
def found(mutant: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("fuzz") / "out"
    return fuzz_mutant(mutant, out), out


def test_finds_a_planted_bug_and_writes_a_case_dirqkit_run_fails(found, mutant, tmp_path):
    done, out = found
    assert done.returncode == 1, done.stdout + done.stderr
    cases = {path: load_case_file(path)[0] for path in sorted((out / "cases").glob("*.yaml"))}
    citing = [path for path, case in cases.items() if case.requirements[0] == MUTANT.requirement]
    assert citing, f"no case cites {MUTANT.requirement}:\n{done.stdout}"
    assert "re-run: dirqkit run --cases" in done.stdout
    case = cases[citing[0]]
    only = tmp_path / "cases"
    only.mkdir()
    (only / citing[0].name).write_text(citing[0].read_text())
    report = tmp_path / "results.json"
    pins = [arg for role in case.roles for arg in ("--role", f"{role}=mutant")]
    rerun = dirqkit("run", "--cases", str(only), "--driver", mutant, "--name", "mutant", "--impl", "mutant", *pins, "-j", "0",
                    "--json", str(report), "--results", str(tmp_path / "evidence"), cwd=tmp_path)
    assert rerun.returncode == 1, rerun.stdout[-3000:]
    records = json.loads(report.read_text())["records"]
    assert [r["outcome"] for r in records] == ["FAIL"]
    assert records[0]["violated"] == [MUTANT.requirement]


def test_same_seed_and_budget_same_cases(found, mutant, tmp_path):
    again = fuzz_mutant(mutant, tmp_path / "out")
    first = {p.name: p.read_text() for p in (found[1] / "cases").glob("*.yaml")}
    second = {p.name: p.read_text() for p in (tmp_path / "out" / "cases").glob("*.yaml")}
    assert first and first == second, again.stdout


def test_stop_on_ends_the_search_at_the_first_finding_citing_that_requirement(found):
    done = found[0]
    assert done.returncode == 1, done.stdout + done.stderr
    cited = re.findall(r"^FAIL (\S+): mutant as role", done.stdout, re.MULTILINE)
    assert cited[-1] == MUTANT.requirement and cited.count(MUTANT.requirement) == 1, done.stdout
    spent = int(re.search(r"new finding\(s\) in (\d+) examples", done.stdout).group(1))
    assert spent < EXAMPLES, done.stdout  # it stopped there, before the budget


@pytest.mark.parametrize("queue_type", ["simple", "normal", "set"])
def test_the_reference_against_itself_finds_nothing(queue_type, tmp_path):
    done = dirqkit("fuzz", "--impl", "ref", "--type", queue_type, "--examples", "15", "--seed", "3", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 new finding(s) in 15 examples" in done.stdout
    assert not list((tmp_path / "out").glob("cases/*.yaml"))
    assert not (tmp_path / ".hypothesis" / "examples").exists()  # the example database lives in the output directory, never here


@pytest.mark.parametrize("args", [
    ["--examples", "0"],
    ["--seconds", "-1"],
    ["--max-findings", "0"],
    ["--stop-on", "SIMPLE-LOCK-99"],
    ["--role", "z=ref"],
    ["--role", "a"],
    ["--impl", "no-such-implementation"],
    ["--driver", "true"],
    ["--type", "null"],
    ["--seed", "x"],
])
def test_bad_options_are_usage_errors(args, tmp_path, capsys):
    try:
        code = main(["fuzz", *args, "--out", str(tmp_path / "out")])
    except SystemExit as exit_:  # argparse's own usage errors
        code = exit_.code
    assert code == 2
    assert "fuzz" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_spent_time_budget_is_no_finding_that_did_not_reproduce(tmp_path):
    done = dirqkit("fuzz", "--impl", "ref", "--seconds", "2", "--seed", "5", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "did not reproduce" not in done.stdout
    assert "0 new finding(s)" in done.stdout


@pytest.mark.skipif(importlib.util.find_spec("dirq") is None, reason="python-dirq is not installed")
def test_ci_budget_ref_against_python_dirq_finds_nothing_new(tmp_path):
    """The CI gate: a short fixed-seed fuzz of ref against python-dirq; a new deviation (or a kit error) fails it."""
    done = dirqkit("fuzz", "--impl", "ref,python-dirq", "--type", "simple", "--examples", "20", "--seed", "11",
                   "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 new finding(s) in 20 examples (seed 11)" in done.stdout
