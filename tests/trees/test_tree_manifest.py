"""Tree manifests: loading (with errors that name the place), building with re-based mtimes, capturing."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from trees_testutil import CORRUPT, REAL, build

from dirqkit.trees import fixtures, manifest
from dirqkit.trees.manifest import NS_PER_SECOND, FixtureError

CAPTURE_TOOL = Path(__file__).resolve().parents[2] / "tools" / "capture_fixture.py"
HEADER = "format: dirqkit-tree/1\nqueue: {type: simple}\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tree.yaml"
    path.write_text(HEADER + text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("body", "message"), [
    ("entries:\n  - {path: 12345678, kind: dir}\n", r"entries\[0\]\.path must be a string, got 12345678 \(quote"),
    ("entries:\n  - {path: ../x, kind: file}\n", r"must be relative, without '\.', '\.\.'"),
    ("entries:\n  - {path: a/b, kind: file}\n", r"entries\[0\] \(a/b\): its directory 'a' must be a dir entry listed before it"),
    ("entries:\n  - {path: l, kind: symlink, target: d}\n  - {path: l/x, kind: file}\n", r"its directory 'l' must be a dir"),
    ("entries:\n  - {path: x, kind: link, target: y}\n", r"a link's target must be a file entry listed before it"),
    ("entries:\n  - {path: x, kind: file, mode: 644}\n", r"mode must be a quoted 4-digit octal string"),
    ("entries:\n  - {path: x, kind: pipe}\n", r"kind must be one of"),
    ("entries:\n  - {path: x, kind: dir, text: hi}\n", r"a dir entry has no text"),
    ("entries:\n  - {path: x, kind: file, age: -1}\n", r"age must be a non-negative number"),
    ("entries: []\nelements:\n  - {name: 6b0b2e10/6b0b2e4718c631}\n", r"element 6b0b2e10/6b0b2e4718c631: no file entry"),
    (("entries:\n  - {path: 6b0b2e10, kind: dir}\n  - {path: 6b0b2e10/6b0b2e4718c631, kind: file, text: a}\n"
      "elements:\n  - {name: 6b0b2e10/6b0b2e4718c631, text: b}\n"), r"payload differs"),
    (("entries:\n  - {path: 6b0b2e10, kind: dir}\n  - {path: 6b0b2e10/6b0b2e4718c631, kind: file}\n"
      "elements:\n  - {name: 6b0b2e10/6b0b2e4718c631, locked: true}\n"), r"declared locked, but 6b0b2e10/6b0b2e4718c631\.lck is missing"),
    ("entries: []\nfindings:\n  - {id: fsck, path: x}\n", r"findings\[0\] must be \{id: REQUIREMENT-ID, path: PATH\}"),
    ("entries: []\nsurprise: 1\n", r"unknown key\(s\): surprise"),
])
def test_bad_manifest_is_refused_naming_file_and_place(tmp_path, body, message):
    path = write(tmp_path, body)
    with pytest.raises(FixtureError, match=message) as refused:
        manifest.load(path)
    assert str(refused.value).startswith(str(path))


def test_materialize_rebases_every_mtime_on_the_reference(tmp_path):
    tree = manifest.load(write(tmp_path, "age: 100\nentries:\n  - {path: ., kind: dir, mode: '0750'}\n  - {path: d, kind: dir, mode: '0555'}\n"
                               "  - {path: d/f, kind: file, text: hi, age: 2.5}\n  - {path: d/g, kind: link, target: d/f}\n"
                               "  - {path: d/s, kind: symlink, target: ../../out}\n"))
    reference = 1_700_000_000 * NS_PER_SECOND
    top = manifest.materialize(tree, tmp_path / "q", reference_ns=reference)
    mtimes = {p: os.lstat(top / p).st_mtime_ns for p in (".", "d", "d/f", "d/s")}
    assert mtimes == {".": reference - 100 * NS_PER_SECOND, "d": reference - 100 * NS_PER_SECOND,
                      "d/f": reference - 2_500_000_000, "d/s": reference - 100 * NS_PER_SECOND}
    assert os.path.samefile(top / "d/f", top / "d/g") and os.readlink(top / "d/s") == "../../out"
    assert (stat.S_IMODE(os.stat(top).st_mode), stat.S_IMODE(os.stat(top / "d").st_mode)) == (0o750, 0o555)
    (top / "d").chmod(0o755)  # let tmp_path be cleaned up


def test_materialize_refuses_a_destination_that_is_not_empty(tmp_path):
    (tmp_path / "q").mkdir()
    (tmp_path / "q" / "x").write_text("mine")
    with pytest.raises(FixtureError, match="must be empty"):
        manifest.materialize(fixtures.find("simple-orphan-lock"), tmp_path / "q")
    assert (tmp_path / "q" / "x").read_text() == "mine"


@pytest.mark.parametrize("name", REAL + CORRUPT)
def test_capture_gives_back_the_manifest_tree(name, tmp_path):
    """capture(materialize(tree)) == tree: symlinks stay symlinks, hard links links, ages and modes kept."""
    tree = fixtures.find(name)
    top = build(tree, tmp_path / "q")
    captured = manifest.capture(top, schema=tree.schema)
    expected = {n.path: n for n in tree.nodes}
    got = {n.path: n for n in captured.nodes}
    assert set(got) - {"."} == set(expected) - {"."}
    for path, node in expected.items():
        assert (got[path].kind, got[path].data, got[path].target) == (node.kind, node.data, node.target), path
        if node.kind in ("dir", "file"):
            assert got[path].mode == node.mode, path
        if node.kind != "link":  # ages: the capture came a moment after the build
            assert 0 <= got[path].age_ns - node.age_ns < 60 * NS_PER_SECOND, path
    assert (captured.queue_type, captured.locked) == (tree.queue_type, tree.locked)
    assert [e.name for e in captured.elements] == sorted(e.name for e in tree.elements)
    stated = {e.name: e.value for e in tree.elements if e.value is not None}
    assert {e.name: e.value for e in captured.elements if e.name in stated} == stated


def test_dump_then_load_is_the_same_tree(tmp_path):
    tree = fixtures.find("perl-normal-basic")
    top = build(tree, tmp_path / "q")
    captured = manifest.capture(top, schema=tree.schema, description="round trip")
    path = tmp_path / "tree.yaml"
    path.write_text(manifest.dump(captured), encoding="utf-8")
    loaded = manifest.load(path)
    assert [(n.path, n.kind, n.data, n.target, n.mode) for n in loaded.nodes] == [(n.path, n.kind, n.data, n.target, n.mode) for n in captured.nodes]
    assert all(abs(a.age_ns - b.age_ns) <= 1000 for a, b in zip(loaded.nodes, captured.nodes))  # ages in µs
    assert (loaded.elements, loaded.locked, loaded.leftovers, loaded.description) == (captured.elements, captured.locked, captured.leftovers, "round trip")


def test_capture_tool_writes_a_manifest_and_refuses_what_it_cannot_record(tmp_path):
    top = build(fixtures.find("simple-symlinks"), tmp_path / "q")
    out = tmp_path / "captured.yaml"
    done = subprocess.run([sys.executable, str(CAPTURE_TOOL), str(top), "-o", str(out), "--name", "mine"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    tree = manifest.load(out)
    assert tree.name == "mine" and tree.node("6b0b2e11").kind == "symlink" and tree.node("6b0b2e11").target == "6b0b2e10"
    os.mkfifo(top / "6b0b2e10" / "fifo")
    refused = subprocess.run([sys.executable, str(CAPTURE_TOOL), str(top)], capture_output=True, text=True, check=False)
    assert refused.returncode == 2 and "6b0b2e10/fifo: a device, FIFO or socket cannot be recorded" in refused.stderr
    assert "Traceback" not in refused.stderr
