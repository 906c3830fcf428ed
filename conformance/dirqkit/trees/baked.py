"""Fixture trees built ahead of a run: a queue baked into a container image.

On an overlay filesystem an entry that comes from the lower layer (the image)
behaves unlike a new one: the first change copies it up to the upper layer,
its inode number may change, and renaming a lower directory may fail with
``EXDEV``. To test that, the fixture trees are built in the lower layer before
the overlay is mounted (:func:`bake`), and each case run then claims one copy
through the merged mount (:func:`claim`) instead of building its own.

Layout of a baked directory: ``NAME@AGE/K`` is copy K of fixture NAME whose
ages count back from AGE seconds before it was baked; ``NAME@AGE/K.claimed``
(made with ``mkdir``, atomic) marks a copy a run has taken. A baked tree is as
old as the bake when a run uses it, as an image is older than its build.
"""

from __future__ import annotations

import time
from pathlib import Path

from dirqkit.trees.fixtures import find
from dirqkit.trees.manifest import NS_PER_SECOND, FixtureError, materialize


def slot(directory: Path, name: str, age: float) -> Path:
    return directory / f"{name}@{age:g}"


def bake(directory: Path, name: str, age: float, copies: int) -> list[Path]:
    """Build ``copies`` copies of fixture ``name``, as the fixture step would with ``age``."""
    tree = find(name)
    reference = time.time_ns() - round(age * NS_PER_SECOND)
    return [materialize(tree, slot(directory, name, age) / str(k), reference_ns=reference) for k in range(copies)]


def claim(directory: Path, name: str, age: float) -> Path:
    """An unused baked copy of fixture ``name`` (marked as taken); a kit error when none is left."""
    base = slot(directory, name, age)
    copies = sorted((p for p in base.iterdir() if p.name.isdigit()), key=lambda p: int(p.name)) if base.is_dir() else []
    for copy in copies:
        try:
            copy.with_name(copy.name + ".claimed").mkdir()
        except FileExistsError:
            continue
        return copy
    raise FixtureError(f"{base}: no unused baked copy of fixture {name} (age {age:g}) is left "
                       f"({len(copies)} baked); bake one copy per run of a case using it")
