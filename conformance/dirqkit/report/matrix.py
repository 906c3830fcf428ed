"""The group matrix: runs per requirement group (the ID without its number) and implementation.

A run counts for every implementation playing a role in it (a known
deviation only for the implementations whose expectation it meets) and every
group of the requirements its case cites. A known deviation is counted apart
from the passes: ``468/476, 8 known``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from dirqkit.report.results import BAD, NOT_RUN, RunResults, requirement_group


@dataclass
class Cell:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    runs: list[int] = field(default_factory=list)

    @property
    def state(self) -> str:
        """fails, known, ok, inconclusive or skip: the colour of the cell."""
        if any(self.counts[o] for o in BAD):
            return "fails"
        if self.counts["XFAIL"]:
            return "known"
        if self.counts["PASS"]:
            return "ok"
        return "inconclusive" if self.counts["INCONCLUSIVE"] else "skip"

    def text(self) -> str:
        ran = sum(n for o, n in self.counts.items() if o not in NOT_RUN)
        if not ran:
            return "inconclusive" if self.counts["INCONCLUSIVE"] else "skip"
        text = f"{self.counts['PASS']}/{ran}"
        extras = [f"{self.counts['XFAIL']} known"] if self.counts["XFAIL"] else []
        bad = sum(self.counts[o] for o in BAD)
        extras += [f"{bad} FAIL"] if bad else []
        extras += [f"{self.counts['INCONCLUSIVE']} inconclusive"] if self.counts["INCONCLUSIVE"] else []
        return text + (f", {', '.join(extras)}" if extras else "")


def matrix(results: RunResults) -> dict[str, dict[str, Cell]]:
    rows: dict[str, dict[str, Cell]] = defaultdict(lambda: defaultdict(Cell))
    for index, record in enumerate(results.records):
        impls = set(record.involved)
        if record.outcome == "XFAIL" and record.expected_of:
            impls &= set(record.expected_of)  # another implementation's known deviation says nothing of these
        for group in sorted({requirement_group(r) for r in record.requirements}):
            for impl in impls:
                cell = rows[group][impl]
                cell.counts[record.outcome] += 1
                cell.runs.append(index)
    return {g: dict(rows[g]) for g in sorted(rows)}
