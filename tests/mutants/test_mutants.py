"""The suite's power to fail: every broken variant of dirqref must be caught.

Each mutant runs as the only implementation, in every role, against the
cases citing the requirement it breaks; at least one of them must fail.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TABLE_ENV
from mutants import MUTANTS, Mutant, build
from scenario_testutil import mutant_pythonpath

BAD = {"FAIL", "ERROR", "CRASH", "TIMEOUT"}
UNJUDGED = {"SKIP", "INCONCLUSIVE"}


def run_suite(pythonpath: Path, requirement: str, work: Path) -> tuple[int, list[dict], str]:
    driver = shlex.join(["env", mutant_pythonpath(pythonpath), sys.executable, "-m", "dirqkit.drivers.ref"])
    report = work / "results.json"
    command = [sys.executable, "-m", "dirqkit", "run", "--driver", driver, "--name", "mutant", "--impl", "mutant",
               "--req", requirement, "-j", "0", "--json", str(report), "--results", str(work / "evidence")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=work)
    records = json.loads(report.read_text())["records"] if report.exists() else []
    return done.returncode, records, done.stdout[-3000:] + done.stderr[-3000:]


def test_mutant_copy_is_what_the_driver_imports(tmp_path):
    mutant = MUTANTS[0]
    build(mutant, tmp_path)
    found = subprocess.run(["env", f"PYTHONPATH={tmp_path}", sys.executable, "-c", "import dirqref; print(dirqref.__file__)"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(found).is_relative_to(tmp_path)


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_is_killed_by_a_case_citing_its_requirement(mutant: Mutant, tmp_path):
    code, records, output = run_suite(build(mutant, tmp_path / "src"), mutant.requirement, tmp_path)
    citing = [r for r in records if mutant.requirement in r["requirements"]]
    killers = sorted({r["case"] for r in citing if r["outcome"] in BAD})
    # Cases that could not judge here (a tool such as faketime or strace missing, or the kit could not set them up):
    # a mutant only they would kill cannot be said to survive.
    unjudged = sorted({f"{r['case']}: {r['message'] or r['outcome']}" for r in citing if r["outcome"] in UNJUDGED})
    verdict = "killed" if killers else "skipped" if unjudged else "SURVIVED"
    with open(os.environ[TABLE_ENV], "a", encoding="utf-8") as table:
        table.write(f"{mutant.name}\t{mutant.requirement}\t{verdict}\t{', '.join(killers) or '-'}\n")
    assert records, f"the suite did not run:\n{output}"
    if not killers and unjudged:
        pytest.skip(f"no case citing {mutant.requirement} that ran here killed it, and these could not run: {'; '.join(unjudged)}")
    assert code == 1, f"dirqkit run exited {code} for mutant {mutant.name}:\n{output}"
    assert killers, f"mutant {mutant.name} ({mutant.why}) survived every case citing {mutant.requirement}"
