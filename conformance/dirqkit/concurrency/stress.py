"""The ``stress`` step: producers, consumers and a purger at once over one queue.

Each producer and consumer is a driver process of its own, started like the
case role it names (``dirqkit.concurrency.workers``), so two roles of a case give any
number of processes of two implementations. Producers add ``elements`` with
the batch op ``produce``; consumers run ``consume`` until the producers are
done and a pass finds nothing.

The kit's own actors are paced by progress, never by the clock, so that what
a stress tests happens on a machine of any speed and load. The clock of a
round is the number of consume batches started, all consumers together
(:class:`Progress`): a purger purges every ``every`` batches, the ager
backdates every lock every ``every`` batches, and the killer SIGKILLs the
consumer that starts a scheduled batch (seeded), in turn once it holds a lock
it took and read with single ops (it dies holding it), and at once after it
sent a consume request (it dies anywhere in that batch). With ``stall``, one
consumer takes a lock and stalls before the others start; the kit backdates
that lock past ``maxlock`` and purges, and the element must then go to
another consumer (a legitimate second delivery, by construction).

A round ends with a drain: the kit ages everything, purges and consumes with
the roles' own drivers until the queue is empty. When a round did not
produce a figure of ``at_least`` that the kit's actors make (kills,
deliveries after a purge), the stress goes on with another, smaller round on
the same queue, killing at its first batch; after ``MAX_ROUNDS`` it is
inconclusive, never a failure. The result holds every history, for the
checker (``dirqkit.concurrency.checker``), and the figures: elements, wall
time, ops/s, rounds.

``DIRQKIT_STRESS_SCALE`` multiplies every stress's ``elements`` (default 1),
so the same cases run small in CI and large by hand.
"""

from __future__ import annotations

import base64
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dirqkit.concurrency import checker, cores
from dirqkit.concurrency.scene import ScenarioFailed, ScenarioInconclusive, Scene
from dirqkit.concurrency.workers import Worker
from dirqkit.drivers.client import DriverError, OpError
from dirqkit.drivers.protocol import decode_fields, digest

SCALE_ENV = "DIRQKIT_STRESS_SCALE"
IDLE_PAUSE = 0.002  # seconds a consumer waits after an empty pass while producers still run (a pace, not a verdict)
MAX_ERRORS = 50  # consecutive failed consume batches before a consumer gives up
DRAIN_ROUNDS = 5
DRAIN_AGE = 86_400  # seconds the drain backdates every lock and temp by
MAX_ROUNDS = 3  # rounds a stress may run to produce what its at_least asks of the kit's actors
KIT_FIGURES = ("consumers_killed", "duplicates_after_purge")  # made by the kit's actors: short of them is inconclusive
STALL_BATCHES = 1000  # consume batches a stalled element may wait for another consumer before the round gives up on it
PURGE_RELEASES = {"simple": "SIMPLE-PURGE-3", "normal": "NORMAL-PURGE-4"}  # a purge unlocks a lock stale per maxlock


class StressError(Exception):
    """A stress step that cannot run as written, or a worker that broke."""


def now_us() -> int:
    """History time: wall clock, integer microseconds (PROTOCOL.md 2.3)."""
    return time.time_ns() // 1000


def scale() -> float:
    raw = os.environ.get(SCALE_ENV, "1")
    try:
        value = float(raw)
    except ValueError:
        raise StressError(f"{SCALE_ENV}={raw!r} is not a number") from None
    if value <= 0:
        raise StressError(f"{SCALE_ENV} must be positive, got {raw!r}")
    return value


