"""``dirqkit spec-trace``: which cases check which requirement of SPEC.md.

Exits 1 when SPEC.md defines an ID twice or malformed, when a case cites an
unknown ID, and, with ``--strict``, when a MUST requirement has no case or a
SHOULD / SHOULD NOT has none and is not listed in ``untestable.yaml`` (the
rules about deployment that no case can observe, each with its reason).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from dirqkit import resources
from dirqkit.cli import UsageError
from dirqkit.spec import Requirement, default_spec_path, parse_spec
from dirqkit.suite.caseload import CaseFileError, default_cases_dir, load_citations

NAME = "spec-trace"
HELP = "list every requirement of SPEC.md with its level and the cases citing it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spec", type=Path, default=None, help="SPEC.md to read (default: the repository's)")
    parser.add_argument("--cases", type=Path, default=None, help="case directory (default: the kit's)")
    parser.add_argument("--untestable", type=Path, default=None,
                        help="YAML map ID -> reason of SHOULD rules no case can check (default: the kit's, unless --spec is given)")
    parser.add_argument("--strict", action="store_true",
                        help="also fail when a MUST, or a SHOULD not marked untestable, has no case")
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

    if args.json:
        print(json.dumps({
            "spec": str(spec_path),
            "version": spec.version,
            "requirements": [
                {"id": r.id, "level": r.level, "roles": list(r.roles), "line": r.line, "cases": cited_by[r.id],
                 **({"untestable": untestable[r.id]} if r.id in untestable else {})}
                for r in spec.requirements.values()
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
