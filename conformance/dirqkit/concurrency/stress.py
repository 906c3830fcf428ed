"""The ``stress`` step: producers, consumers and a purger at once over one queue.

Each producer and consumer is a driver process of its own, started like the
case role it names (``dirqkit.concurrency.workers``), so two roles of a case give any
number of processes of two implementations. Producers add ``elements`` with
the batch op ``produce``; consumers run ``consume`` until the producers are
done and a pass finds nothing; an optional purger purges every ``every``
seconds; the kit may age every lock (backdate it, as a long hold would) and
kill consumers at seeded random moments, restarting them. A final drain ages
everything, purges and consumes with the roles' own drivers until the queue
is empty. The result (bound with ``bind``) holds every history, for the
``check`` step (``dirqkit.concurrency.checker``), and the figures: elements, wall time,
ops/s.

``DIRQKIT_STRESS_SCALE`` multiplies every stress's ``elements`` (default 1),
so the same cases run small in CI and large by hand.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dirqkit.concurrency import checker
from dirqkit.concurrency.scene import ScenarioFailed, Scene
from dirqkit.concurrency.workers import Worker
from dirqkit.drivers.client import DriverError, OpError

SCALE_ENV = "DIRQKIT_STRESS_SCALE"
IDLE_PAUSE = 0.002  # seconds a consumer waits after an empty pass while producers still run
MAX_ERRORS = 50  # consecutive failed consume batches before a consumer gives up
DRAIN_ROUNDS = 5
DRAIN_AGE = 86_400  # seconds the drain backdates every lock and temp by


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
    purger: dict[str, Any] | None = None  # {role, every, maxtemp, maxlock}
    age: dict[str, Any] | None = None  # {every, seconds}
    kill: dict[str, Any] | None = None  # {every, seed}

    @classmethod
    def from_step(cls, spec: dict[str, Any]) -> Plan:
        plan = cls(
            producers=tuple(spec["producers"]), consumers=tuple(spec["consumers"]),
            elements=max(1, round(spec["elements"] * scale())), size=spec.get("size", 64),
            batch=spec.get("batch", 100), limit=spec.get("limit"), hold=spec.get("hold", 0.0),
            seed=str(spec.get("seed", "stress")), field=spec.get("field"),
            purger=spec.get("purger"), age=spec.get("age"), kill=spec.get("kill"),
        )
        if plan.kill and not plan.limit:
            raise StressError("stress with kill needs a consume limit: a killed batch may remove up to limit "
                              "elements without a record, and the checker allows for exactly that")
        return plan

    @property
    def purge_args(self) -> dict[str, int]:
        purger = self.purger or {}
        return {k: purger[k] for k in ("maxtemp", "maxlock") if k in purger}


class Stress:
    def __init__(self, scene: Scene, plan: Plan) -> None:
        self.scene, self.plan = scene, plan
        self.top = scene.top
        self.open_args = scene.open_args(None)
        self.histories: dict[str, list[dict[str, Any]]] = {}
        self.producing = threading.Event()
        self.consuming = threading.Event()
        self.failures: list[BaseException] = []
        self.consumers: list[Worker] = []
        self.workers: list[Worker] = []
        self.lock = threading.Lock()

    # -- workers -------------------------------------------------------------

    def worker(self, role: str, label: str) -> Worker:
        worker = Worker(self.scene.actors[role], f"{label}({role}={self.scene.actors[role].implementation})")
        with self.lock:
            self.workers.append(worker)
        return worker.start(self.open_args)

    def history(self, label: str) -> list[dict[str, Any]]:
        with self.lock:
            return self.histories.setdefault(label, [])

    def produce(self, number: int, role: str, share: int) -> None:
        worker = self.worker(role, f"producer{number}")
        history = self.history(worker.label)
        done = 0
        while done < share:
            count = min(self.plan.batch, share - done)
            args = {"count": count, "size": self.plan.size, "seed": f"{self.plan.seed}-p{number}-{done}"}
            if self.plan.field:
                args["field"] = self.plan.field
            result = worker.call("produce", args)
            for event in result["history"]:
                if "index" in event:
                    event["index"] += done  # one index sequence per producer, for messages
            history.extend(result["history"])
            if result["count"] < count:
                return  # the batch stopped at an error, recorded in its history
            done += count

    def consume(self, number: int, role: str) -> None:
        label = f"consumer{number}"
        worker = self.worker(role, label)
        with self.lock:
            self.consumers.append(worker)
        history = self.history(worker.label)
        args: dict[str, Any] = {k: v for k, v in (("limit", self.plan.limit), ("hold", self.plan.hold),
                                                  ("field", self.plan.field)) if v}
        errors = 0
        while errors < MAX_ERRORS:
            try:
                result = worker.call("consume", args)
            except DriverError:
                if not worker.killed:
                    raise
                # A kill of ours: the batch's removals went unrecorded (at most limit of them).
                history.append({"type": "info", "op": "consume", "limit": self.plan.limit, "time": now_us()})
                worker = self.replace(worker, role, label)
                continue
            history.extend(_without_lost_races(result["history"]))
            ended_badly = bool(result["history"]) and result["history"][-1]["type"] in ("fail", "info") \
                and "error" in result["history"][-1]
            errors = errors + 1 if ended_badly else 0
            if result["count"] == 0 and not ended_badly:
                if not self.producing.is_set():
                    return
                time.sleep(IDLE_PAUSE)

    def replace(self, dead: Worker, role: str, label: str) -> Worker:
        worker = self.worker(role, label)
        with self.lock:
            self.consumers[self.consumers.index(dead)] = worker
        dead.close()
        return worker

    # -- the kit's own actors: purger, ager, killer ------------------------------

    def purge_loop(self) -> None:
        assert self.plan.purger is not None
        worker = self.worker(self.plan.purger["role"], "purger")
        history = self.history(worker.label)
        while self.consuming.is_set():
            self.purge(worker.call, history)
            time.sleep(float(self.plan.purger.get("every", 0.05)))

    def purge(self, call: Callable[[str, dict[str, Any]], Any], history: list[dict[str, Any]]) -> None:
        args = self.plan.purge_args
        history.append({"type": "invoke", "op": "purge", **args, "time": now_us()})
        try:
            call("purge", args)
        except OpError as error:
            history.append({"type": "fail" if error.effect == "none" else "info", "op": "purge",
                            "error": {"kind": error.kind, "message": error.message, "effect": error.effect}, "time": now_us()})
            return
        history.append({"type": "ok", "op": "purge", "time": now_us()})

    def age_loop(self) -> None:
        assert self.plan.age is not None
        history = self.history("kit-ager")
        while self.consuming.is_set():
            self.age(float(self.plan.age["seconds"]), history, temps=False)
            time.sleep(float(self.plan.age.get("every", 0.05)))

    def age(self, seconds: float, history: list[dict[str, Any]], temps: bool) -> None:
        """Backdate every lock (and, with ``temps``, every temp) by ``seconds``, as time passing would."""
        history.append({"type": "invoke", "op": "age", "time": now_us()})
        when = time.time() - seconds
        for path in _locks_and_temps(self.top, self.open_args["type"], temps):
            try:
                os.utime(path, (when, when), follow_symlinks=False)
            except FileNotFoundError:
                pass  # RACE: unlocked, removed or purged meanwhile
        history.append({"type": "ok", "op": "age", "seconds": seconds, "time": now_us()})

    def kill_loop(self) -> None:
        assert self.plan.kill is not None
        rng = random.Random(self.plan.kill.get("seed", 0))
        every = float(self.plan.kill.get("every", 0.2))
        while not self.consumers and not self._stopped(IDLE_PAUSE):
            pass  # the schedule starts when the first consumer runs, not while drivers start
        while not self._stopped(every * rng.uniform(0.5, 1.5)):
            with self.lock:
                alive = [worker for worker in self.consumers if not worker.killed]  # a dead one is being replaced
            if alive:
                alive[rng.randrange(len(alive))].kill()

    def _stopped(self, pause: float) -> bool:
        deadline = time.monotonic() + pause
        while time.monotonic() < deadline:
            if not self.consuming.is_set():
                return True
            time.sleep(min(0.01, pause))
        return not self.consuming.is_set()

    # -- the run ---------------------------------------------------------------

    def thread(self, target: Callable[..., None], *args: Any) -> threading.Thread:
        def guarded() -> None:
            try:
                target(*args)
            except BaseException as exc:  # noqa: BLE001 - reported by run()
                self.failures.append(exc)
                self.producing.clear()

        thread = threading.Thread(target=guarded, daemon=True)
        thread.start()
        return thread

    def run(self) -> dict[str, Any]:
        plan = self.plan
        shares = [plan.elements // len(plan.producers) + (i < plan.elements % len(plan.producers)) for i in range(len(plan.producers))]
        self.producing.set()
        self.consuming.set()
        started = time.monotonic()
        producers = [self.thread(self.produce, i, role, share) for i, (role, share) in enumerate(zip(plan.producers, shares))]
        consumers = [self.thread(self.consume, i, role) for i, role in enumerate(plan.consumers)]
        helpers = [self.thread(loop) for loop, wanted in ((self.purge_loop, plan.purger), (self.age_loop, plan.age),
                                                          (self.kill_loop, plan.kill)) if wanted]
        try:
            for thread in producers:
                thread.join()
            self.producing.clear()
            for thread in consumers:
                thread.join()
            self.consuming.clear()
            for thread in helpers:
                thread.join()
            wall = time.monotonic() - started
        finally:
            self.consuming.clear()
            for worker in self.workers:
                worker.close()
        if self.failures:
            raise StressError(f"a stress worker failed: {self.failures[0]}") from self.failures[0]
        left = self.drain()
        return {"histories": self.histories, "stats": self.stats(wall, left)}

    def drain(self) -> int:
        """Age everything, purge and consume with the roles' own drivers until the queue is empty."""
        history = self.history("drain")
        roles = list(dict.fromkeys(self.plan.consumers))
        args = {"field": self.plan.field} if self.plan.field else {}
        left = -1
        for _ in range(DRAIN_ROUNDS):
            self.age(DRAIN_AGE, history, temps=True)
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
        counts = {"add": 0, "remove": 0, "consume": 0}
        for history in self.histories.values():
            for event in history:
                if event["type"] == ("info" if event["op"] == "consume" else "ok") and event["op"] in counts:
                    counts[event["op"]] += 1
        processes = len(self.plan.producers) + len(self.plan.consumers) + bool(self.plan.purger)
        return {"elements": self.plan.elements, "added": counts["add"], "removed": counts["remove"], "processes": processes,
                "consumers_killed": counts["consume"], "wall_seconds": round(wall, 3),
                "ops_per_second": round((counts["add"] + counts["remove"]) / wall, 1) if wall else 0.0, "left_after_drain": left}


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
        result = Stress(scene, Plan.from_step(spec)).run()
    except StressError as exc:
        raise ScenarioFailed(f"stress: {exc}", cite_step=True) from None
    histories = list(result["histories"].items())
    verdict = checker.check(histories)
    verdict.stats.update(result["stats"])
    scene.report("stress", dict(verdict.stats))
    checker.verify(scene, verdict, spec.get("at_least", {}), "stress", histories)
