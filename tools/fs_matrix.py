#!/usr/bin/env python3
"""Run the suite on the filesystems queues live on: ext4, XFS, btrfs and a container overlay.

Needs root and loop devices. For each filesystem it makes a small image file
in a scratch directory, formats it, mounts it with a loop device and runs
`dirqkit run --dir` on it: the Simple and Normal groups and a short
concurrency run, with every implementation given by --impl (default: every
available one). The overlay is mounted from lower, upper and work directories
as a container runtime does (once as is, once with redirect_dir=on, which lets
a lower directory be renamed); before mounting, the fixture trees are baked into
the lower layer and the fixture group runs on them (`dirqkit run --baked`):
entries that come from an image are copied up at their first change.
Everything is unmounted and deleted at the end, also on failure, Ctrl-C or
SIGTERM. A filesystem that cannot be made or mounted here is skipped, with the reason.

It prints one table, filesystem x implementation: "FAIL" and the
requirements that fail without an expectation (blamed as expectation drafts
are, `expectations.blame`), or "ok"; then "known here:" and the requirements
of expected failures whose entries are limited to some filesystems, this one
among them (`filesystems:`, see suite/expectations.py; SPEC Appendix A.5).
The table also goes to OUT/table.md, with each run's JSON and the evidence of
failures. Exit 1 when a cell fails or a run broke.

    python3 tools/fs_matrix.py [--impl ref,python-dirq] [--fs ext4,xfs,btrfs,overlay]
                               [--out fs-matrix-results] [--scratch DIR] [-j N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dirqkit import resources
from dirqkit.report.results import BAD
from dirqkit.suite import expectations
from dirqkit.suite.caseload import load_cases
from dirqkit.suite.fixture_steps import fixture_of
from dirqkit.suite.roles import Assignment
from dirqkit.trees import baked

# Image sizes in MiB: the smallest each mkfs accepts, with room for the cases.
IMAGES = {
    "ext4": (64, ["mkfs.ext4", "-q", "-F"]),
    "xfs": (300, ["mkfs.xfs", "-q", "-f"]),
    "btrfs": (120, ["mkfs.btrfs", "-q", "-f"]),
}
# Overlays: mount options beyond the layers. redirect_dir=on lets a lower directory be renamed.
OVERLAYS = {"overlay": "", "overlay-redirect": ",redirect_dir=on"}
FILESYSTEMS = [*IMAGES, *OVERLAYS]
SUITE_GROUPS = ["simple", "normal"]
CONCURRENCY_CASES = ["conc-simple-produce-consume-parallel", "conc-simple-2x2", "conc-normal-2x2"]


# -- what is allowed here ---------------------------------------------------------


def mount_problem() -> str | None:
    """Why nothing can be mounted here (None: mounting should work)."""
    if os.geteuid() != 0:
        return "not root: mounting needs root"
    if not Path("/dev/loop-control").exists():
        return "no /dev/loop-control: loop devices are not available"
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return "mount/umount not installed"
    return None


def image_problem(name: str) -> str | None:
    if name in IMAGES and shutil.which(IMAGES[name][1][0]) is None:
        package = {"xfs": "xfsprogs", "btrfs": "btrfs-progs", "ext4": "e2fsprogs"}[name]
        return f"{IMAGES[name][1][0]} not installed (Debian package {package})"
    return None


# -- mounts that are always undone ------------------------------------------------


class Cleanup:
    """Undo actions, run last-in first-out; SIGTERM is turned into SystemExit so that they run."""

    def __init__(self) -> None:
        self.actions: list[tuple[str, Callable[[], None]]] = []
        self.child: subprocess.Popen[bytes] | None = None

    def push(self, what: str, action: Callable[[], None]) -> None:
        self.actions.append((what, action))

    def __enter__(self) -> Cleanup:
        self._old = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not leave a mount behind
        try:
            if self.child is not None and self.child.poll() is None:
                self.child.terminate()  # the suite's drivers keep files open on the mount
                try:
                    self.child.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.child.kill()
                    self.child.wait()
            while self.actions:
                what, action = self.actions.pop()
                try:
                    action()
                except (OSError, subprocess.CalledProcessError) as error:
                    print(f"fs_matrix: cleanup: {what}: {error}", file=sys.stderr)
        finally:
            signal.signal(signal.SIGTERM, self._old)
            signal.signal(signal.SIGINT, signal.default_int_handler)

    def run(self, argv: list[str]) -> int:
        """A child process that is stopped if this one is interrupted."""
        self.child = subprocess.Popen(argv)
        try:
            return self.child.wait()
        finally:
            self.child = None


def _run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def unmount(point: Path) -> None:
    if subprocess.run(["umount", str(point)], stderr=subprocess.DEVNULL).returncode != 0:
        _run(["umount", "-l", str(point)])  # still busy: detach now, freed when the last user goes


def mount_image(fstype: str, scratch: Path, cleanup: Cleanup) -> Path:
    size, mkfs = IMAGES[fstype]
    image, point = scratch / f"{fstype}.img", scratch / f"{fstype}-mnt"
    with open(image, "wb") as handle:
        handle.truncate(size * 1024 * 1024)
    cleanup.push(f"delete {image}", image.unlink)
    _run([*mkfs, str(image)])
    point.mkdir()
    cleanup.push(f"remove {point}", point.rmdir)
    _run(["mount", "-o", "loop", str(image), str(point)])  # the loop device is freed on umount (autoclear)
    cleanup.push(f"unmount {point}", lambda: unmount(point))
    return point


def mount_overlay(name: str, scratch: Path, cleanup: Cleanup, lower_content: Callable[[Path], None]) -> Path:
    layers = scratch / name
    lower, upper, work, point = (layers / name for name in ("lower", "upper", "work", "merged"))
    for directory in (lower, upper, work, point):
        directory.mkdir(parents=True)
    cleanup.push(f"delete {layers}", lambda: shutil.rmtree(layers))
    lower_content(lower)
    _run(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lower},upperdir={upper},workdir={work}{OVERLAYS[name]}", str(point)])
    cleanup.push(f"unmount {point}", lambda: unmount(point))
    return point


def bake_fixtures(lower: Path, implementations: int) -> None:
    """One copy of each fixture tree per run of a fixture case (a single-role case: one run per implementation)."""
    counts: dict[tuple[str, float], int] = {}
    for case in load_cases(resources.cases_dir() / "fixtures"):
        fixture = fixture_of(case)
        if fixture:
            counts[fixture] = counts.get(fixture, 0) + implementations * len(case.roles)
    for (name, age), copies in sorted(counts.items()):
        baked.bake(lower / "baked", name, age, copies)


# -- running the suite and reading its results -----------------------------------


@dataclass
class Cell:
    failing: set[str] = field(default_factory=set)  # requirements broken by runs no expectation covers
    known_here: set[str] = field(default_factory=set)  # expected failures limited to this filesystem
    runs: int = 0

    def text(self) -> str:
        if not self.runs:
            return "-"
        parts = [f"FAIL {', '.join(sorted(self.failing))}" if self.failing else "ok"]
        if self.known_here:
            parts.append(f"known here: {', '.join(sorted(self.known_here))}")
        return "; ".join(parts)


@dataclass
class Row:
    name: str  # a key of IMAGES or OVERLAYS
    environment: dict[str, Any] = field(default_factory=dict)
    cells: dict[str, Cell] = field(default_factory=dict)
    skipped: str | None = None
    errors: list[str] = field(default_factory=list)


def fill(row: Row, records: list[dict[str, Any]], loaded: list[expectations.ExpectedFailure]) -> None:
    """Add one dirqkit run's records to a filesystem's row."""
    for record in records:
        for impl in record["roles"].values():
            row.cells.setdefault(impl, Cell()).runs += record["outcome"] != "SKIP"
        if record["outcome"] == "XFAIL":
            found = expectations.find(loaded, record["case"], Assignment(tuple(record["roles"].items())),
                                      row.environment.get("filesystem"))
            for entry in found.entries if found else ():
                if entry.filesystems:
                    row.cells.setdefault(entry.implementation, Cell()).known_here.add(entry.requirement)
    for record, pairs in expectations.blame(records, outcomes=frozenset(BAD)):
        broken = record.get("violated") or [record.get("requirement") or record["requirements"][0]]  # as a draft names it
        for _, impl in pairs or record["roles"].items():  # a run of the reference alone: blame it
            row.cells.setdefault(impl, Cell()).failing.update(broken)


def render(rows: list[Row], implementations: list[str]) -> str:
    """The filesystem x implementation table (Markdown), then the skipped filesystems with their reasons."""
    lines = ["| filesystem | dir link counts | " + " | ".join(implementations) + " |",
             "|---|---|" + "---|" * len(implementations)]
    for row in rows:
        if row.skipped:
            continue
        links = {True: "yes", False: "no"}.get(row.environment.get("dir_link_counts"), "?")
        cells = [row.cells[i].text() if i in row.cells else "-" for i in implementations]
        lines.append(f"| {row.name} | {links} | " + " | ".join(cells) + " |")
    for row in rows:
        if row.skipped:
            lines.append(f"\n{row.name}: skipped: {row.skipped}")
        for error in row.errors:
            lines.append(f"\n{row.name}: {error}")
    return "\n".join(lines)


def suite_runs(name: str) -> list[tuple[str, list[str]]]:
    runs = [("suite", [arg for group in SUITE_GROUPS for arg in ("--group", group)]),
            ("concurrency", [arg for case in CONCURRENCY_CASES for arg in ("--case", case)])]
    return runs + ([("fixtures-from-lower", ["--group", "fixtures"])] if name in OVERLAYS else [])


def run_suite(row: Row, point: Path, impls: list[str], args: argparse.Namespace, cleanup: Cleanup,
              loaded: list[expectations.ExpectedFailure]) -> None:
    queues = point / "queues"
    queues.mkdir()
    for label, selection in suite_runs(row.name):
        out = args.out / f"{row.name}-{label}.json"
        argv = [sys.executable, "-m", "dirqkit", "run", "--dir", str(queues), "-j", str(args.jobs),
                "--json", str(out), "--results", str(args.out / f"{row.name}-{label}"), *selection]
        argv += ["--baked", str(point / "baked")] if label == "fixtures-from-lower" else []
        argv += [arg for impl in impls for arg in ("--impl", impl)]
        print(f"fs_matrix: {row.name}: {label}: {' '.join(argv[1:])}", flush=True)
        code = cleanup.run(argv)
        if code not in (0, 1) or not out.is_file():
            row.errors.append(f"{label}: dirqkit run exited {code} without results")
            continue
        data = json.loads(out.read_text(encoding="utf-8"))
        row.environment = row.environment or data.get("environment", {})
        fill(row, data["records"], loaded)


def available_implementations() -> list[str]:
    out = subprocess.run([sys.executable, "-m", "dirqkit", "drivers", "--json"], check=True, capture_output=True, text=True)
    return [d["name"] for d in json.loads(out.stdout) if d["available"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", action="append", default=[], help="implementations (repeat or comma-separate; default: every available one)")
    parser.add_argument("--fs", default=",".join(FILESYSTEMS), help=f"filesystems to test (default {','.join(FILESYSTEMS)})")
    parser.add_argument("--out", type=Path, default=Path("fs-matrix-results"), help="results: JSON per run, evidence of failures, table.md")
    parser.add_argument("--scratch", type=Path, default=None, help="where images and mount points go (default: a new temporary directory)")
    parser.add_argument("-j", "--jobs", default="2", help="parallel workers per run (default 2)")
    args = parser.parse_args(argv)
    wanted = [f.strip() for f in args.fs.split(",") if f.strip()]
    unknown = sorted(set(wanted) - set(FILESYSTEMS))
    if unknown:
        parser.error(f"unknown filesystem(s) {', '.join(unknown)}; known: {', '.join(FILESYSTEMS)}")
    impls = [i.strip() for value in args.impl for i in value.split(",") if i.strip()] or available_implementations()
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    loaded = expectations.load_all()
    problem = mount_problem()
    rows = [Row(name) for name in wanted]
    scratch = Path(tempfile.mkdtemp(prefix="dirqkit-fs-", dir=args.scratch))
    try:
        with Cleanup() as cleanup:
            cleanup.push(f"delete {scratch}", lambda: shutil.rmtree(scratch))
            for row in rows:
                row.skipped = problem or image_problem(row.name)
                if row.skipped:
                    continue
                try:
                    if row.name in OVERLAYS:
                        point = mount_overlay(row.name, scratch, cleanup, lambda lower: bake_fixtures(lower, len(impls)))
                    else:
                        point = mount_image(row.name, scratch, cleanup)
                except subprocess.CalledProcessError as error:
                    row.skipped = f"cannot make or mount it here: {' '.join(error.cmd)}: {error.stderr.decode(errors='replace').strip()}"
                    continue
                run_suite(row, point, impls, args, cleanup, loaded)
                while cleanup.actions[-1][0] != f"delete {scratch}":  # unmount and delete this one before the next
                    what, action = cleanup.actions.pop()
                    action()
    except KeyboardInterrupt:
        print("fs_matrix: interrupted; everything was unmounted and deleted", file=sys.stderr)
        return 130
    table = render(rows, impls)
    (args.out / "table.md").write_text(table + "\n", encoding="utf-8")
    print(table)
    failed = any(cell.failing for row in rows for cell in row.cells.values()) or any(row.errors for row in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
