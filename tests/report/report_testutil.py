"""Records and results built by hand for the report tests."""

from __future__ import annotations

from typing import Any

from dirqkit.report.results import Record, RunResults
from dirqkit.spec import Requirement

REQUIREMENTS = {
    rid: Requirement(rid, level, roles, f"text of {rid}", n)
    for n, (rid, level, roles) in enumerate([
        ("SIMPLE-ADD-1", "MUST", ("producer",)),
        ("SIMPLE-ADD-7", "SHOULD", ("producer",)),
        ("SIMPLE-GET-1", "MUST", ("consumer",)),
        ("SIMPLE-PURGE-2", "MUST", ("purger",)),
        ("SPEC-3", "MUST", ("implementation",)),
        ("NORMAL-GET-3", "MUST", ("consumer",)),
    ], start=100)
}

CAPS = {"producer": "producer", "consumer": "consumer", "purger": "purger"}


def run(case: str, roles: dict[str, str], outcome: str = "PASS", requirements: tuple[str, ...] = ("SIMPLE-GET-1",),
        queue_type: str = "simple", **extra: Any) -> Record:
    return Record(case=case, title=f"title of {case}", group=queue_type, requirements=list(requirements), roles=roles,
                  where=f"cases/{queue_type}.yaml:1", outcome=outcome, queue_type=queue_type,
                  capabilities={r: CAPS.get(r, r) for r in roles}, rerun=f"dirqkit run --case {case}", **extra)


def known(impl: str, rid: str, reason: str = "a known bug") -> dict[str, Any]:
    return {"implementation": impl, "requirement": rid, "reason": reason, "source": f"expectations/{impl}.yaml:7",
            "racy": False}


def results(*records: Record, info: dict[str, dict[str, Any]] | None = None) -> RunResults:
    out = RunResults(dict(REQUIREMENTS))
    for record in records:
        out.add(record)
    out.implementation_info = info or {}
    return out
