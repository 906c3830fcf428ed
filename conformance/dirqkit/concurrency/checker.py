"""Judge the combined histories of concurrent producers, consumers and purgers.

The input is what the batch ops ``produce`` and ``consume`` return
(PROTOCOL.md 2.3; compact rows, 2.4, are read as the events they stand for), plus the events the kit itself records while it runs a
stress (``dirqkit.concurrency.stress``): purges, lock ageing and killed consumer batches.
Every event has ``type`` (invoke, ok, fail, info), ``op`` and ``time``
(integer microseconds of one machine's wall clock).

The checker reports, each with the requirement it breaks and the element:

- lost: an acknowledged add whose element no consumer ever got (CONC-3);
- torn: a get whose payload digest differs from the produced one (CONC-1);
- unexpected: a got element that no add produced (CONC-1);
- two holders at once: overlapping certain lock intervals of one element (CONC-2);
- delivered twice: an element got twice although its lock was never released (CONC-3);
- errors that a race must not cause (CONC-6, ITER-2 for iteration).

A second delivery, or an overlap, is legitimate only when a purge may have
released the earlier holder's lock as stale (SPEC 8.2): a purge that ran
after that lock was taken and, when it ended, found the lock time, or a time
the kit backdated the lock to, older than its ``maxlock``. A purge that
overlaps the lock operation itself may have seen the element's earlier
modification time (SPEC 8.2 cases 3 and 4).
"""

from __future__ import annotations

import bisect
import itertools
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dirqkit.concurrency.scene import ScenarioFailed, Scene
from dirqkit.drivers.protocol import BadHistory, history_events

US = 1_000_000
NEVER = float("inf")
SLACK_US = 50_000  # file times come from the kernel's coarse clock, history times from gettimeofday


class HistoryError(Exception):
    """A history that is not a list of well-formed events; names the source and the event."""


@dataclass(frozen=True)
class Violation:
    requirement: str
    element: str
    message: str

    def __str__(self) -> str:
        return f"{self.requirement} {self.element}: {self.message}"


@dataclass
class Add:
    source: str
    index: int
    sha256: str
    invoked: int
    name: str | None = None  # set when acknowledged
    outcome: str = "unknown"  # ok, fail or unknown


@dataclass
class Holding:
    """One consumer's successful lock of one element and what followed."""

    source: str
    name: str
    lock_invoked: int
    lock_ok: int
    sha256: str | None = None
    released: float = NEVER  # when the holder began to let go (remove invoked); NEVER: it kept the lock
    error: dict[str, Any] | None = None
    error_op: str = ""
    error_time: int = 0


@dataclass(frozen=True)
class Purge:
    invoked: int
    ended: float  # NEVER when the purger died during it
    maxlock: int | None  # None: the implementation's default, assumed 600 (COMMON-8)


@dataclass(frozen=True)
class Ageing:
    invoked: int
    ended: int
    seconds: float


@dataclass
class Verdict:
    violations: list[Violation] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=lambda: defaultdict(int))  # counts (and a stress's timings)

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        return ", ".join(f"{key} {value}" for key, value in sorted(self.stats.items()) if value)

    def report(self, limit: int = 20) -> str:
        lines = [str(v) for v in self.violations[:limit]]
        if len(self.violations) > limit:
            lines.append(f"... and {len(self.violations) - limit} more")
        return "\n".join(lines)


@dataclass
class _Parsed:
    adds: list[Add] = field(default_factory=list)
    holdings: list[Holding] = field(default_factory=list)
    purges: list[Purge] = field(default_factory=list)
    ageings: list[Ageing] = field(default_factory=list)
    unrecorded: int = 0  # elements killed consume batches may have removed without a record
    violations: list[Violation] = field(default_factory=list)


def _event(source: str, position: int, raw: Any) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping) or raw.get("type") not in ("invoke", "ok", "fail", "info") \
            or not isinstance(raw.get("op"), str) or not isinstance(raw.get("time"), int):
        raise HistoryError(f"{source} event {position}: not a history event: {raw!r:.200}")
    return raw


