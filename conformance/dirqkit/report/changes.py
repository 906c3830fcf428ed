"""What changed between two runs: per implementation and requirement, and per interop pair.

Worse (a regression): a requirement an implementation now fails or cannot be
told apart on (new FAIL, ambiguous), a known deviation on a requirement it did
not deviate from before, a pair that passed and now fails (or fails on a new
requirement). Better: the reverse. A requirement that is no longer tested (an
implementation unavailable, a case skipped) is listed apart: it is neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dirqkit.report.interop import Pair
from dirqkit.report.results import RunResults
from dirqkit.report.views import Views

# Higher is better; None: says nothing about the implementation.
VERDICT_RANK = {"fails": 0, "ambiguous": 1, "deviates": 2, "met": 3, "not-tested": None, "not-applicable": None}
PAIR_RANK = {"fails": 0, "known": 1, "ok": 2, "inconclusive": None}


@dataclass
class Changes:
    worse: list[str] = field(default_factory=list)
    better: list[str] = field(default_factory=list)
    untested: list[str] = field(default_factory=list)


def _verdicts(views: Views) -> dict[tuple[str, str], str]:
    return {key: verdict.status for key, verdict in views.verdicts.table.items()}


def _pairs(views: Views) -> dict[str, Pair]:
    return {pair.key: pair for pair in views.pairs()}


def compare(old: RunResults, new: RunResults) -> Changes:
    changes = Changes()
    before, after = Views.of(old), Views.of(new)
    old_verdicts, new_verdicts = _verdicts(before), _verdicts(after)
    for key in sorted(set(old_verdicts) | set(new_verdicts)):
        impl, rid = key
        was, now = old_verdicts.get(key, "absent"), new_verdicts.get(key, "absent")
        was_rank, now_rank = VERDICT_RANK.get(was), VERDICT_RANK.get(now)
        line = f"{impl} {rid}: {was} -> {now}"
        if was == now:
            continue
        if now_rank is None:
            if was_rank is not None:
                changes.untested.append(line)
        elif was_rank is None:  # newly tested: only a deviation or a failure is news
            if now_rank < VERDICT_RANK["met"]:
                changes.worse.append(line)
            else:
                changes.better.append(line)
        elif now_rank < was_rank:
            changes.worse.append(line)
        elif now_rank > was_rank:
            changes.better.append(line)
    old_pairs, new_pairs = _pairs(before), _pairs(after)
    for key in sorted(set(old_pairs) | set(new_pairs)):
        was, now = old_pairs.get(key), new_pairs.get(key)
        was_rank = PAIR_RANK.get(was.state) if was else None
        now_rank = PAIR_RANK.get(now.state) if now else None
        label = f"interop {key.replace('>', ' -> ')}"
        if now_rank is None:
            if was_rank is not None:
                changes.untested.append(f"{label}: {was.state} -> {'absent' if now is None else now.state}")
            continue
        assert now is not None
        gained = sorted(set(now.broken) - set(was.broken)) if was else sorted(now.broken)
        lost = sorted(set(was.broken) - set(now.broken)) if was else []
        state = f"{was.state if was else 'absent'} -> {now.state}"
        if (was_rank is not None and now_rank < was_rank) or (now_rank < PAIR_RANK["ok"] and gained):
            changes.worse.append(f"{label}: {state}" + (f", now breaks {', '.join(gained)}" if gained else ""))
        elif (was_rank is not None and now_rank > was_rank) or lost:
            changes.better.append(f"{label}: {state}" + (f", no longer breaks {', '.join(lost)}" if lost else ""))
    return changes
