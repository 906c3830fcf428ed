"""The interop grid: per queue type, which producer/consumer (and producer/purger) pairs work together.

An interop run is a run of a case with a producer role and a consumer (or
purger) role; it belongs to the pair of every producer with every consumer
(purger) it has. A failing run counts against a pair only when it is charged
(see verdicts) to the pair's producer as producer or to its other member in
that role: a third role's deviation says nothing of the pair. A pair is
``ok`` when no run of it was charged to it, ``known`` when only known
deviations were, ``fails`` when a new or ambiguous failure was (each requirement says which);
``inconclusive`` when none of its runs could be set up.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from dirqkit.report.results import NOT_RUN, Record, RunResults, order_implementations
from dirqkit.report.verdicts import Verdicts

KINDS = ("consumer", "purger")  # the grids: producer x consumer, producer x purger
BROKEN = ("fails", "ambiguous", "known")  # how a pair breaks a requirement, worst first


def broken_text(broken: dict[str, str]) -> str:
    return ", ".join(rid + ("" if state == "fails" else f" ({state})") for rid, state in sorted(broken.items()))


@dataclass
class Pair:
    queue_type: str
    kind: str
    producer: str
    other: str
    runs: list[int] = field(default_factory=list)
    broken: dict[str, str] = field(default_factory=dict)  # requirement -> one of BROKEN
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def state(self) -> str:
        if {"fails", "ambiguous"} & set(self.broken.values()):
            return "fails"
        if self.broken:
            return "known"
        return "ok" if any(n for o, n in self.counts.items() if o not in NOT_RUN) else "inconclusive"

    @property
    def key(self) -> str:
        return f"{self.queue_type}:{self.producer}>{self.kind}:{self.other}"

    def text(self) -> str:
        state = self.state
        if state in ("fails", "known"):
            return f"{'FAIL' if state == 'fails' else 'known'} {len(self.broken)}"
        return state

    def to_json(self) -> dict[str, Any]:
        return {"queue_type": self.queue_type, "kind": self.kind, "producer": self.producer, self.kind: self.other,
                "state": self.state, "runs": self.runs, "broken": dict(sorted(self.broken.items())),
                "counts": {o: n for o, n in self.counts.items() if n}}


def _record_pairs(record: Record) -> list[tuple[str, str, str]]:
    """(kind, producer, other) for every pair the run exercises."""
    by_cap: dict[str, set[str]] = defaultdict(set)
    for role, impl in record.roles.items():
        by_cap[record.capabilities.get(role, role)].add(impl)
    return [(kind, p, o) for kind in KINDS for p in sorted(by_cap["producer"]) for o in sorted(by_cap[kind])]


def grid(results: RunResults, verdicts: Verdicts) -> dict[str, dict[str, dict[tuple[str, str], Pair]]]:
    """queue type -> kind -> (producer, consumer/purger) -> Pair."""
    out: dict[str, dict[str, dict[tuple[str, str], Pair]]] = {}
    of_run: dict[int, list[Pair]] = defaultdict(list)
    for index, record in enumerate(results.records):
        if record.outcome == "SKIP" or not record.queue_type:
            continue
        for kind, producer, other in _record_pairs(record):
            cells = out.setdefault(record.queue_type, {}).setdefault(kind, {})
            pair = cells.setdefault((producer, other), Pair(record.queue_type, kind, producer, other))
            pair.runs.append(index)
            pair.counts[record.outcome] += 1
            of_run[index].append(pair)
    for impl, rid, _, charge in verdicts.charges:
        for pair in of_run.get(charge.run, []):
            mine = (impl == pair.producer and "producer" in charge.capabilities) or (
                impl == pair.other and pair.kind in charge.capabilities)
            state = {"deviates": "known"}.get(charge.kind, charge.kind)  # fails, ambiguous or known
            if mine and (rid not in pair.broken or BROKEN.index(state) < BROKEN.index(pair.broken[rid])):
                pair.broken[rid] = state
    return out


def producers_and_others(cells: dict[tuple[str, str], Pair]) -> tuple[list[str], list[str]]:
    return order_implementations({p for p, _ in cells}), order_implementations({o for _, o in cells})
