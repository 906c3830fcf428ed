"""The ``syscalls`` step: how an op makes its changes, checked from its own syscall trace.

Most of the mechanism SPEC.md mandates (``O_EXCL`` on a temp, data closed
before the ``link``, times set without following a symlink, an element that
appears only by ``rename``, the order of two unlinks) leaves no trace in the
resulting tree. The step runs each explored op of its sequence once under
``strace`` (the ops before it replayed on a fresh queue, as in a crash step),
with the calls of ``OBSERVED`` (close, stat) traced too, and checks every rule
against that trace. A rule selects calls with a matcher (``call``: classes;
``path``: a regular expression for the whole path relative to TOP, where
``{dir}`` and ``{elt}`` stand for the name patterns; ``failed``) and says:

- ``flags`` + ``has`` / ``lacks``: every such call carries (or lacks) these flag names;
- ``nofollow``: no such call follows a symbolic link (an open with ``O_NOFOLLOW``
  or ``O_CREAT|O_EXCL``; a utime or stat with ``AT_SYMLINK_NOFOLLOW``, ``lstat``, or on
  a descriptor opened with ``O_NOFOLLOW``);
- ``before: [A, B]``: there are both, and every A comes before every B;
- ``never``: there is none; ``count`` + ``min`` / ``max``: how many there are.

``flags`` and ``nofollow`` need at least one such call unless ``optional``.
Each rule cites the requirement a violation breaks. ``inject`` first makes the
first matching call fail with an errno, so that rules see the reaction.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dirqkit.concurrency.checker import Verdict, Violation, verify
from dirqkit.concurrency.scene import Scene
from dirqkit.crash.explorer import Explorer, ExplorerError, Traced, scenario_errors
from dirqkit.crash.inspection import Readers
from dirqkit.crash.syscalls import PROFILED, Syscall

NAME_PATTERNS = {"{dir}": "[0-9a-f]{8}", "{elt}": "[0-9a-f]{14}"}
FLAG = re.compile(r"\b[A-Z][A-Z0-9_]+\b")
ON_DESCRIPTOR = ("write", "close", "sync")  # classes whose calls act on their first argument, a descriptor


@dataclass(frozen=True)
class Matcher:
    classes: tuple[str, ...]
    path: re.Pattern[str] | None
    failed: bool | None
    text: str  # as the case wrote it, for messages

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Matcher:
        calls = raw["call"] if isinstance(raw["call"], list) else [raw["call"]]
        pattern = raw.get("path")
        if pattern is not None:
            for name, regex in NAME_PATTERNS.items():
                pattern = pattern.replace(name, regex)
        try:
            compiled = re.compile(pattern) if pattern is not None else None
        except re.error as exc:
            raise ExplorerError(f"syscalls: path {raw.get('path')!r} is not a regular expression: {exc}") from None
        text = "/".join(calls) + (f" of {raw['path']}" if "path" in raw else "")
        return cls(tuple(calls), compiled, raw.get("failed"), text)

    def matches(self, call: Syscall, top: str) -> bool:
        if call.klass not in self.classes or self.failed is not None and call.failed != self.failed:
            return False
        return self.path is None or any(self.path.fullmatch(p) for p in relative_paths(call, top))


def relative_paths(call: Syscall, top: str) -> list[str]:
    """The paths a call names inside TOP, relative to it (TOP itself is ``""``); a call on a
    descriptor alone (write, close, fstat, futimens) names the descriptor's file."""
    if call.klass in ON_DESCRIPTOR or call.name in ("fstat", "ftruncate", "fchmod"):
        paths = [call.descriptor_path or ""]  # a quoted argument is data (write), not a path
    else:
        paths = [p if p else call.descriptor_path or "" for p in call.full_paths] or [call.descriptor_path or ""]
    inside = []
    for path in paths:
        if path == top:
            inside.append("")
        elif path.startswith(top + "/"):
            inside.append(path[len(top) + 1:])
    return inside


def describe(call: Syscall, top: str) -> str:
    """The call as a rule names it: its class, its paths relative to TOP, its flags and its result."""
    paths = ", ".join(p or "TOP" for p in relative_paths(call, top)) or "-"
    shown = "|".join(sorted(f for f in flags(call) if f.startswith(("O_", "AT_")) and f != "AT_FDCWD"))
    return f"{call.name}({paths}{', ' + shown if shown else ''}) = {call.result[:40]}"


def flags(call: Syscall) -> set[str]:
    return set(FLAG.findall(call.args))


def follows(call: Syscall, earlier: list[Syscall]) -> bool:
    """Whether the call may follow a symbolic link at its last path component."""
    given = flags(call)
    if call.klass in ("open", "list"):
        return "O_NOFOLLOW" not in given and not {"O_CREAT", "O_EXCL"} <= given
    if call.klass in ("utime", "stat"):
        if call.name == "lstat" or "AT_SYMLINK_NOFOLLOW" in given:
            return False
        if call.paths and any(call.paths):  # a path, resolved with the default: followed
            return True
        fd_path = call.descriptor_path  # on a descriptor: as safe as the open that made it
        opens = [c for c in earlier if c.klass in ("open", "list") and fd_path in c.full_paths]
        return not opens or follows(opens[-1], [])
    return False


