"""``dirqkit spec-trace``: which cases check which requirement of SPEC.md.

Exits 1 when SPEC.md defines an ID twice or malformed, when a case cites an
unknown ID, and, with ``--strict``, when a MUST requirement has no case or a
SHOULD / SHOULD NOT has none and is not listed in ``untestable.yaml`` (the
rules about deployment that no case can observe, each with its reason).

It also lists every race SPEC.md labels ``RACE-n`` with the cases that force
it (their ``races:``); ``--strict`` fails on a race no case forces unless
``conformance/races.yaml`` marks it unforceable with a reason.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from dirqkit import resources
from dirqkit.cli import UsageError
from dirqkit.spec import Race, Requirement, default_spec_path, parse_races, parse_spec
from dirqkit.suite.caseload import CaseFileError, default_cases_dir, load_citations

NAME = "spec-trace"
HELP = "list every requirement of SPEC.md with its level and the cases citing it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spec", type=Path, default=None, help="SPEC.md to read (default: the repository's)")
    parser.add_argument("--cases", type=Path, default=None, help="case directory (default: the kit's)")
    parser.add_argument("--untestable", type=Path, default=None,
                        help="YAML map ID -> reason of SHOULD rules no case can check (default: the kit's, unless --spec is given)")
    parser.add_argument("--strict", action="store_true",
                        help="also fail when a MUST, or a SHOULD not marked untestable, has no case, or a RACE is neither forced nor marked unforceable")
    parser.add_argument("--races", type=Path, default=None, help="races marked unforceable (default: the kit's races.yaml)")
    parser.add_argument("--json", action="store_true", help="print the trace as JSON")


def run(args: argparse.Namespace) -> int:
    spec_path = args.spec or default_spec_path()
    cases_dir = args.cases or default_cases_dir()
    if not spec_path.is_file():
        raise UsageError(f"cannot read spec {spec_path}: no such file (use --spec)")
    if not cases_dir.is_dir():
        raise UsageError(f"cannot read cases {cases_dir}: no such directory (use --cases)")
    spec = parse_spec(spec_path)
    try:
        citations = load_citations(cases_dir)
    except CaseFileError as exc:
        raise UsageError(str(exc)) from exc
    untestable_path = args.untestable or (None if args.spec else resources.untestable_path())
    untestable = load_untestable(untestable_path) if untestable_path else {}

    cited_by: dict[str, list[str]] = {rid: [] for rid in spec.requirements}
    errors = [f"{spec_path}:{p.line}: {p.message}" for p in spec.problems]
    for citation in citations:
        for rid in citation.requirements:
            if rid in cited_by:
                cited_by[rid].append(citation.case_id)
            else:
                errors.append(f"{citation.where}: case {citation.case_id} cites unknown requirement {rid}")
    uncovered = [r.id for r in spec.requirements.values() if r.is_must and not cited_by[r.id]]
    errors += untestable_errors(untestable_path, untestable, spec.requirements, cited_by)
    shoulds = [r for r in spec.requirements.values() if r.is_should]
    should_open = [r.id for r in shoulds if not cited_by[r.id] and r.id not in untestable]
    if args.strict:
        errors += [f"{spec_path}:{spec.requirements[rid].line}: {rid} (MUST) is cited by no case" for rid in uncovered]
        errors += [f"{spec_path}:{spec.requirements[rid].line}: {rid} ({spec.requirements[rid].level}) is cited by no case "
                   f"and not marked untestable" for rid in should_open]
    races = parse_races(spec_path)
    races_path = args.races or resources.races_path()
    unforceable = _unforceable(races_path)
    forced_by = _forced_by(races, citations, errors)
    errors += [f"{races_path}: {label} is not a race SPEC.md labels" for label in unforceable if label not in races]
    unforced = [label for label in races if not forced_by[label] and label not in unforceable]
    if args.strict:
        errors += [f"{spec_path}:{races[label].line}: {label} is forced by no case and not marked unforceable in {races_path}"
                   for label in unforced]

    if args.json:
        print(json.dumps({
            "spec": str(spec_path),
            "version": spec.version,
            "requirements": [
                {"id": r.id, "level": r.level, "roles": list(r.roles), "line": r.line, "cases": cited_by[r.id],
                 **({"untestable": untestable[r.id]} if r.id in untestable else {})}
                for r in spec.requirements.values()
            ],
            "races": [
                {"label": r.label, "line": r.line, "requirements": list(r.requirements), "cases": forced_by[r.label],
                 "unforceable": unforceable.get(r.label)}
                for r in races.values()
            ],
            "errors": errors,
        }, indent=2))
    else:
        for r in spec.requirements.values():
            cases = ", ".join(cited_by[r.id]) or ("untestable: " + untestable[r.id] if r.id in untestable else "-")
            print(f"{r.id:<22} {r.level:<10} {cases}")
        musts = sum(1 for r in spec.requirements.values() if r.is_must)
        covered = musts - len(uncovered)
        print(f"{len(spec.requirements)} requirements (SPEC {spec.version}); "
              f"{covered} of {musts} MUST/MUST NOT cited by a case; {len(citations)} cases")
        marked = sum(1 for r in shoulds if r.id in untestable)
        print(f"{len(shoulds) - len(should_open) - marked} of {len(shoulds)} SHOULD/SHOULD NOT cited by a case, "
              f"{marked} marked untestable, {len(should_open)} neither")
        for r in races.values():
            where = ", ".join(forced_by[r.label]) or (f"unforceable: {unforceable[r.label]}" if r.label in unforceable else "-")
            print(f"{r.label:<9} line {r.line:<5} {','.join(r.requirements) or '-':<32} {where}")
        forced = sum(1 for label in races if forced_by[label])
        print(f"{len(races)} races (RACE-n); {forced} forced by a case, {len(races) - forced - len(unforced)} marked unforceable, "
              f"{len(unforced)} neither")
        for error in errors:
            print(f"error: {error}")
    return 1 if errors else 0


def load_untestable(path: Path) -> dict[str, str]:
    """The untestable file: a YAML map of requirement ID -> reason."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"cannot read untestable rules {path}: {exc}") from None
    data = {} if data is None else data
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in data.items()):
        raise UsageError(f"{path}: an untestable file maps requirement IDs to the reason no case can check them")
    return data


