"""``dirqkit spec-trace``: which cases check which requirement of SPEC.md.

Exits 1 when SPEC.md defines an ID twice or malformed, when a case cites an
unknown ID, and, with ``--strict``, when a MUST requirement has no case.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dirqkit.cli import UsageError
from dirqkit.spec import default_spec_path, parse_spec
from dirqkit.suite.caseload import CaseFileError, default_cases_dir, load_citations

NAME = "spec-trace"
HELP = "list every requirement of SPEC.md with its level and the cases citing it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spec", type=Path, default=None, help="SPEC.md to read (default: the repository's)")
    parser.add_argument("--cases", type=Path, default=None, help="case directory (default: the kit's)")
    parser.add_argument("--strict", action="store_true", help="also fail when a MUST has no case")
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

    cited_by: dict[str, list[str]] = {rid: [] for rid in spec.requirements}
    errors = [f"{spec_path}:{p.line}: {p.message}" for p in spec.problems]
    for citation in citations:
        for rid in citation.requirements:
            if rid in cited_by:
                cited_by[rid].append(citation.case_id)
            else:
                errors.append(f"{citation.where}: case {citation.case_id} cites unknown requirement {rid}")
    uncovered = [r.id for r in spec.requirements.values() if r.is_must and not cited_by[r.id]]
    if args.strict:
        errors += [f"{spec_path}:{spec.requirements[rid].line}: {rid} (MUST) is cited by no case" for rid in uncovered]

    if args.json:
        print(json.dumps({
            "spec": str(spec_path),
            "version": spec.version,
            "requirements": [
                {"id": r.id, "level": r.level, "roles": list(r.roles), "line": r.line, "cases": cited_by[r.id]}
                for r in spec.requirements.values()
            ],
            "errors": errors,
        }, indent=2))
    else:
        for r in spec.requirements.values():
            cases = ", ".join(cited_by[r.id]) or "-"
            print(f"{r.id:<22} {r.level:<10} {cases}")
        musts = sum(1 for r in spec.requirements.values() if r.is_must)
        covered = musts - len(uncovered)
        print(f"{len(spec.requirements)} requirements (SPEC {spec.version}); "
              f"{covered} of {musts} MUST/MUST NOT cited by a case; {len(citations)} cases")
        for error in errors:
            print(f"error: {error}")
    return 1 if errors else 0
