"""Run results: one record per case run, plus what the run knew of its implementations and environment.

A record is one case run for one assignment of implementations to roles (or
one SKIP of one implementation). The views built on them live beside this
module: verdicts (per implementation and requirement), interop (pairs),
matrix (per requirement group); the renderers (terminal, markdown, htmlpage,
jsonreport, junit) only lay those views out.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from dirqkit.spec import Requirement, default_spec_path, parse_spec

BAD = ("FAIL", "ERROR", "TIMEOUT", "CRASH", "XPASS")
# INCONCLUSIVE: the kit could not set up the situation a case needs; never charged to an implementation.
OUTCOMES = ("PASS", "FAIL", "ERROR", "TIMEOUT", "CRASH", "SKIP", "XFAIL", "XPASS", "INCONCLUSIVE")
NOT_RUN = ("SKIP", "INCONCLUSIVE")  # outcomes that say nothing about an implementation

# Why a SKIP record did not run (Record.skip_kind).
UNAVAILABLE, NOT_CLAIMED, ENVIRONMENT = "unavailable", "not-claimed", "environment"


class ResultsFileError(Exception):
    """A results file that cannot be read; names the file."""


@dataclass
class Record:
    case: str
    title: str
    group: str
    requirements: list[str]
    roles: dict[str, str]  # role name -> implementation
    where: str
    outcome: str = "PASS"
    requirement: str | None = None
    violated: list[str] = field(default_factory=list)  # every requirement a failing run broke
    message: str = ""  # what failed, or why the run was skipped
    evidence: str | None = None  # the directory keeping the failure's tree, log and transcripts
    expected: str | None = None
    implementations: list[str] = field(default_factory=list)  # a SKIP: the implementation it skipped
    expected_of: list[str] = field(default_factory=list)  # the implementations whose known deviations the run meets
    queue_type: str = ""
    capabilities: dict[str, str] = field(default_factory=dict)  # role name -> producer, consumer or purger
    known: list[dict[str, Any]] = field(default_factory=list)  # matching expectations: implementation, requirement, reason, source
    culprits: list[str] = field(default_factory=list)  # implementations whose driver broke the protocol
    skip_kind: str = ""  # a SKIP: UNAVAILABLE, NOT_CLAIMED or ENVIRONMENT
    rerun: str = ""
    seconds: float = 0.0  # how long the run took (pytest's call phase), for finding where a run's time goes
    worker: str = ""  # the xdist worker that ran it ("" without xdist)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @property
    def label(self) -> str:
        roles = ",".join(f"{r}={i}" for r, i in self.roles.items()) or ",".join(self.implementations)
        return f"{self.case}[{roles}]"

    def broken(self) -> list[str]:
        """The requirements a failing run broke: those it names, else those its known deviations name,
        else every one its case cites (a driver that broke the protocol tested none of them)."""
        known = [e["requirement"] for e in self.known] if self.outcome == "XFAIL" else []
        named = list(self.violated) or list(dict.fromkeys(known)) or ([self.requirement] if self.requirement else [])
        return named or list(self.requirements)

    @property
    def involved(self) -> list[str]:
        return sorted(set(self.roles.values()) or set(self.implementations))


def requirement_group(rid: str) -> str:
    return rid.rsplit("-", 1)[0]


def order_implementations(names: set[str] | list[str]) -> list[str]:
    return sorted(set(names), key=lambda n: (n != "ref", n))


QUEUE_TYPES = ("simple", "normal", "null", "set")


def order_queue_types(types: set[str] | list[str]) -> list[str]:
    return sorted(set(types), key=lambda t: (QUEUE_TYPES.index(t) if t in QUEUE_TYPES else len(QUEUE_TYPES), t))


class RunResults:
    """The records of a run, with ``implementation_info`` (name -> available, reason, enable,
    queue_types, roles) and ``environment`` (free-form facts: filesystem, mount options, ...)."""

    def __init__(self, requirements: dict[str, Requirement] | None = None) -> None:
        self.records: list[Record] = []
        self.implementation_info: dict[str, dict[str, Any]] = {}
        self.environment: dict[str, str | bool] = {}
        self._requirements = requirements

    @property
    def requirements(self) -> dict[str, Requirement]:
        """SPEC.md's requirements, read only when a report needs them."""
        if self._requirements is None:
            path = default_spec_path()
            self._requirements = parse_spec(path).requirements if path.is_file() else {}
        return self._requirements

    def level(self, rid: str) -> str:
        requirement = self.requirements.get(rid)
        return requirement.level if requirement else ""

    def add(self, record: Record) -> None:
        self.records.append(record)

    def implementations(self) -> list[str]:
        return order_implementations({i for r in self.records for i in r.involved} | set(self.implementation_info))

    def unavailable(self) -> dict[str, str]:
        """Implementation -> why it could not run and what would enable it, for every unavailable one."""
        found = {name: info.get("reason", "") + (f"; to enable it: {info['enable']}" if info.get("enable") else "")
                 for name, info in self.implementation_info.items() if not info.get("available", True)}
        for record in self.records:
            if record.skip_kind == UNAVAILABLE:
                for name in record.implementations:
                    found.setdefault(name, record.message)
        return {name: found[name] for name in order_implementations(found)}

    def totals(self) -> dict[str, int]:
        counts = {o: 0 for o in OUTCOMES}
        for record in self.records:
            counts[record.outcome] = counts.get(record.outcome, 0) + 1
        return counts

    def totals_text(self) -> str:
        return f"{len(self.records)} runs: " + ", ".join(f"{n} {o}" for o, n in self.totals().items() if n)

    def environment_line(self) -> str:
        env = self.environment
        if not env:
            return ""
        links = "maintained" if env.get("dir_link_counts") else "not maintained"
        return (f"queues in {env.get('dir')}: {env.get('filesystem')} mounted on {env.get('mount_point')} "
                f"({env.get('mount_options')}), directory link counts {links}")

    def ok(self) -> bool:
        return not any(r.outcome in BAD for r in self.records)

    def to_json(self) -> dict[str, Any]:
        return {
            "implementations": {name: self.implementation_info.get(name, {}) for name in self.implementations()},
            "environment": dict(self.environment),
            "totals": self.totals(),
            "records": [r.to_json() for r in self.records],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], requirements: dict[str, Requirement] | None = None) -> RunResults:
        results = cls(requirements)
        infos = data.get("implementations", {})
        results.implementation_info = dict(infos) if isinstance(infos, dict) else {}
        results.environment = dict(data.get("environment", {}))
        results.records = [Record.from_json(r) for r in data.get("records", [])]
        return results


def load(path: Path) -> RunResults:
    """A results file written by ``dirqkit run --json``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("records"), list):
            raise ValueError("not a dirqkit results file (no 'records' list)")
        return RunResults.from_json(data)
    except (OSError, ValueError, TypeError) as exc:
        raise ResultsFileError(f"{path}: cannot read results: {exc}") from None
