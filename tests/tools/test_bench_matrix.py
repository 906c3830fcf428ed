"""tools/bench/bench_matrix.py: one timed ``dirqkit run`` and the outcome comparison of two reports."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "bench" / "bench_matrix.py"
spec = importlib.util.spec_from_file_location("bench_matrix", TOOL)
bench_matrix = importlib.util.module_from_spec(spec)
sys.modules["bench_matrix"] = bench_matrix
spec.loader.exec_module(bench_matrix)


def test_one_run_reports_the_runs_their_outcomes_and_the_cpu_of_the_whole_tree(tmp_path):
    figures = bench_matrix.one_run(["--impl", "ref", "--case", "simple-add-get-text", "-j", "0"], tmp_path, 0)
    assert figures["exit"] == 0, figures
    assert figures["runs"] == len(figures["outcome_of"]) > 0
    assert figures["outcomes"] == {"PASS": figures["runs"]}
    assert all(key.startswith("simple-add-get-text[") for key in figures["outcome_of"])
    assert 0 < figures["cpu_s"] and 0 < figures["wall_s"]


def test_a_run_that_cannot_start_is_a_kit_error_not_figures(tmp_path):
    figures = bench_matrix.one_run(["--no-such-option"], tmp_path, 0)
    assert figures["exit"] == 2
    assert "no-such-option" in figures["kit_error"]
    assert "runs" not in figures


def test_differences_name_each_run_whose_outcome_changed_or_that_ran_only_once():
    earlier = {"a[x=ref]": "PASS", "b[x=ref]": "XFAIL", "c[x=ref]": "PASS"}
    later = {"a[x=ref]": "PASS", "b[x=ref]": "FAIL", "d[x=ref]": "SKIP"}
    assert bench_matrix.differences(earlier, later) == [
        "b[x=ref]: XFAIL -> FAIL", "c[x=ref]: PASS -> -", "d[x=ref]: - -> SKIP"]
    assert bench_matrix.differences(earlier, earlier) == []
