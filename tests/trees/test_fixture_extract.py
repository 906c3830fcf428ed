"""dirqkit.trees.fixtures.extract refuses archives that would write outside the destination."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from dirqkit.trees import fixtures

MANIFEST = {
    "fixture": "crafted",
    "implementation": "test",
    "written_by": "test",
    "written_on": "2026-11-28",
    "queue_type": "simple",
    "options": {},
    "schema": None,
    "tree_root": "queue",
    "elements": [],
    "locked": [],
    "leftovers": [],
    "files": [],
}


def member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", linkname: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname, info.mode, info.mtime = kind, len(data), linkname, 0o644, 1795894855
    return info, data


def craft(directory: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    """A gzipped tar holding exactly ``members`` (names kept verbatim), with a valid manifest."""
    archive = directory / "crafted.tar.gz"
    with tarfile.open(archive, "w:gz", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    (directory / "crafted.json").write_text(json.dumps(MANIFEST))
    return archive


QUEUE_DIR = member("queue", tarfile.DIRTYPE)

UNSAFE = {
    "dotdot": [member("../x", data=b"escaped")],
    "dotdot-inside": [QUEUE_DIR, member("queue/../../x", data=b"escaped")],
    "device": [QUEUE_DIR, member("queue/null", tarfile.CHRTYPE)],
    "fifo": [QUEUE_DIR, member("queue/fifo", tarfile.FIFOTYPE)],
    "symlink-out": [QUEUE_DIR, member("queue/out", tarfile.SYMTYPE, linkname="../../x")],
    "symlink-absolute": [QUEUE_DIR, member("queue/out", tarfile.SYMTYPE, linkname="/etc")],
    "through-symlink": [
        QUEUE_DIR,
        member("queue/here", tarfile.SYMTYPE, linkname="."),
        member("queue/here/x", data=b"via a symlink"),
    ],
    "hardlink-out": [QUEUE_DIR, member("queue/x", tarfile.LNKTYPE, linkname="../x")],
}


@pytest.mark.parametrize("members", UNSAFE.values(), ids=UNSAFE.keys())
def test_unsafe_archive_is_refused(tmp_path, members):
    (tmp_path / "x").write_bytes(b"outside")
    archive = craft(tmp_path, members)
    dest = tmp_path / "dest" / "inner"
    with pytest.raises(fixtures.FixtureError, match="member"):
        fixtures.extract(archive, dest)
    assert (tmp_path / "x").read_bytes() == b"outside"
    assert not os.path.lexists(tmp_path / "dest" / "x")


def test_absolute_member_is_refused(tmp_path):
    target = tmp_path / "absolute"
    archive = craft(tmp_path, [member(str(target), data=b"escaped")])
    with pytest.raises(fixtures.FixtureError, match="absolute"):
        fixtures.extract(archive, tmp_path / "dest")
    assert not os.path.lexists(target)


def test_safe_archive_keeps_hard_links_and_rebases_mtimes(tmp_path):
    archive = craft(
        tmp_path,
        [
            QUEUE_DIR,
            member("queue/e", data=b"payload"),
            member("queue/e.lck", tarfile.LNKTYPE, linkname="queue/e"),
            member("queue/self", tarfile.SYMTYPE, linkname="e"),
        ],
    )
    manifest = fixtures.extract(archive, tmp_path / "dest", mtime_offset=-86400.5)
    assert manifest.fixture == "crafted"
    top = tmp_path / "dest" / "queue"
    assert os.path.samefile(top / "e", top / "e.lck")
    assert (top / "e.lck").read_bytes() == b"payload"
    assert os.readlink(top / "self") == "e"
    for name in ("", "e", "self"):
        assert os.lstat(top / name).st_mtime_ns == (1795894855 - 86400) * 10**9 - 500_000_000


def test_malformed_manifest_names_the_file(tmp_path):
    archive = craft(tmp_path, [QUEUE_DIR])
    (tmp_path / "crafted.json").write_text(json.dumps({**MANIFEST, "queue_type": "fancy"}))
    with pytest.raises(fixtures.FixtureError, match=r"crafted\.json.*fancy"):
        fixtures.extract(archive, tmp_path / "dest")
