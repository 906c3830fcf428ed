"""Print the mutant kill table at the end of the run (written by test_mutants.py)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

TABLE_ENV = "DIRQKIT_KILL_TABLE"


def pytest_configure(config: pytest.Config) -> None:
    if TABLE_ENV not in os.environ:  # the controller; xdist workers inherit the variable
        fd, path = tempfile.mkstemp(prefix="dirqkit-kill-table-", suffix=".tsv")
        os.close(fd)
        os.environ[TABLE_ENV] = path


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if hasattr(terminalreporter.config, "workerinput"):
        return
    path = Path(os.environ.get(TABLE_ENV, ""))
    if not path.is_file():
        return
    rows = sorted(line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line)
    path.unlink()
    if not rows:
        return
    terminalreporter.write_sep("=", f"mutant kill table ({sum(r[2] == 'killed' for r in rows)} of {len(rows)} killed)")
    terminalreporter.write_line(f"{'mutant':<34} {'breaks':<16} {'verdict':<8} killed by")
    for name, requirement, verdict, cases in rows:
        terminalreporter.write_line(f"{name:<34} {requirement:<16} {verdict:<8} {cases}")
