"""Helpers shared by tests of several rooms (concurrency, crash, suite, fuzz).

A module of its own, not conftest.py: tests elsewhere import ``conftest`` by name, and a second
conftest module would shadow theirs. Test modules import what they need from here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any, Self

import pytest

import dirqkit
from dirqkit.crash.syscalls import tracing_unavailable
from dirqkit.drivers.client import OpError
from dirqkit.drivers.ref import RefAdapter
from dirqkit.drivers.server import Server
from dirqkit.suite.actors import DriverPool, discover
from dirqkit.suite.caseload import load_case_file
from dirqkit.suite.engine import CaseRun, Engine
from dirqkit.suite.roles import Assignment

REF_DRIVER = [sys.executable, "-m", "dirqkit.drivers.ref"]


def mutant_pythonpath(source: Path) -> str:
    """PYTHONPATH of a reference driver on a patched dirqref: that copy first, then the kit under test (not
    whatever dirqkit the interpreter has installed)."""
    return f"PYTHONPATH={source}{os.pathsep}{Path(dirqkit.__file__).resolve().parents[1]}"
MUTANTS_FILE = Path(__file__).resolve().parent / "mutants" / "mutants.py"


def _load_mutants():  # the mutant machinery of tests/mutants, reused
    spec = importlib.util.spec_from_file_location("dirqkit_test_mutants", MUTANTS_FILE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


mutants = _load_mutants()


needs_strace = pytest.mark.skipif(tracing_unavailable() is not None, reason=str(tracing_unavailable()))


def mutant_driver(tmp_path: Path, name: str, file: str, old: str, new: str) -> list[str]:
    """The reference driver running dirqref with one edit (see tests/mutants)."""
    mutant = mutants.Mutant(name, "-", file, old, new, "test")
    source = mutants.build(mutant, tmp_path / name)
    return ["env", mutant_pythonpath(source), *REF_DRIVER]


class InProcessActor:
    """A role played by the reference driver's server in this process (no subprocess: fast)."""

    implementation = "ref"

    def __init__(self) -> None:
        self.server, self.seq = Server(RefAdapter), 0
        self.call("hello", {"protocol": 1})

    def call(self, op: str, args: dict[str, Any]) -> Any:
        self.seq += 1
        reply = self.server.reply(json.dumps({"seq": self.seq, "op": op, **args}).encode())
        if not reply["ok"]:
            raise OpError(reply["error"]["kind"], reply["error"]["message"])
        return reply["result"]


class CaseRunner:
    """``with CaseRunner(tmp_path) as run: run(yaml_text, a=[argv], b=[argv])`` runs the file's only case
    through the engine, each role played by the given driver command; drivers are reaped on exit."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path, self.pool, self.runs = tmp_path, DriverPool(timeout=30.0), 0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.pool.close_all()

    def __call__(self, text: str, **drivers: list[str]) -> CaseRun:
        self.runs += 1
        where = self.tmp_path / f"run{self.runs}"
        where.mkdir()
        case_file = where / "case.yaml"
        case_file.write_text(text, encoding="utf-8")
        (case,) = load_case_file(case_file)
        commands = {f"impl-{role}": " ".join(argv) for role, argv in drivers.items()}
        implementations = discover(list(commands), commands, self.pool)
        actors = self.pool.actors(Assignment(tuple((role, f"impl-{role}") for role in case.roles)), implementations, case)
        try:
            return Engine(case, actors, where / "queue", where / "work").execute()
        finally:
            self.pool.release(actors)
