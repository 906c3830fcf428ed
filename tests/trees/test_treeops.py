"""The kit's own tree actions and checks."""

from __future__ import annotations

import os
import time

import pytest

from dirqkit.trees import treeops


@pytest.fixture
def dirs(tmp_path):
    top, work = tmp_path / "queue", tmp_path / "work"
    top.mkdir()
    work.mkdir()
    return top, work


@pytest.mark.parametrize("bad", ["../x", "/etc/passwd", "a/../../x", "WORK/../queue", ""])
def test_paths_may_not_leave_the_case(dirs, bad):
    with pytest.raises(treeops.CasePathError):
        treeops.resolve(*dirs, bad)


def test_write_backdate_and_check(dirs):
    top, work = dirs
    treeops.apply_fs(top, work, {"write": "00000001/00000001000001", "text": "hi"})
    treeops.apply_fs(top, work, {"write": "WORK/f", "base64": "AAE="})
    treeops.apply_fs(top, work, {"backdate": ["0000000*/*"], "seconds": 1000})
    age = time.time() - os.lstat(top / "00000001/00000001000001").st_mtime
    assert 999 < age < 1010
    treeops.check_tree(top, work, {
        "present": ["00000001/*", "WORK/f"], "absent": ["*/*.tmp"], "count": {"*/*": 1},
        "content": {"00000001/00000001000001": {"text": "hi"}, "WORK/f": {"base64": "AAE="}},
        "kind": {"00000001": "dir"}, "fresh": ["00000001/*"],
    })
    treeops.apply_fs(top, work, {"backdate": ["WORK/f"], "seconds": 3600})
    treeops.check_tree(top, work, {"old": ["WORK/f"]})
    with pytest.raises(treeops.TreeMismatch, match="to have been modified just now"):
        treeops.check_tree(top, work, {"fresh": ["WORK/f"]})
    with pytest.raises(treeops.TreeMismatch, match="to keep its old time"):
        treeops.check_tree(top, work, {"old": ["00000001/*"]})


def test_backdate_does_not_follow_symlinks(dirs):
    top, work = dirs
    treeops.apply_fs(top, work, {"write": "WORK/target", "text": "t"})
    treeops.apply_fs(top, work, {"symlink": "link", "target": "../work/target"})
    treeops.apply_fs(top, work, {"backdate": ["link"], "seconds": 5000})
    assert time.time() - os.stat(work / "target").st_mtime < 100
    assert time.time() - os.lstat(top / "link").st_mtime > 4000
    treeops.check_tree(top, work, {"kind": {"link": "symlink"}})


@pytest.mark.parametrize("expectation, message", [
    ({"present": ["nothing"]}, "expected nothing to exist"),
    ({"absent": ["a"]}, "expected nothing at a; found a"),
    ({"count": {"*": 2}}, "expected 2 entries matching *; found 1"),
    ({"content": {"a": {"text": "other"}}}, "it holds b'x'"),
    ({"mode": {"a": "0600"}}, "expected a to have mode 0600; it has 0640"),
    ({"kind": {"a": "dir"}}, "expected a to be a dir; it is file"),
])
def test_mismatches_say_what_differs(dirs, expectation, message):
    top, work = dirs
    treeops.apply_fs(top, work, {"write": "a", "text": "x"})
    treeops.apply_fs(top, work, {"chmod": "a", "mode": "0640"})
    with pytest.raises(treeops.TreeMismatch, match=message.replace("*", r"\*").replace("(", r"\(")):
        treeops.check_tree(top, work, expectation)
