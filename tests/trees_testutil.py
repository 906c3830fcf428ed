"""Shared by the tests of dirqkit fsck, the tree manifests and the fixture steps of cases."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from dirqkit.trees import fixtures
from dirqkit.trees.fsck import Finding, Fsck, Settings
from dirqkit.trees.manifest import NS_PER_SECOND, TreeManifest, materialize
from dirqref.schema import Schema

REAL = [name for name in fixtures.fixture_names() if (fixtures.REAL_DIR / f"{name}.tar.gz").is_file()]
CORRUPT = sorted(path.stem for path in fixtures.CORRUPT_DIR.glob("*.yaml"))


def build(tree: TreeManifest, top: Path, age: float = 0.0) -> Path:
    """Materialize ``tree`` at ``top`` with every entry ``age`` seconds older than its manifest says."""
    return materialize(tree, top, reference_ns=time.time_ns() - round(age * NS_PER_SECOND))


def settings_for(tree: TreeManifest, **overrides: object) -> Settings:
    """fsck settings that say what the manifest says: type, schema, umask."""
    values: dict[str, object] = {
        "queue_type": tree.queue_type,
        "schema": Schema.parse(tree.schema) if tree.schema else None,
        "umask": tree.options.get("umask"),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def check(top: Path, settings: Settings) -> list[Finding]:
    with Fsck(str(top), settings) as fsck:
        return list(fsck.findings())


def pairs(findings: list[Finding]) -> set[tuple[str, str]]:
    return {(f.id, f.path) for f in findings}


def fsck_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``dirqkit fsck ARGS`` in a child process (exit code, stdout, stderr as the user sees them)."""
    return subprocess.run([sys.executable, "-m", "dirqkit", "fsck", *args], capture_output=True, text=True, timeout=60, check=False)


def cli_args(tree: TreeManifest) -> list[str]:
    args = ["--type", tree.queue_type]
    if tree.schema:
        args += ["--schema", json.dumps(tree.schema)]
    if "umask" in tree.options:
        args += ["--umask", f"{tree.options['umask']:o}"]
    return args
