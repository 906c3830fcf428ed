"""A shrunk finding as a YAML case, checked with ``dirqkit run`` before it is kept.

The trace of the minimal example already is a list of case steps; this
module gives it an id, a title, the requirements its steps cite, the roles
that act in it (the capability each needs), writes it in the format of
CASES.md and runs ``dirqkit run --cases DIR --role ROLE=IMPL ...`` on it: the
case is kept only if that run fails on the finding's requirement.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dirqkit.fuzz.search import Found
from dirqkit.suite.caseload import load_case_file

CONSUMER_OPS = {"lock", "unlock", "touch", "get", "get_path", "remove", "count", "list"}
BAD = {"FAIL", "ERROR", "CRASH", "TIMEOUT"}


@dataclass
class Written:
    path: Path | None  # None: the case did not fail the same way under dirqkit run, and was not kept
    case_id: str
    rerun: list[str]  # the dirqkit run command line
    outcome: str


def role_ops(steps: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(role, op) of every op the steps play: op steps, and the ops and racing ops of a race step (``fault``)."""
    played = []
    for step in steps:
        inner = step.get("fault", {})
        for action in [step, *inner.get("ops", ()), *inner.get("race", ())]:
            if "role" in action and "op" in action:
                played.append((action["role"], action["op"]))
    return played


def acting_roles(steps: list[dict[str, Any]]) -> list[str]:
    return sorted({role for role, _ in role_ops(steps)})


def capability(steps: list[dict[str, Any]], role: str) -> str:
    ops = {op for r, op in role_ops(steps) if r == role}
    return "purger" if "purge" in ops else "consumer" if ops & CONSUMER_OPS else "producer"


def case_id(found: Found, seed: int) -> str:
    finding = found.finding
    raw = f"fuzz-{found.queue['type']}-{finding.requirement}-{finding.implementation}-s{seed}-r{found.round}"
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9]+", "-", raw.lower())).strip("-")


def case_of(found: Found, seed: int) -> dict[str, Any]:
    finding, steps = found.finding, found.trace
    acting = acting_roles(steps)
    cited = [finding.requirement] + [s["requirement"] for s in [*steps, *(s["fault"] for s in steps if "fault" in s)]
                                     if isinstance(s.get("requirement"), str)]
    return {
        "id": case_id(found, seed),
        "title": (f"found by dirqkit fuzz --seed {seed}: {finding.implementation} as role {finding.role} "
                  f"breaks {finding.requirement}"),
        "requirements": list(dict.fromkeys(cited)),
        "queue": found.queue,
        **({"umask": found.umask} if found.umask else {}),
        "roles": {role: capability(steps, role) for role in acting},
        "steps": steps,
    }


def dump(case: dict[str, Any]) -> str:
    return yaml.safe_dump({"cases": [case]}, sort_keys=False, allow_unicode=True, width=120)


def rerun_command(directory: Path, found: Found, extra_drivers: dict[str, str]) -> list[str]:
    acting = acting_roles(found.trace)
    command = ["dirqkit", "run", "--cases", str(directory)]
    for name, driver in extra_drivers.items():
        command += ["--driver", driver, "--name", name]
    command += ["--impl", ",".join(sorted({found.roles[role] for role in acting}))]
    for role in acting:
        command += ["--role", f"{role}={found.roles[role]}"]
    return command


def write(found: Found, seed: int, out: Path, extra_drivers: dict[str, str], expectations: Path | None,
          timeout: float = 600.0) -> Written:
    """Write the case under ``out/cases`` if ``dirqkit run`` fails it on the finding's requirement."""
    case = case_of(found, seed)
    trial = Path(tempfile.mkdtemp(prefix="dirqkit-fuzz-case-"))
    try:
        path = trial / "cases" / f"{case['id']}.yaml"
        path.parent.mkdir(parents=True)
        path.write_text(dump(case), encoding="utf-8")
        load_case_file(path)  # it loads with the normal case loader, or this is a kit bug
        command = rerun_command(path.parent, found, extra_drivers)
        outcome = run_case(command, trial, expectations, timeout, found.finding.requirement)
        kept = None
        if outcome == "reproduced":
            kept = out / "cases" / path.name
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, kept)
            command = rerun_command(kept.parent, found, extra_drivers)
        return Written(kept, case["id"], command, outcome)
    finally:
        shutil.rmtree(trial, ignore_errors=True)


def run_case(command: list[str], work: Path, expectations: Path | None, timeout: float, requirement: str) -> str:
    """'reproduced', or what happened instead, when the case runs under ``dirqkit run``."""
    report = work / "results.json"
    argv = [sys.executable, "-m", "dirqkit", *command[1:], "-j", "0", "--json", str(report), "--results", str(work / "evidence")]
    if expectations is not None:
        argv += ["--expectations", str(expectations)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=work)
    except subprocess.TimeoutExpired:
        return f"dirqkit run did not finish within {timeout:g} s"
    records = json.loads(report.read_text(encoding="utf-8"))["records"] if report.exists() else []
    if not records:
        return f"dirqkit run exited {done.returncode} without results: {shlex.join(argv)}\n{done.stdout[-1500:]}{done.stderr[-1500:]}"
    bad = [r for r in records if r["outcome"] in BAD]
    if bad and all(requirement in (r.get("violated") or [r.get("requirement")]) for r in bad):
        return "reproduced"
    return "; ".join(f"{r['outcome']} {r.get('requirement') or ''} {(r.get('message') or '')[:300]}" for r in records)
