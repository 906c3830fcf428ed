"""``dirqkit fuzz``: generated op sequences over several implementations, shrunk to YAML cases.

Takes the implementation options of ``dirqkit run``. Known deviations
(the expectations) are not reported again; every new finding is shrunk,
written as a case under ``--out``/cases once ``dirqkit run`` fails it the same
way, and its re-run command printed. Exit 0: nothing new; 1: findings; 2: usage or a kit error
(an exception of the kit inside a rule, named with the rule; a driver's crash or timeout is a finding).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from dirqkit.cli import UsageError
from dirqkit.cli.run import add_implementation_arguments, implementation_choices
from dirqkit.spec import requirement_levels
from dirqkit.suite import expectations
from dirqkit.suite.actors import DriverPool, discover

if TYPE_CHECKING:
    from dirqkit.fuzz.search import Plan

# The fuzz room (and hypothesis, 0.6 s of start-up) is imported when this command runs, not by
# every dirqkit command that builds the parser.

NAME = "fuzz"
HELP = "generate op sequences over several implementations and shrink what breaks SPEC.md to a YAML case"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_implementation_arguments(parser)
    parser.add_argument("--type", choices=["simple", "normal", "set"], default="simple",
                        help="queue type (default simple; set: queue sets over Simple and Normal members)")
    parser.add_argument("--examples", type=int, metavar="N", help="generate at most N examples (default 100 unless --seconds)")
    parser.add_argument("--seconds", type=float, metavar="S", help="stop generating after S seconds (bounds the search only)")
    parser.add_argument("--shrink", type=int, metavar="N",
                        help="replays spent shrinking each finding (default: the fuzz search's own budget)")
    parser.add_argument("--max-findings", type=int, metavar="N", help="stop searching once N new findings are found (default: search the whole budget)")
    parser.add_argument("--stop-on", metavar="REQ", help="stop searching once a finding cites requirement REQ (e.g. SIMPLE-LOCK-2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the search (default 0): same seed and --examples, same run")
    parser.add_argument("--out", type=Path, default=Path("dirqkit-fuzz"), metavar="DIR",
                        help="where cases and the example database go (default ./dirqkit-fuzz)")
    parser.add_argument("--expectations", type=Path, default=None, metavar="DIR", help="expectations directory (default: the kit's)")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS", help="per-request driver timeout (default 30)")


def plan_of(args: argparse.Namespace, pool: DriverPool) -> Plan:
    from dirqkit.fuzz.machine import ROLES
    from dirqkit.fuzz.search import SHRINK_REPLAYS, Plan

    selected, extra, pins = implementation_choices(args)
    shrink = SHRINK_REPLAYS if args.shrink is None else args.shrink
    if args.examples is not None and args.examples < 1 or args.seconds is not None and args.seconds <= 0 or shrink < 0 \
            or args.max_findings is not None and args.max_findings < 1:
        raise UsageError("--examples, --seconds and --max-findings must be positive, --shrink not negative")
    levels = requirement_levels()  # empty without SPEC.md: nothing to check against
    if args.stop_on is not None and levels and args.stop_on not in levels:
        raise UsageError(f"--stop-on {args.stop_on}: no such requirement in SPEC.md")
    bad_roles = sorted(set(pins) - set(ROLES))
    if bad_roles:
        raise UsageError(f"fuzz roles are {', '.join(ROLES)}; cannot pin {', '.join(bad_roles)}")
    try:
        known_pairs = {(e.implementation, e.requirement) for e in expectations.load_all(args.expectations)}
        implementations = discover(selected, extra, pool)
    except (ValueError, expectations.ExpectationsError) as exc:
        raise UsageError(str(exc)) from None
    names = []
    for name, impl in implementations.items():
        reason = impl.unavailable_reason or (None if args.type in impl.hello.get("queue_types", []) else f"{name} has no {args.type} queues")
        if reason:
            print(f"dirqkit fuzz: skipping {reason}", file=sys.stderr)
        else:
            names.append(name)
    unknown = sorted(set(pins.values()) - set(names))
    if unknown:
        raise UsageError(f"--role names implementation(s) that cannot play here: {', '.join(unknown)}")
    if not names:
        raise UsageError("no implementation available to fuzz")
    examples = args.examples if args.examples is not None or args.seconds is not None else 100
    return Plan(args.type, implementations, names, pins, known_pairs, args.seed, args.out, examples, args.seconds, shrink,
                args.max_findings, args.stop_on)


def run(args: argparse.Namespace) -> int:
    from dirqkit.fuzz import casefile
    from dirqkit.fuzz.machine import KitFault
    from dirqkit.fuzz.search import Session

    pool = DriverPool(args.timeout)
    try:
        plan = plan_of(args, pool)
        args.out.mkdir(parents=True, exist_ok=True)
        session = Session(plan, pool)
        found = session.run()
    except KitFault as fault:  # the kit broke, not an implementation: no finding is charged to anyone
        print(f"dirqkit fuzz: {fault} (a bug of the kit; nothing was written)", file=sys.stderr)
        return 2
    finally:
        pool.close_all()
    _, extra, _ = implementation_choices(args)
    for flaky in session.flaky:
        print(f"dirqkit fuzz: a finding did not reproduce on replay (not written): {flaky}")
    for item in found:
        finding = item.finding
        print(f"\n{finding.outcome} {finding.requirement}: {finding.implementation} as role {finding.role}")
        print(f"  {finding.message}")
        written = casefile.write(item, plan.seed, args.out, extra, args.expectations, timeout=max(300.0, args.timeout * 10))
        if written.path is None:
            print(f"  not written: dirqkit run did not fail the case on {finding.requirement}: {written.outcome}")
        else:
            print(f"  case: {written.path}")
            print(f"  re-run: {shlex.join(written.rerun)}")
    print(f"dirqkit fuzz: {len(found)} new finding(s) in {session.examples} examples (seed {plan.seed})")
    return 1 if found else 0