def untestable_errors(path: Path | None, untestable: dict[str, str], requirements: dict[str, Requirement],
                      cited_by: dict[str, list[str]]) -> list[str]:
    """Only an uncited SHOULD or SHOULD NOT of this SPEC.md may be marked untestable."""
    errors = []
    for rid in untestable:
        requirement = requirements.get(rid)
        if requirement is None:
            errors.append(f"{path}: marks {rid} untestable, which SPEC.md does not define")
        elif not requirement.is_should:
            errors.append(f"{path}: marks {rid} ({requirement.level}) untestable; only SHOULD and SHOULD NOT rules may be")
        elif cited_by[rid]:
            errors.append(f"{path}: marks {rid} untestable, but {', '.join(cited_by[rid])} cite(s) it")
    return errors
def _unforceable(path: Path) -> dict[str, str]:
    """``unforceable: {RACE-n: reason}`` from races.yaml; a missing file marks none."""
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML: {exc}") from None
    marks = data.get("unforceable", {}) if isinstance(data, dict) else None
    if not isinstance(marks, dict) or not all(isinstance(v, str) and v.strip() for v in marks.values()):
        raise UsageError(f"{path}: expected 'unforceable:' mapping each RACE-n to a reason")
    return {str(k): v for k, v in marks.items()}


def _forced_by(races: dict[str, Race], citations: list, errors: list[str]) -> dict[str, list[str]]:
    forced: dict[str, list[str]] = {label: [] for label in races}
    for citation in citations:
        for label in citation.races:
            if label in forced:
                forced[label].append(citation.case_id)
            else:
                errors.append(f"{citation.where}: case {citation.case_id} forces unknown race {label}")
    return forced
