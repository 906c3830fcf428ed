"""Where queues live: the mount table, the link-count probe, the writability check."""

from __future__ import annotations

import os

from dirqkit.trees import filesystem

MOUNTINFO = """\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
40 27 7:0 / /mnt/q rw,relatime shared:5 - btrfs /dev/loop0 rw,space_cache=v2
41 40 0:50 / /mnt/q/deep\\040dir rw,nosuid master:1 - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
this line is not a mount
42 27 0:51 / /mnt/qq rw - tmpfs tmpfs rw,size=4k
"""


def test_mountinfo_fields_escapes_and_optional_fields():
    mounts = filesystem.parse_mountinfo(MOUNTINFO)
    assert [m.mount_point for m in mounts] == ["/proc", "/", "/mnt/q", "/mnt/q/deep dir", "/mnt/qq"]
    overlay = mounts[3]
    assert (overlay.fstype, overlay.source, overlay.options) == ("overlay", "overlay", "rw,nosuid")
    assert overlay.super_options == "rw,lowerdir=/l,upperdir=/u,workdir=/w"


def test_the_longest_mount_point_holding_the_path_wins():
    mounts = filesystem.parse_mountinfo(MOUNTINFO)
    assert filesystem.mount_of("/mnt/q/deep dir/queues", mounts).fstype == "overlay"
    assert filesystem.mount_of("/mnt/q/other", mounts).fstype == "btrfs"
    assert filesystem.mount_of("/mnt/q", mounts).fstype == "btrfs"
    assert filesystem.mount_of("/mnt/qqq", mounts).fstype == "ext4"  # a prefix of the name is not a parent
    assert filesystem.mount_of("/mnt/qq/x", mounts).fstype == "tmpfs"


def test_describe_reads_the_given_mount_table(tmp_path):
    table = tmp_path / "mountinfo"
    table.write_text(f"1 0 0:1 / / rw - ext4 /dev/x rw\n2 1 0:2 / {tmp_path} rw,noatime - xfs /dev/loop3 rw,attr2\n")
    env = filesystem.describe(tmp_path, table)
    assert (env["filesystem"], env["mount_point"], env["mount_options"], env["super_options"]) == ("xfs", str(tmp_path), "rw,noatime", "rw,attr2")
    assert env["dir"] == str(tmp_path.resolve()) and env["read_only"] is False
    assert filesystem.describe(tmp_path, tmp_path / "missing")["filesystem"] == "unknown"


def test_link_count_probe_measures_and_leaves_nothing(tmp_path, monkeypatch):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    maintained = os.lstat(tmp_path / "d").st_nlink == 3
    (tmp_path / "d" / "sub").rmdir()
    (tmp_path / "d").rmdir()
    assert filesystem.dir_link_counts(tmp_path) is maintained
    assert list(tmp_path.iterdir()) == []
    real_lstat = os.lstat
    monkeypatch.setattr(os, "lstat", lambda p: os.stat_result((*real_lstat(p)[:3], 1, *real_lstat(p)[4:])))
    assert filesystem.dir_link_counts(tmp_path) is False  # a directory with a subdirectory and link count 1: btrfs
    assert list(tmp_path.iterdir()) == []


def test_writable_problem_names_the_reason(tmp_path):
    assert filesystem.writable_problem(tmp_path) is None
    assert filesystem.writable_problem(tmp_path / "nope") == f"{tmp_path / 'nope'} does not exist"
    (tmp_path / "file").write_text("x")
    assert filesystem.writable_problem(tmp_path / "file") == f"{tmp_path / 'file'} is not a directory"
    assert list(tmp_path.iterdir()) == [tmp_path / "file"]