@dataclass(frozen=True)
class Rule:
    requirement: str
    raw: dict[str, Any]

    def check(self, calls: list[Syscall], top: str, where: str) -> list[Violation]:
        raw, found = self.raw, []

        def violation(message: str) -> None:
            found.append(Violation(self.requirement, where, message))

        for kind in ("flags", "nofollow"):
            if kind in raw:
                matcher = Matcher.parse(raw[kind])
                chosen = [(i, c) for i, c in enumerate(calls) if matcher.matches(c, top)]
                if not chosen and not raw.get("optional"):
                    violation(f"makes no {matcher.text} (the {kind} rule is about that call)")
                for index, call in chosen:
                    if kind == "nofollow" and follows(call, calls[:index]):
                        violation(f"may follow a symbolic link: {describe(call, top)}")
                    missing = sorted(set(raw.get("has", [])) - flags(call)) if kind == "flags" else []
                    extra = sorted(set(raw.get("lacks", [])) & flags(call)) if kind == "flags" else []
                    if missing or extra:
                        violation(f"{describe(call, top)}: " + "; ".join(
                            ([f"without {'|'.join(missing)}"] if missing else []) + ([f"with {'|'.join(extra)}"] if extra else [])))
        if "before" in raw:
            first, second = (Matcher.parse(m) for m in raw["before"])
            a = [i for i, c in enumerate(calls) if first.matches(c, top)]
            b = [i for i, c in enumerate(calls) if second.matches(c, top)]
            if not a or not b:
                violation(f"makes no {first.text if not a else second.text}; the order of {first.text} and {second.text} is mandated")
            elif max(a) > min(b):
                violation(f"{describe(calls[min(b)], top)} comes before {describe(calls[max(a)], top)}: "
                          f"every {first.text} must come before every {second.text}")
        if "never" in raw:
            matcher = Matcher.parse(raw["never"])
            for call in calls:
                if matcher.matches(call, top):
                    violation(f"makes a {matcher.text}, which it must not: {describe(call, top)}")
        if "count" in raw:
            matcher = Matcher.parse(raw["count"])
            chosen = [c for c in calls if matcher.matches(c, top)]
            low, high = raw.get("min", 0), raw.get("max")
            if len(chosen) < low or high is not None and len(chosen) > high:
                bounds = f"{low}..{'' if high is None else high}"
                violation(f"makes {len(chosen)} {matcher.text} (allowed: {bounds}): "
                          + "; ".join(describe(c, top) for c in chosen[:4]))
        return found


class Profiler:
    def __init__(self, scene: Scene, spec: dict[str, Any]) -> None:
        self.explorer = Explorer(scene, "syscalls", spec, traced=PROFILED)
        self.spec = spec
        self.rules = [Rule(raw["requirement"], raw) for raw in spec["rules"]]
        self.violations: list[Violation] = []
        self.notes: list[str] = []

    def trace(self, upto: int, inject: str | None) -> tuple[Traced, Path]:
        """The op ``upto`` run traced on a fresh queue, tried again while the kit misses its set-up."""
        return self.explorer.with_retries(upto, lambda: self.trace_once(upto, inject))

    def trace_once(self, upto: int, inject: str | None) -> tuple[Traced, Path]:
        x = self.explorer
        state = x.new_state()
        readers = Readers(x, state)
        try:
            return x.traced_run(state, readers, upto, inject), state / "queue"
        finally:
            readers.close()

    def injection(self, upto: int) -> str | None:
        """``inject``: the strace injection failing the first call it matches in the op's trace."""
        if "inject" not in self.spec:
            return None
        raw = self.spec["inject"]
        matcher = Matcher.parse({"call": raw["call"], **({"path": raw["path"]} if "path" in raw else {})})
        dry, top = self.trace(upto, None)
        for index, call in enumerate(dry.syscalls):
            if matcher.matches(call, str(top)):
                nth = sum(1 for c in dry.syscalls[: index + 1] if c.name == call.name)
                return f"{call.name}:error={raw['error']}:when={nth}"
        raise ExplorerError(f"syscalls: {self.explorer.label(dry.target)} makes no {matcher.text} to inject {raw['error']} into")

    def run(self) -> None:
        x = self.explorer
        for upto, action in enumerate(x.actions):
            if action.op is None or not action.explore:
                continue
            inject = self.injection(upto)
            traced, top = self.trace(upto, inject)
            label = x.label(action)
            if traced.outcome.kind == "error" and traced.outcome.error_kind == "unsupported":
                self.notes.append(f"{label}: unsupported ({traced.outcome.error}); not profiled")
                continue
            if traced.outcome.kind != "ok" and inject is None:
                self.violations.append(Violation(self.rules[0].requirement, label,
                                                 f"fails: {traced.outcome.kind} {traced.outcome.error}"))
            found = [v for rule in self.rules for v in rule.check(traced.syscalls, str(top), label)]
            self.violations += [Violation(v.requirement, v.element, f"{v.message} [trace in {top.parent / 'trace.txt'}]")
                                for v in found]
            if not found:
                shutil.rmtree(top.parent, ignore_errors=True)

    def close(self) -> None:
        self.explorer.close()


def run_step(scene: Scene, spec: dict[str, Any]) -> None:
    """The ``syscalls`` step: trace each explored op, check every rule, fail on any violation."""
    with scenario_errors("syscalls"):
        profiler = Profiler(scene, spec)
        try:
            profiler.run()
        finally:
            profiler.close()
    scene.report("syscalls", {"rules": len(profiler.rules), "notes": profiler.notes, "violations": len(profiler.violations)})
    verify(scene, Verdict(violations=profiler.violations), {}, "syscalls")