def _error_text(event: Mapping[str, Any]) -> str:
    error = event.get("error") or {}
    return f"{error.get('kind', event['type'])}: {error.get('message', '')}".strip().rstrip(":")


class _Reader:
    """Walks one source's events in order and files them into a _Parsed."""

    def __init__(self, source: str, into: _Parsed) -> None:
        self.source, self.into = source, into
        self.pending_add: Add | None = None
        self.pending_lock: tuple[str, int] | None = None
        self.holding: Holding | None = None
        self.pending_purge: tuple[int, int | None] | None = None
        self.pending_age: int | None = None

    def read(self, events: Sequence[Any]) -> None:
        for position, raw in enumerate(events):
            event = _event(self.source, position, raw)
            handler = getattr(self, f"_{event['op']}", None)
            if handler is None:
                raise HistoryError(f"{self.source} event {position}: unknown op {event['op']!r}")
            try:
                handler(event)
            except (KeyError, TypeError, ValueError) as exc:
                raise HistoryError(f"{self.source} event {position}: {event['op']} {event['type']} lacks or mangles {exc}") from None
        self._end()

    def _end(self) -> None:
        if self.pending_add:
            self.into.adds.append(self.pending_add)  # an add whose outcome was never seen
        self._close_holding()
        if self.pending_purge:
            self.into.purges.append(Purge(self.pending_purge[0], NEVER, self.pending_purge[1]))

    def _close_holding(self) -> None:
        if self.holding:
            self.into.holdings.append(self.holding)
            self.holding = None

    def _violation(self, requirement: str, element: str, message: str) -> None:
        self.into.violations.append(Violation(requirement, element, f"{message} ({self.source})"))

    def _add(self, event: Mapping[str, Any]) -> None:
        if event["type"] == "invoke":
            self.pending_add = Add(self.source, int(event["index"]), str(event["sha256"]), event["time"])
            return
        add, self.pending_add = self.pending_add, None
        if add is None:
            raise HistoryError(f"{self.source}: add {event['type']} without invoke")
        if event["type"] == "ok":
            add.name, add.outcome = str(event["name"]), "ok"
        elif event["type"] == "fail":
            add.outcome = "fail"
        if event["type"] != "ok":
            # CONC-6: a race (a purger removing an intermediate directory...) must not fail an add
            self._violation("CONC-6", f"add #{add.index}", f"add failed: {_error_text(event)}")
        self.into.adds.append(add)

    def _list(self, event: Mapping[str, Any]) -> None:
        if event["type"] in ("fail", "info"):
            self._close_holding()
            # ITER-2: an intermediate directory purged meanwhile is empty, not an error
            self._violation("ITER-2", "iteration", f"iteration failed: {_error_text(event)}")

    def _lock(self, event: Mapping[str, Any]) -> None:
        name = str(event["name"])
        if event["type"] == "invoke":
            self._close_holding()
            self.pending_lock = (name, event["time"])
            return
        invoked = self.pending_lock[1] if self.pending_lock and self.pending_lock[0] == name else event["time"]
        self.pending_lock = None
        if event["type"] == "ok":
            self.holding = Holding(self.source, name, invoked, event["time"])
        elif "error" in event:
            # CONC-6: a permissive lock reports a lost race as false, never as an error
            self._violation("CONC-6", name, f"permissive lock failed: {_error_text(event)}")

    def _get(self, event: Mapping[str, Any]) -> None:
        self._step(event, "get")

    def _remove(self, event: Mapping[str, Any]) -> None:
        self._step(event, "remove")

    def _step(self, event: Mapping[str, Any], op: str) -> None:
        holding = self.holding
        if holding is None or holding.name != event.get("name"):
            raise HistoryError(f"{self.source}: {op} of {event.get('name')!r} without a lock of it")
        if event["type"] == "invoke":
            if op == "remove":
                holding.released = event["time"]
            return
        if event["type"] == "ok":
            if op == "get":
                holding.sha256 = str(event.get("sha256"))
            else:
                self._close_holding()
            return
        holding.error, holding.error_op, holding.error_time = dict(event.get("error") or {}), op, event["time"]
        if holding.error.get("kind") in ("not_locked", "not_found"):
            holding.released = min(holding.released, event["time"])  # the lock is gone
        self._close_holding()

    def _consume(self, event: Mapping[str, Any]) -> None:
        """A consume batch the kit killed: up to ``limit`` removals went unrecorded."""
        self._close_holding()
        if event["type"] == "info":
            self.into.unrecorded += int(event.get("limit", 0))

    def _purge(self, event: Mapping[str, Any]) -> None:
        if event["type"] == "invoke":
            maxlock = event.get("maxlock")
            self.pending_purge = (event["time"], int(maxlock) if maxlock is not None else None)
            return
        if self.pending_purge is None:
            raise HistoryError(f"{self.source}: purge {event['type']} without invoke")
        invoked, maxlock = self.pending_purge
        self.pending_purge = None
        self.into.purges.append(Purge(invoked, event["time"], maxlock))
        if event["type"] != "ok":
            self._violation("CONC-6", "purge", f"purge failed: {_error_text(event)}")

    def _age(self, event: Mapping[str, Any]) -> None:
        if event["type"] == "invoke":
            self.pending_age = event["time"]
            return
        invoked = self.pending_age if self.pending_age is not None else event["time"]
        self.pending_age = None
        self.into.ageings.append(Ageing(invoked, event["time"], float(event.get("seconds", 0))))


