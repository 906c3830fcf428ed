"""Conformance by requirement: a verdict per implementation and requirement, and the SPEC 3.3 summary.

A run counts for an implementation and a requirement when the case cites the
requirement and the implementation plays a role the requirement binds (its
*roles* in SPEC.md; *implementation* binds every role). A failing run is
charged to the implementations whose behaviour broke the rule:

- a known deviation to the implementations whose expectation entries name the
  requirement (``known`` entries);
- a driver that broke the protocol to that driver's implementation;
- a new failure to the implementations in a bound role (any role when the
  run names no broken requirement, as every requirement it cites is then charged) whose (case, role)
  fails in every run where they play it, whoever their partners are; else to
  those in any role that do (a producer whose elements no consumer can read
  breaks a consumer's rule); else to the only implementation in a bound
  role; when none of these tells, the run is *ambiguous* for every candidate.

Verdicts, worst first: fails (a new failure), ambiguous, deviates (known),
met (every run that involved it passed), not tested (only skipped for the
environment, unavailable, inconclusive, or failed through another
implementation), not applicable (the queue type or role is not claimed).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from dirqkit.report.results import BAD, NOT_CLAIMED, NOT_RUN, Record, RunResults, order_implementations, order_queue_types

STATUSES = ("fails", "ambiguous", "deviates", "met", "not-tested", "not-applicable")
CAPABILITIES = ("producer", "consumer", "purger")


@dataclass
class Charge:
    """One failing run held against one implementation for one requirement."""

    run: int  # index in RunResults.records
    kind: str  # "fails", "ambiguous" or "deviates"
    capabilities: tuple[str, ...]  # the roles it played that the requirement binds
    reason: str = ""  # a known deviation: the expectation's reason
    source: str = ""  # a known deviation: file:line of the expectation entry
    candidates: tuple[str, ...] = ()  # an ambiguous run: every implementation it may be


@dataclass
class Verdict:
    implementation: str
    requirement: str
    status: str
    runs: list[int] = field(default_factory=list)  # every run behind the verdict
    charges: list[Charge] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # why not tested / not applicable

    def to_json(self) -> dict[str, Any]:
        return {
            "implementation": self.implementation, "requirement": self.requirement, "status": self.status,
            "runs": self.runs, "notes": self.notes,
            "charges": [{"run": c.run, "kind": c.kind, "roles": list(c.capabilities), "reason": c.reason,
                         "source": c.source, "candidates": list(c.candidates)} for c in self.charges],
        }


class Verdicts:
    def __init__(self, results: RunResults) -> None:
        self.results = results
        self._always_failing = _always_failing(results.records)
        self.table: dict[tuple[str, str], Verdict] = {}
        self.charges: list[tuple[str, str, str, Charge]] = []  # (implementation, requirement, queue type, charge)
        for index, record in enumerate(results.records):
            self._add(index, record)
        for verdict in self.table.values():
            verdict.status = _status(verdict, results.records)

    # -- building ------------------------------------------------------------

    def _bound(self, rid: str, record: Record) -> list[tuple[str, str]]:
        """(role, implementation) pairs of the record that ``rid`` binds (all of them when none does)."""
        requirement = self.results.requirements.get(rid)
        roles = set(requirement.roles) if requirement else {"implementation"}
        pairs = [(role, impl) for role, impl in record.roles.items()
                 if "implementation" in roles or record.capabilities.get(role, role) in roles]
        return pairs or list(record.roles.items())

    def _verdict(self, impl: str, rid: str) -> Verdict:
        return self.table.setdefault((impl, rid), Verdict(impl, rid, "not-tested"))

    def _charge(self, impl: str, rid: str, record: Record, charge: Charge) -> None:
        self._verdict(impl, rid).charges.append(charge)
        self.charges.append((impl, rid, record.queue_type, charge))

    def _caps(self, record: Record, pairs: list[tuple[str, str]], impl: str) -> tuple[str, ...]:
        return tuple(sorted({record.capabilities.get(r, r) for r, i in pairs if i == impl}))

    def _add(self, index: int, record: Record) -> None:
        if record.outcome == "SKIP" or not record.roles:
            for impl in record.involved:
                for rid in record.requirements:
                    verdict = self._verdict(impl, rid)
                    verdict.runs.append(index)
            return
        for rid in record.requirements:
            for impl in {i for _, i in self._bound(rid, record)}:
                self._verdict(impl, rid).runs.append(index)
        if record.outcome == "XFAIL" or (record.outcome in BAD and record.outcome != "XPASS"):
            self._blame(index, record)

    def _blame(self, index: int, record: Record) -> None:
        known_of = defaultdict(list)
        for entry in record.known:
            known_of[entry["requirement"]].append(entry)
        if record.outcome == "XFAIL" and not record.known:  # a results file without entries: expected_of only
            for rid in record.broken():
                known_of[rid] = [{"implementation": i, "requirement": rid, "reason": record.expected or ""}
                                 for i in record.expected_of]
        named = bool(record.violated or record.requirement or known_of)  # else every cited requirement is a guess
        for rid in record.broken():
            pairs = self._bound(rid, record) if named else list(record.roles.items())
            if rid in known_of:
                for entry in known_of[rid]:
                    impl = entry["implementation"]
                    self._charge(impl, rid, record, Charge(index, "deviates", self._caps(record, pairs, impl),
                                                           entry.get("reason", ""), entry.get("source", "")))
                continue
            blamed, ambiguous = self._culprits(record, pairs)
            for impl in blamed:
                kind = "ambiguous" if ambiguous else "fails"
                self._charge(impl, rid, record, Charge(index, kind, self._caps(record, pairs, impl) or
                                                       self._caps(record, list(record.roles.items()), impl),
                                                       candidates=tuple(blamed) if ambiguous else ()))

    def _culprits(self, record: Record, pairs: list[tuple[str, str]]) -> tuple[list[str], bool]:
        """The implementations a new failure is charged to, and whether that is ambiguous."""
        if record.culprits:
            return order_implementations(record.culprits), False
        for among in (pairs, record.roles.items()):  # a bound role first; else one that fails whoever its partners
            always = order_implementations({i for r, i in among if (record.case, r, i) in self._always_failing})
            if always:
                return always, False
        candidates = order_implementations({i for _, i in pairs})
        return candidates, len(candidates) > 1

    # -- views ---------------------------------------------------------------

    def of(self, impl: str) -> list[Verdict]:
        return sorted((v for (i, _), v in self.table.items() if i == impl), key=lambda v: v.requirement)

    def summary(self) -> dict[str, list[dict[str, Any]]]:
        """Implementation -> one row per claimed (queue type, role): SPEC 3.3's conformance statement."""
        rows: dict[str, list[dict[str, Any]]] = {}
        claims = self._claims()
        unavailable = self.results.unavailable()
        for impl in self.results.implementations():
            pairs = [] if impl in unavailable else claims.get(impl, [])
            rows[impl] = [self._row(impl, queue_type, role) for queue_type, role in pairs]
        return rows

    def _claims(self) -> dict[str, list[tuple[str, str]]]:
        """(queue type, role) pairs each implementation claims: its hello, else what it ran."""
        ran: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for record in self.results.records:
            if record.outcome not in NOT_RUN and record.queue_type:
                for role, impl in record.roles.items():
                    ran[impl].add((record.queue_type, record.capabilities.get(role, role)))
        claims = {}
        for impl in self.results.implementations():
            info = self.results.implementation_info.get(impl, {})
            if info.get("queue_types") and info.get("roles"):
                pairs = {(t, r) for t in info["queue_types"] for r in info["roles"]}
            else:
                pairs = ran.get(impl, set())
            types = order_queue_types({t for t, _ in pairs})
            claims[impl] = sorted(pairs, key=lambda p: (types.index(p[0]), CAPABILITIES.index(p[1])
                                                        if p[1] in CAPABILITIES else len(CAPABILITIES), p[1]))
        return claims

    def _row(self, impl: str, queue_type: str, role: str) -> dict[str, Any]:
        must, should, new, ambiguous, runs = set(), set(), set(), set(), set()
        for who, rid, qtype, charge in self.charges:
            if who != impl or qtype != queue_type or role not in charge.capabilities:
                continue
            runs.add(charge.run)
            if charge.kind == "ambiguous":
                ambiguous.add(rid)
                continue
            level = self.results.level(rid)
            (should if level.startswith("SHOULD") else must).add(rid)
            if charge.kind == "fails":
                new.add(rid)
        played = [n for n, record in enumerate(self.results.records) if self._plays(record, impl, queue_type, role)]
        runs.update(played)
        tested = {rid for n in played for rid in self.results.records[n].requirements if (impl, rid) in self.table
                  and n in self.table[(impl, rid)].runs}
        met = {rid for rid in tested if self.table[(impl, rid)].status == "met"}
        if must:
            text = f"{plural(len(must), 'MUST deviation')}, {plural(len(should), 'SHOULD deviation')}"
        else:
            text = "conforms" + (f", {plural(len(should), 'SHOULD deviation')}" if should else "")
            if not tested:
                text = "not tested"
        if new:
            text += f" ({len(new)} new)"
        if ambiguous:
            text += f"; {len(ambiguous)} ambiguous"
        return {"queue_type": queue_type, "role": role, "text": text, "must": sorted(must), "should": sorted(should),
                "new": sorted(new), "ambiguous": sorted(ambiguous), "met": len(met), "tested": len(tested),
                "runs": sorted(runs)}

    @staticmethod
    def _plays(record: Record, impl: str, queue_type: str, role: str) -> bool:
        return record.queue_type == queue_type and record.outcome not in NOT_RUN and any(
            i == impl and record.capabilities.get(r, r) == role for r, i in record.roles.items())

    def counts(self) -> dict[str, dict[str, int]]:
        """Implementation -> status -> number of requirements."""
        out: dict[str, dict[str, int]] = {i: {s: 0 for s in STATUSES} for i in self.results.implementations()}
        for (impl, _), verdict in self.table.items():
            out.setdefault(impl, {s: 0 for s in STATUSES})[verdict.status] += 1
        return out


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _status(verdict: Verdict, records: list[Record]) -> str:
    kinds = {c.kind for c in verdict.charges}
    for kind in ("fails", "ambiguous", "deviates"):
        if kind in kinds:
            return kind
    ran = [records[n] for n in verdict.runs]
    if any(r.outcome in ("PASS", "XPASS") for r in ran):
        return "met"
    skips = [r for r in ran if r.outcome == "SKIP"]
    if skips and all(r.skip_kind == NOT_CLAIMED for r in skips) and len(skips) == len(ran):
        verdict.notes = sorted({r.message for r in skips})
        return "not-applicable"
    notes = {r.message for r in ran if r.outcome == "SKIP" and r.skip_kind != NOT_CLAIMED}
    notes |= {f"inconclusive: {r.message.splitlines()[0] if r.message else r.case}" for r in ran if r.outcome == "INCONCLUSIVE"}
    if any(r.outcome in BAD or r.outcome == "XFAIL" for r in ran):
        notes.add("every run failed because of another implementation")
    verdict.notes = sorted(notes)
    return "not-tested"


def _always_failing(records: list[Record]) -> set[tuple[str, str, str]]:
    """(case, role, implementation) keys that fail in every run of the case where they occur, in two runs at least
    (a key seen once, as with pinned roles, tells nothing apart from its partners)."""
    runs: dict[tuple[str, str, str], list[bool]] = defaultdict(list)
    for record in records:
        if record.outcome in NOT_RUN:
            continue
        failed = record.outcome == "XFAIL" or (record.outcome in BAD and record.outcome != "XPASS")
        for role, impl in record.roles.items():
            runs[(record.case, role, impl)].append(failed)
    return {key for key, failed in runs.items() if len(failed) > 1 and all(failed)}
