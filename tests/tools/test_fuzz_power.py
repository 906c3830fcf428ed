"""tools/fuzz_power.py: every finding a fuzz run reports is read, and a mutant is killed by any written one citing its ID."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "fuzz_power.py"
spec = importlib.util.spec_from_file_location("fuzz_power", TOOL)
fuzz_power = importlib.util.module_from_spec(spec)
sys.modules["fuzz_power"] = fuzz_power
spec.loader.exec_module(fuzz_power)

OUTPUT = """dirqkit fuzz: skipping nothing

FAIL ITER-4: mutant as role a
  step 3: a=mutant count() -> 2, expected 1
  case: out/cases/fuzz-simple-iter-4-mutant-s0-r0.yaml
  re-run: dirqkit run --cases out/cases ...

CRASH SIMPLE-COUNT-1: mutant as role b
  the driver exited
  not written: dirqkit run did not fail the case on SIMPLE-COUNT-1: PASS

FAIL SIMPLE-COUNT-1: mutant as role a
  step 5: a=mutant count() -> 4, expected 2
  case: out/cases/fuzz-simple-simple-count-1-mutant-s0-r2.yaml
  re-run: dirqkit run --cases out/cases ...
dirqkit fuzz: 3 new finding(s) in 40 examples (seed 0)
"""


def test_every_finding_is_read_in_order_with_whether_its_case_was_written():
    found = fuzz_power.reported(OUTPUT)
    assert [(f.requirement, f.outcome, f.written) for f in found] == [
        ("ITER-4", "FAIL", True), ("SIMPLE-COUNT-1", "CRASH", False), ("SIMPLE-COUNT-1", "FAIL", True)]
    assert [f.label() for f in found] == ["ITER-4", "SIMPLE-COUNT-1 (CRASH) (not written)", "SIMPLE-COUNT-1"]
    assert fuzz_power.reported("dirqkit fuzz: 0 new finding(s) in 40 examples (seed 0)\n") == []


def test_killed_by_any_written_finding_first_only_by_the_first_of_a_run():
    found = fuzz_power.reported(OUTPUT)
    assert fuzz_power.judge("SIMPLE-COUNT-1", [found]) == (True, False)
    assert fuzz_power.judge("ITER-4", [found]) == (True, True)
    assert fuzz_power.judge("SIMPLE-COUNT-1", [found[:2]]) == (False, False)  # only a case not written cites it
    assert fuzz_power.judge("ITER-1", [[], found]) == (False, False)
    assert fuzz_power.judge("ITER-4", [[], found]) == (True, True)  # the first finding of the second queue type