class _Releases:
    """When may a purge have released a holder's lock as stale?"""

    def __init__(self, purges: list[Purge], ageings: list[Ageing], births: Mapping[str, int]) -> None:
        self.purges = sorted(purges, key=lambda p: p.invoked)
        # One ager at a time: ageings do not overlap, so both lists below are sorted.
        ordered = sorted(ageings, key=lambda a: a.invoked)
        self.age_starts = [a.invoked for a in ordered]
        self.age_ends = [a.ended for a in ordered]
        self.age_times = [a.invoked - a.seconds * US for a in ordered]  # the oldest time each may have set
        self.births = births

    def released(self, holding: Holding, before: float) -> Purge | None:
        """A purge that may have released ``holding``'s lock before time ``before``, if any."""
        first_age = bisect.bisect_left(self.age_ends, holding.lock_invoked)  # ageings that may have hit this lock
        last_age, aged = first_age, NEVER
        for purge in self.purges:
            if purge.invoked > before:
                break
            maxlock = 600 if purge.maxlock is None else purge.maxlock  # COMMON-8 default
            if purge.ended < holding.lock_invoked or maxlock == 0:
                continue
            stop = bisect.bisect_right(self.age_starts, purge.ended)
            if stop > last_age:
                aged = min([aged, *self.age_times[last_age:stop]])
                last_age = stop
            oldest = min(holding.lock_invoked, aged)
            if purge.invoked <= holding.lock_ok:
                # RACE (SPEC 8.2 cases 3, 4): the purge may have looked before the lock was stamped,
                # at the element's earlier time: its birth, or any time the kit backdated it to since
                oldest = min(oldest, self.earliest_time(holding.name, purge.ended))
            if purge.ended - oldest > maxlock * US - SLACK_US:
                return purge
        return None

    def earliest_time(self, name: str, until: float) -> float:
        """The oldest modification time the element may have had before ``until``."""
        birth = self.births.get(name, -NEVER)
        first = bisect.bisect_left(self.age_ends, birth)
        stop = bisect.bisect_right(self.age_starts, until)
        return min([birth, *self.age_times[first:stop]])


def check(histories: Iterable[tuple[str, Sequence[Any]]]) -> Verdict:
    """Judge every (source label, events) history together."""
    parsed = _Parsed()
    for source, events in histories:
        if not isinstance(events, Sequence) or isinstance(events, (str, bytes)):
            raise HistoryError(f"{source}: a history is a list of events")
        _Reader(source, parsed).read(events)
    verdict = Verdict(violations=list(parsed.violations))
    _judge(parsed, verdict)
    return verdict