@dataclass(frozen=True)
class Plan:
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    elements: int
    size: int = 64
    batch: int = 100
    limit: int | None = None
    hold: float = 0.0
    seed: str = "stress"
    field: str | None = None
    purger: dict[str, Any] | None = None  # {role, every (consume batches), maxtemp, maxlock}
    age: dict[str, Any] | None = None  # {every (consume batches), seconds}
    kill: dict[str, Any] | None = None  # {every (consume batches, on average), seed}
    stall: dict[str, Any] | None = None  # {seconds}: one consumer stalls holding a lock the kit ages that much

    @classmethod
    def from_step(cls, spec: dict[str, Any]) -> Plan:
        plan = cls(
            producers=tuple(spec["producers"]), consumers=tuple(spec["consumers"]),
            elements=max(1, round(spec["elements"] * scale())), size=spec.get("size", 64),
            batch=spec.get("batch", 100), limit=spec.get("limit"), hold=spec.get("hold", 0.0),
            seed=str(spec.get("seed", "stress")), field=spec.get("field"),
            purger=spec.get("purger"), age=spec.get("age"), kill=spec.get("kill"), stall=spec.get("stall"),
        )
        if plan.kill and not plan.limit:
            raise StressError("stress with kill needs a consume limit: a killed batch may remove up to limit "
                              "elements without a record, and the checker allows for exactly that")
        if plan.stall and not plan.purger:
            raise StressError("stress with stall needs a purger: the purger must release the stalled lock")
        return plan

    @property
    def purge_args(self) -> dict[str, int]:
        purger = self.purger or {}
        return {k: purger[k] for k in ("maxtemp", "maxlock") if k in purger}


class Progress:
    """The clock of a round: consume batches started so far, by every consumer together."""

    def __init__(self, consumers: int) -> None:
        self.batches = 0
        self.consumers = consumers  # still running: with none left, nothing moves on
        self.running = True
        self.changed = threading.Condition()

    def tick(self) -> int:
        with self.changed:
            self.batches += 1
            self.changed.notify_all()
            return self.batches

    def wait_for(self, batches: int) -> bool:
        """Block until ``batches`` consume batches have started (True), or the round or its consumers ended (False)."""
        with self.changed:
            self.changed.wait_for(lambda: self.batches >= batches or not self.running or not self.consumers)
            return self.running and self.batches >= batches

    def consumer_done(self) -> None:
        with self.changed:
            self.consumers -= 1
            self.changed.notify_all()

    def stop(self) -> None:
        with self.changed:
            self.running = False
            self.changed.notify_all()


class Killer:
    """Which consume batches the kit kills: seeded, ``every`` batches apart on average; the two ways
    alternate (the first one seeded), so that any two kills make both."""

    WAYS = ("holding", "in-flight")

    def __init__(self, every: int, seed: int) -> None:
        self.every, self.rng, self.lock = every, random.Random(seed), threading.Lock()
        self.next = self.rng.randint(1, every)
        self.way = self.rng.randrange(len(self.WAYS))

    def due(self, batch: int) -> str | None:
        """The way to kill batch number ``batch`` (``holding`` or ``in-flight``), or None to let it run."""
        with self.lock:
            if batch < self.next:
                return None
            self.next = batch + self.rng.randint(1, 2 * self.every - 1)
            self.way = (self.way + 1) % len(self.WAYS)
            return self.WAYS[self.way]

    def kill_next(self) -> None:
        with self.lock:
            self.next = 0