def _judge(parsed: _Parsed, verdict: Verdict) -> None:
    stats, found = verdict.stats, verdict.violations
    acked: dict[str, Add] = {}
    for add in parsed.adds:
        stats["adds"] += 1
        if add.name is None:
            stats["adds_unknown" if add.outcome == "unknown" else "adds_failed"] += 1
        elif add.name in acked:
            first = acked[add.name]
            found.append(Violation("NAME-6", add.name, f"returned by two adds ({first.source} #{first.index}, {add.source} #{add.index})"))
        else:
            acked[add.name] = add
    stats["adds_acknowledged"] = len(acked)
    maybe = {add.sha256 for add in parsed.adds if add.outcome == "unknown"}
    by_sha = {add.sha256: add for add in acked.values()}
    holdings: dict[str, list[Holding]] = defaultdict(list)
    for holding in parsed.holdings:
        holdings[holding.name].append(holding)
    births = {name: add.invoked for name, add in acked.items()}
    releases = _Releases(parsed.purges, parsed.ageings, births)
    stats["purges"] = len(parsed.purges)

    claimed: dict[str, str] = {}  # sha of an add of unknown outcome -> the name it was found under
    for name, held in sorted(holdings.items()):
        held.sort(key=lambda h: h.lock_ok)
        got = [h for h in held if h.sha256 is not None]
        stats["deliveries"] += len(got)
        for holding in got:
            _judge_payload(holding, acked, by_sha, maybe, claimed, found)
        for earlier, later in itertools.pairwise(held):
            _judge_pair(earlier, later, releases, stats, found)
        for holding in held:
            if holding.error is not None:
                _judge_error(holding, held, releases, stats, found)

    consumed = {name for name, held in holdings.items() if any(h.sha256 is not None for h in held)}
    stats["consumed"] = len(consumed)
    lost = sorted(name for name in acked if name not in consumed)
    stats["unrecorded_allowance"] = parsed.unrecorded
    if len(lost) > parsed.unrecorded:
        excuse = f"; killed consume batches explain at most {parsed.unrecorded}" if parsed.unrecorded else ""
        for name in lost:
            add = acked[name]
            found.append(Violation("CONC-3", name, f"lost: added by {add.source} #{add.index} (acknowledged) "
                                   f"and never consumed ({len(lost)} such{excuse})"))
        stats["lost"] = len(lost)
    else:
        stats["consumed_unrecorded"] = len(lost)


def _judge_payload(holding: Holding, acked: Mapping[str, Add], by_sha: Mapping[str, Add],
                   maybe: set[str], claimed: dict[str, str], found: list[Violation]) -> None:
    name, sha = holding.name, holding.sha256
    add = acked.get(name)
    if add is not None:
        if sha != add.sha256:
            # CONC-1: an element name never refers to incomplete or different data
            found.append(Violation("CONC-1", name, f"torn: {holding.source} got payload {sha:.12} but "
                                   f"{add.source} #{add.index} added {add.sha256:.12}"))
        return
    if sha in maybe and claimed.setdefault(sha, name) == name:
        return  # the element of an add whose outcome is unknown: it did happen
    other = by_sha.get(sha or "")
    where = f"a second copy of {other.name} ({other.source} #{other.index})" if other else "no producer added this payload"
    found.append(Violation("CONC-1", name, f"unexpected: {holding.source} got an element no add returned: {where}"))