class Stress:
    def __init__(self, scene: Scene, plan: Plan, at_least: dict[str, int]) -> None:
        self.scene, self.plan = scene, plan
        self.wanted = {k: v for k, v in at_least.items() if k in KIT_FIGURES}
        self.short: dict[str, int] = {}  # the kit's figures still short after the last round
        self.top = scene.top
        self.open_args = scene.open_args(None)
        self.histories: dict[str, list[dict[str, Any]]] = {}
        self.failures: list[BaseException] = []
        self.violations: list[tuple[str, str]] = []  # (requirement, message) the kit saw itself
        self.workers: list[Worker] = []
        self.lock = threading.Lock()
        self.age_lock = threading.Lock()  # ageings never overlap (the checker relies on it)
        self.killer = Killer(int(plan.kill.get("every", 10)), int(plan.kill.get("seed", 0))) if plan.kill else None
        self.kills = 0
        self.stalls = 0
        self.round = 0
        # per round
        self.progress = Progress(len(plan.consumers))
        self.producing = threading.Event()
        self.added = threading.Event()  # a producer acknowledged an element, or every producer is done
        self.may_consume = threading.Event()

    # -- workers -------------------------------------------------------------

    def worker(self, role: str, label: str) -> Worker:
        suffix = f"-r{self.round}" if self.round else ""
        worker = Worker(self.scene.actors[role], f"{label}{suffix}({role}={self.scene.actors[role].implementation})")
        with self.lock:
            self.workers.append(worker)
        worker.start(self.open_args)
        cores.spread([worker.pid])  # the step's processes really run at the same time
        return worker

    def history(self, label: str) -> list[dict[str, Any]]:
        with self.lock:
            return self.histories.setdefault(label, [])

    def produce(self, number: int, role: str, share: int) -> None:
        try:
            self.produce_share(number, role, share)
        finally:
            self.added.set()

    def produce_share(self, number: int, role: str, share: int) -> None:
        worker = self.worker(role, f"producer{number}")
        history = self.history(worker.label)
        done = 0
        while done < share:
            count = min(self.plan.batch, share - done)
            seed = f"{self.plan.seed}-p{number}-{done}" if not self.round else f"{self.plan.seed}-r{self.round}-p{number}-{done}"
            args = {"count": count, "size": self.plan.size, "seed": seed}
            if self.plan.field:
                args["field"] = self.plan.field
            result = worker.call("produce", args)
            for event in result["history"]:
                if "index" in event:
                    event["index"] += done  # one index sequence per producer, for messages
            history.extend(result["history"])
            if result["count"]:
                self.added.set()
            if result["count"] < count:
                return  # the batch stopped at an error, recorded in its history
            done += count

    def consume_args(self) -> dict[str, Any]:
        return {k: v for k, v in (("limit", self.plan.limit), ("hold", self.plan.hold), ("field", self.plan.field)) if v}

    def consume(self, number: int, role: str) -> None:
        try:
            self.consume_until_done(number, role)
        finally:
            self.progress.consumer_done()

    def consume_until_done(self, number: int, role: str) -> None:
        label = f"consumer{number}"
        worker = self.worker(role, label)
        history = self.history(worker.label)
        args = self.consume_args()
        self.may_consume.wait()
        errors = 0
        while errors < MAX_ERRORS:
            batch = self.progress.tick()
            how = self.killer.due(batch) if self.killer else None
            if how is not None:
                self.kill(worker, how, args, history)
                worker = self.worker(role, label)
                continue
            result = worker.call("consume", args)
            history.extend(_without_lost_races(result["history"]))
            ended_badly = bool(result["history"]) and result["history"][-1]["type"] in ("fail", "info") \
                and "error" in result["history"][-1]
            errors = errors + 1 if ended_badly else 0
            if result["count"] == 0 and not ended_badly:
                if not self.producing.is_set():
                    return
                # Not idle waste: these passes, every consumer at the head of the queue as elements appear,
                # are the contention that catches non-exclusive locks; waiting for whole produce batches
                # instead was seen to miss a lock that ignores EEXIST far more often.
                time.sleep(IDLE_PAUSE)

    # -- the kit's own actors: killer, purger, ager, staller ------------------------

    def kill(self, worker: Worker, how: str, args: dict[str, Any], history: list[dict[str, Any]]) -> None:
        """SIGKILL a consumer holding a lock it took (``holding``), or at once in a consume request (``in-flight``)."""
        limit = 0
        if how == "holding" and self.hold_one(worker, history) is not None:
            worker.kill()
            worker.client.close(graceful=False)
        else:
            limit = int(self.plan.limit or 0)  # the batch may have removed up to limit elements unrecorded
            doomed = threading.Thread(target=_doomed_call, args=(worker, args, history), daemon=True)
            doomed.start()
            worker.kill()
            doomed.join()
        worker.client.close(graceful=False)
        # The killed consumer's removals in flight went unrecorded (at most limit of them); a lock it held stays.
        history.append({"type": "info", "op": "consume", "limit": limit, "time": now_us()})
        with self.lock:
            self.kills += 1

    def hold_one(self, worker: Worker, history: list[dict[str, Any]]) -> str | None:
        """Lock (permissive) and get the first element the worker can take, with single ops; its name, or None."""
        try:
            names = worker.call("list")
        except OpError as error:
            history.append({"type": "fail" if error.effect == "none" else "info", "op": "list",
                            "error": _error(error), "time": now_us()})
            return None
        for name in names:
            invoked = {"type": "invoke", "op": "lock", "name": name, "time": now_us()}
            try:
                taken = worker.call("lock", {"name": name, "permissive": True})
            except OpError as error:
                history += [invoked, {"type": "fail" if error.effect == "none" else "info", "op": "lock", "name": name,
                                      "error": _error(error), "time": now_us()}]
                return None
            if not taken:
                continue  # another consumer has it: a lost race, left out like the batch ops' (_without_lost_races)
            history += [invoked, {"type": "ok", "op": "lock", "name": name, "time": now_us()}]
            history.append({"type": "invoke", "op": "get", "name": name, "time": now_us()})
            try:
                data = worker.call("get", {"name": name})
            except OpError as error:
                history.append({"type": "fail" if error.effect == "none" else "info", "op": "get", "name": name,
                                "error": _error(error), "time": now_us()})
                return None
            history.append({"type": "ok", "op": "get", "name": name, "sha256": digest(self.payload(data)), "time": now_us()})
            return str(name)
        return None

    def payload(self, data: Any) -> bytes:
        """The payload bytes of a ``get`` result, as a consume batch digests them (PROTOCOL.md 2.3)."""
        if self.open_args["type"] != "normal":
            return base64.b64decode(str(data))
        value = decode_fields(data).get(self.plan.field or "", b"")
        return value.encode("utf-8") if isinstance(value, str) else bytes(value) if isinstance(value, bytes) else b""

    def stall(self) -> None:
        """One consumer takes a lock and stalls; the kit ages the lock past maxlock and purges: the
        purger must release it and another consumer must get the element (a legitimate second delivery).

        The other consumers start only once the purge's effect is read: a consumer that took the
        released lock meanwhile would leave it in place again (a Simple lock is a second link to the
        element, which keeps the aged time until its locker sets the time), and so would the case's
        own purger and ager, which are paced by consume batches."""
        assert self.plan.stall is not None and self.plan.purger is not None
        name: str | None = None
        try:
            worker = self.worker(self.plan.consumers[0], "stalled")
            purger = self.worker(self.plan.purger["role"], "stall-purger")
            history, purges = self.history(worker.label), self.history(purger.label)
            self.added.wait()  # the other consumers wait for this one: the element it takes is there by construction
            name = self.hold_one(worker, history)
            if name is not None and not self.release_stalled(name, purger, purges):
                name = None
        finally:
            self.may_consume.set()
        if name is None:
            return
        start = self.progress.batches
        while os.path.lexists(self.top / name) and self.progress.wait_for(self.progress.batches + 1):
            if self.progress.batches - start > STALL_BATCHES:
                return  # the others never took it: this round did not make the second delivery
        with self.lock:
            self.stalls += 1

    def release_stalled(self, name: str, purger: Worker, purges: list[dict[str, Any]]) -> bool:
        """Age the stalled lock past maxlock and purge, no consumer running: whether the purge released it."""
        seconds = float(self.plan.stall["seconds"]) if self.plan.stall else 0.0
        self.age(seconds, self.history("kit-stall-ager"), [self.lock_path(name)])
        if not self.purge(purger.call, purges):
            return False  # the failed purge is in the history: a violation the checker reports
        if os.path.lexists(self.lock_entry(name)):
            maxlock = self.plan.purge_args.get("maxlock", 600)
            self.violations.append((PURGE_RELEASES[self.open_args["type"]],
                                    f"{name}: a purge with maxlock {maxlock} left its lock, {seconds:g} s old, in place"))
            return False
        return True

    def lock_path(self, name: str) -> Path:
        """The path whose time is the lock time: Simple ``D/E.lck``, Normal the element directory ``D/E``."""
        return self.top / (f"{name}.lck" if self.open_args["type"] == "simple" else name)

    def lock_entry(self, name: str) -> Path:
        """The entry that is the lock: Simple ``D/E.lck``, Normal ``D/E/locked``."""
        return self.top / (f"{name}.lck" if self.open_args["type"] == "simple" else f"{name}/locked")

    def purge_loop(self) -> None:
        assert self.plan.purger is not None
        worker = self.worker(self.plan.purger["role"], "purger")
        history = self.history(worker.label)
        every = int(self.plan.purger.get("every", 1))
        while self.progress.wait_for(self.progress.batches + every):
            self.purge(worker.call, history)

    def purge(self, call: Callable[[str, dict[str, Any]], Any], history: list[dict[str, Any]]) -> bool:
        args = self.plan.purge_args
        history.append({"type": "invoke", "op": "purge", **args, "time": now_us()})
        try:
            call("purge", args)
        except OpError as error:
            history.append({"type": "fail" if error.effect == "none" else "info", "op": "purge",
                            "error": _error(error), "time": now_us()})
            return False
        history.append({"type": "ok", "op": "purge", "time": now_us()})
        return True

    def age_loop(self) -> None:
        assert self.plan.age is not None
        history = self.history("kit-ager")
        every = int(self.plan.age.get("every", 1))
        seconds = float(self.plan.age["seconds"])
        while self.progress.wait_for(self.progress.batches + every):
            self.age(seconds, history, _locks_and_temps(self.top, self.open_args["type"], temps=False))

    def age(self, seconds: float, history: list[dict[str, Any]], paths: list[str] | list[Path]) -> None:
        """Backdate ``paths`` (locks, temps) by ``seconds``, as time passing would."""
        with self.age_lock:
            history.append({"type": "invoke", "op": "age", "time": now_us()})
            when = time.time() - seconds
            for path in paths:
                try:
                    os.utime(path, (when, when), follow_symlinks=False)
                except FileNotFoundError:
                    pass  # RACE: unlocked, removed or purged meanwhile
            history.append({"type": "ok", "op": "age", "seconds": seconds, "time": now_us()})

    # -- the run ---------------------------------------------------------------

    def thread(self, target: Callable[..., None], *args: Any) -> threading.Thread:
        def guarded() -> None:
            try:
                target(*args)
            except BaseException as exc:  # noqa: BLE001 - reported by run()
                self.failures.append(exc)
                self.producing.clear()
                self.added.set()
                self.may_consume.set()
                self.progress.stop()

        thread = threading.Thread(target=guarded, daemon=True)
        thread.start()
        return thread

    def run(self) -> dict[str, Any]:
        """Rounds until the kit's figures of ``at_least`` are made (at most MAX_ROUNDS); the histories, the
        checker's verdict on all of them and the figures."""
        started = time.monotonic()
        left = -1
        verdict = checker.Verdict()
        for number in range(MAX_ROUNDS):
            self.round = number
            if number and self.killer:
                self.killer.kill_next()  # an extra round kills at its first batch
            elements = self.plan.elements if not number else min(self.plan.elements, self.plan.batch * len(self.plan.producers))
            self.run_round(elements)
            left = self.drain()
            verdict = checker.check(self.histories.items())
            self.short = {k: self.figure(k, verdict) for k, v in self.wanted.items() if self.figure(k, verdict) < v}
            if verdict.violations or self.violations or not self.short:
                break
        wall = time.monotonic() - started
        return {"histories": self.histories, "verdict": verdict, "stats": self.stats(wall, left)}

    def figure(self, key: str, verdict: checker.Verdict) -> int:
        return self.kills if key == "consumers_killed" else int(verdict.stats.get(key, 0))

    def run_round(self, elements: int) -> None:
        plan = self.plan
        self.progress, self.producing = Progress(len(plan.consumers)), threading.Event()
        self.added, self.may_consume = threading.Event(), threading.Event()
        shares = [elements // len(plan.producers) + (i < elements % len(plan.producers)) for i in range(len(plan.producers))]
        self.producing.set()
        if not plan.stall:
            self.may_consume.set()
        try:
            producers = [self.thread(self.produce, i, role, share) for i, (role, share) in enumerate(zip(plan.producers, shares))]
            stall = [self.thread(self.stall)] if plan.stall else []
            consumers = [self.thread(self.consume, i, role) for i, role in enumerate(plan.consumers)]
            helpers = [self.thread(loop) for loop, wanted in ((self.purge_loop, plan.purger), (self.age_loop, plan.age)) if wanted]
            for thread in producers + stall:
                thread.join()  # a stall holds the round open until another consumer got its element
            self.producing.clear()
            for thread in consumers:
                thread.join()
            self.progress.stop()
            for thread in helpers:
                thread.join()
        finally:
            self.progress.stop()
            self.may_consume.set()
            cores.narrow(worker.pid for worker in self.workers if worker.client.pid is not None)  # kept ones go back pinned
            for worker in self.workers:
                worker.close()
            self.workers.clear()
        if self.failures:
            raise StressError(f"a stress worker failed: {self.failures[0]}") from self.failures[0]

    def drain(self) -> int:
        """Age everything, purge and consume with the roles' own drivers until the queue is empty."""
        history = self.history("drain")
        roles = list(dict.fromkeys(self.plan.consumers))
        args = {"field": self.plan.field} if self.plan.field else {}
        left = -1
        for _ in range(DRAIN_ROUNDS):
            self.age(DRAIN_AGE, history, _locks_and_temps(self.top, self.open_args["type"], temps=True))
            self.purge(self.role_call(roles[0]), history)
            for role in roles:
                history.extend(_without_lost_races(self.role_call(role)("consume", args)["history"]))
            left = int(self.role_call(roles[0])("count", {}))
            if left == 0:
                break
        return left

    def role_call(self, role: str) -> Callable[[str, dict[str, Any]], Any]:
        """Calls on the queue of the role's own driver (the case's, not a worker)."""
        actor, handle = self.scene.actors[role], self.scene.handles[role]
        return lambda op, args: actor.call(op, {"queue": handle, **args})

    def stats(self, wall: float, left: int) -> dict[str, Any]:
        counts = {"add": 0, "remove": 0}
        for history in self.histories.values():
            for event in history:
                if event["type"] == "ok" and event["op"] in counts:
                    counts[event["op"]] += 1
        processes = len(self.plan.producers) + len(self.plan.consumers) + bool(self.plan.purger)
        return {"elements": self.plan.elements, "added": counts["add"], "removed": counts["remove"], "processes": processes,
                "consumers_killed": self.kills, "stalls": self.stalls, "rounds": self.round + 1, "wall_seconds": round(wall, 3),
                "ops_per_second": round((counts["add"] + counts["remove"]) / wall, 1) if wall else 0.0, "left_after_drain": left}


def _doomed_call(worker: Worker, args: dict[str, Any], history: list[dict[str, Any]]) -> None:
    """A consume request the kit kills as soon as it is sent; what it did before (if it finished first) is kept."""
    try:
        history.extend(_without_lost_races(worker.call("consume", args)["history"]))
    except DriverError:
        pass  # the kill: its removals went unrecorded, allowed for by the info event that follows


def _error(error: OpError) -> dict[str, str]:
    return {"kind": error.kind, "message": error.message, "effect": error.effect}


def _without_lost_races(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The history minus permissive locks that returned false (and their invokes).

    They create no holding and change nothing the checker looks at, and they
    are most of a contended history. A lock's completion follows its invoke
    directly in a consume history.
    """
    kept: list[dict[str, Any]] = []
    for event in events:
        if event["op"] == "lock" and event["type"] == "fail" and "error" not in event \
                and kept and kept[-1]["op"] == "lock" and kept[-1]["type"] == "invoke":
            kept.pop()
            continue
        kept.append(event)
    return kept


def _locks_and_temps(top: Path, queue_type: str, temps: bool) -> list[str]:
    """Paths whose times make a lock (and a temp) stale: Simple ``D/E.lck``; Normal ``D/E`` when locked."""
    found: list[str] = []
    try:
        directories = sorted(os.scandir(top), key=lambda e: e.name)
    except FileNotFoundError:
        return found
    for directory in directories:
        try:
            entries = list(os.scandir(directory.path))
        except (FileNotFoundError, NotADirectoryError):
            continue  # RACE: purged meanwhile, or not a directory
        for entry in entries:
            if queue_type == "simple":
                if entry.name.endswith(".lck") or temps and entry.name.endswith(".tmp"):
                    found.append(entry.path)
            elif directory.name in ("temporary", "obsolete"):
                if temps:
                    found.append(entry.path)
            elif os.path.lexists(os.path.join(entry.path, "locked")):
                found.append(entry.path)
    return found


def run_step(scene: Scene, spec: dict[str, Any]) -> None:
    """The ``stress`` step: run it, then judge every history it recorded (``dirqkit.concurrency.checker``)."""
    try:
        at_least = dict(spec.get("at_least", {}))
        stress = Stress(scene, Plan.from_step(spec), at_least)
        result = stress.run()
    except StressError as exc:
        raise ScenarioFailed(f"stress: {exc}", cite_step=True) from None
    histories = list(result["histories"].items())
    verdict = result["verdict"]  # judged after the last round's drain: nothing was recorded since
    verdict.stats.update(result["stats"])
    scene.report("stress", dict(verdict.stats))
    verdict.violations += [checker.Violation(requirement, "stall", message) for requirement, message in stress.violations]
    checker.verify(scene, verdict, {k: v for k, v in at_least.items() if k not in KIT_FIGURES}, "stress", histories)
    if stress.short:
        raise ScenarioInconclusive(f"stress: the kit's actors did not make what the case tests in {result['stats']['rounds']} "
                                   f"rounds: {stress.short} < { {k: at_least[k] for k in stress.short} } ({verdict.summary()})")