def _judge_pair(earlier: Holding, later: Holding, releases: _Releases, stats: dict[str, Any], found: list[Violation]) -> None:
    both_got = earlier.sha256 is not None and later.sha256 is not None
    overlap = later.lock_ok < earlier.released
    if not (both_got or overlap):
        return
    purge = releases.released(earlier, later.lock_ok)
    if purge is None and later.lock_invoked <= earlier.lock_ok:
        # the later one's lock operation began first: its lock may be the one a purge released
        purge = releases.released(later, earlier.lock_ok)
    if purge is not None:
        stats["duplicates_after_purge"] += both_got
        return
    when = f"{earlier.source} locked at {earlier.lock_ok}, released at {earlier.released}; {later.source} locked at {later.lock_ok}"
    if overlap:
        stats["overlapping_holders"] += 1
        found.append(Violation("CONC-2", later.name, f"two holders at once: {when}; no purge released the lock"))
    else:
        stats["duplicates"] += 1
        found.append(Violation("CONC-3", later.name, f"delivered twice: {when}; no purge released the lock in between"))


def _judge_error(holding: Holding, held: list[Holding], releases: _Releases, stats: dict[str, Any], found: list[Violation]) -> None:
    """A get or remove that failed: legitimate only when a purge may have released some lock of that element."""
    kind = str(holding.error.get("kind", "") if holding.error else "")
    if kind in ("not_locked", "not_found") and any(releases.released(h, holding.error_time) for h in held):
        stats["errors_after_purge"] += 1
        return
    requirement = "CONC-2" if kind in ("not_locked", "not_found") else "CONC-6"
    found.append(Violation(requirement, holding.name, f"{holding.error_op} by its lock holder {holding.source} failed "
                           f"with {kind}: {holding.error.get('message', '') if holding.error else ''} "
                           "although no purge released a lock of it"))


def keep_histories(directory: Path, histories: Iterable[tuple[str, Sequence[Any]]]) -> None:
    """Write each history as JSON lines, the evidence of a failed check (kept with the case's scratch)."""
    directory.mkdir(parents=True, exist_ok=True)
    for source, events in histories:
        safe = "".join(c if c.isalnum() or c in "-_=" else "_" for c in source)
        with open(directory / f"{safe}.jsonl", "w", encoding="utf-8") as out:
            out.writelines(json.dumps(event) + "\n" for event in events)


def verify(scene: Scene, verdict: Verdict, at_least: Mapping[str, int], what: str,
           histories: Sequence[tuple[str, Sequence[Any]]] | None = None) -> None:
    """Fail the step on any violation (keeping ``histories`` as evidence), or when a figure the case requires did not happen."""
    if verdict.violations:
        cited = set(scene.requirements)  # violations of what the case is about come first
        verdict.violations.sort(key=lambda v: v.requirement not in cited)
        violated = tuple(dict.fromkeys(v.requirement for v in verdict.violations))
        if histories is not None:
            keep_histories(scene.work / "histories", histories)
        raise ScenarioFailed(f"{what}: {len(verdict.violations)} violation(s) ({verdict.summary()}):\n{verdict.report()}",
                             violated)
    short = {key: verdict.stats.get(key, 0) for key, wanted in at_least.items() if verdict.stats.get(key, 0) < wanted}
    if short:
        raise ScenarioFailed(f"{what}: the scenario did not produce what it is meant to test: "
                             f"{short} < {dict(at_least)} ({verdict.summary()})")


def run_step(scene: Scene, spec: dict[str, Any]) -> None:
    """The ``check`` step: judge the histories that earlier produce/consume steps bound."""
    sources = []
    for raw in spec["histories"]:
        value = scene.resolve(raw)
        if not isinstance(value, Mapping):
            raise ScenarioFailed(f"check: {raw} is not the result of a produce or consume step", cite_step=True)
        try:
            events = history_events(value)  # either form: events, or compact rows (PROTOCOL.md 2.3, 2.4)
        except BadHistory as exc:
            raise ScenarioFailed(f"check: {raw} is not the result of a produce or consume step: {exc}", cite_step=True) from None
        sources.append((str(raw).lstrip("$"), events))
    try:
        verdict = check(sources)
    except HistoryError as exc:
        raise ScenarioFailed(f"check: {exc}", cite_step=True) from None
    scene.log.append(f"kit check: {verdict.summary()}")
    verify(scene, verdict, spec.get("at_least", {}), "check", sources)
