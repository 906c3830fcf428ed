"""``dirqkit fsck`` as a user runs it: exit codes, output formats, --repair, symlinks, bad input."""

from __future__ import annotations

import errno
import json
import os

import pytest
from trees_testutil import build, check, cli_args, fsck_cli, pairs, settings_for

from dirqkit.trees import fixtures, fsck
from dirqkit.trees.fsck import Settings
from dirqkit.trees.manifest import capture
from dirqref import QueueNormal, QueueSimple

NORMAL_SCHEMA = '{"body": "string", "header": "table?", "data": "binary?"}'


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]


def test_clean_queue_exits_0_with_nothing_on_stdout(tmp_path):
    top = build(fixtures.find("c-simple-basic"), tmp_path / "q")
    result = fsck_cli(str(top))
    assert (result.returncode, result.stdout) == (0, "")
    assert "simple queue (detected)" in result.stderr and "12 elements (1 locked)" in result.stderr and "0 findings" in result.stderr


def test_findings_exit_1_one_line_each_with_id_path_and_explanation(tmp_path):
    tree = fixtures.find("simple-stray-files")
    result = fsck_cli(str(build(tree, tmp_path / "q")))
    assert result.returncode == 1
    assert sorted(line.split(":", 1)[0] for line in lines(result.stdout)) == sorted(f"{f.id} {f.path}" for f in tree.findings)
    assert all("foreign entry" in line for line in lines(result.stdout))


def test_json_is_one_document_with_the_same_findings(tmp_path):
    tree = fixtures.find("normal-bad-table")
    top = build(tree, tmp_path / "q")
    text, data = fsck_cli(str(top), *cli_args(tree)), fsck_cli(str(top), "--json", *cli_args(tree))
    assert text.returncode == data.returncode == 1
    document = json.loads(data.stdout)
    assert (document["type"], document["type_detected"], document["schema"]) == ("normal", False, tree.schema)
    assert [f"{f['id']} {f['path']}: {f['message']}" for f in document["findings"]] == lines(text.stdout)
    assert document["summary"]["elements"] == 3 and document["summary"]["findings"] == 2


def test_json_of_a_clean_queue(tmp_path):
    top = build(fixtures.find("python-normal-rollover"), tmp_path / "q")
    result = fsck_cli(str(top), "--json")
    document = json.loads(result.stdout)
    assert result.returncode == 0 and document["findings"] == []
    assert document["summary"]["field_files"] == {"body": 12}, "without --schema, the field files seen are reported"


def test_repair_does_what_a_purge_would_and_says_so(tmp_path):
    tree = fixtures.find("python-normal-basic")
    top = build(tree, tmp_path / "q", age=3600)
    first = fsck_cli(str(top), "--repair")
    assert first.returncode == 1
    assert sorted(line.rsplit("[repair: ", 1)[1] for line in lines(first.stdout)) == ["destroyed]", "destroyed]", "removed]"]
    assert "3 findings, 3 repaired" in first.stderr
    second = fsck_cli(str(top))
    assert (second.returncode, second.stdout) == (0, "")
    queue = QueueNormal(str(top), tree.schema)  # every element is still there, byte for byte, and deliverable
    assert list(queue) == sorted(e.name for e in tree.elements)
    for element in tree.elements:
        assert queue.lock(element.name) and queue.get(element.name) == element.value


@pytest.mark.parametrize("name", ["simple-orphan-lock", "simple-stray-files", "normal-foreign-entries", "simple-symlinks"])
def test_repair_never_touches_what_a_purge_keeps(name, tmp_path):
    """A young orphan lock, foreign entries, a temporary entry holding a foreign file, symlinks: all stay."""
    tree = fixtures.find(name)
    top = build(tree, tmp_path / "q", age=3600 if name == "normal-foreign-entries" else 0)
    before = capture(top).nodes
    found = check(top, settings_for(tree, repair=True))
    assert all(f.repaired in (None, "kept: foreign entries remain") for f in found), found
    assert [(n.path, n.kind, n.data, n.target) for n in capture(top).nodes] == [(n.path, n.kind, n.data, n.target) for n in before]


def test_repair_removes_an_emptied_intermediate_directory_but_never_the_greatest(tmp_path):
    top = tmp_path / "q"
    (top / "6b0b2e10").mkdir(parents=True)
    (top / "6b0b2e10" / "6b0b2e4718c63e.tmp").write_text("half")
    (top / "6b0b2e11").mkdir()
    (top / "6b0b2e11" / "6b0b2e4718c64e.tmp").write_text("half")
    for path in top.rglob("*.tmp"):
        os.utime(path, (1, 1))
    found = check(top, Settings(repair=True))
    assert [(f.id, f.path, f.repaired) for f in found] == [
        ("SIMPLE-PURGE-2", "6b0b2e10/6b0b2e4718c63e.tmp", "unlinked"),
        ("SIMPLE-PURGE-5", "6b0b2e10", "removed"),
        ("SIMPLE-PURGE-2", "6b0b2e11/6b0b2e4718c64e.tmp", "unlinked"),
    ]
    assert sorted(p.name for p in top.iterdir()) == ["6b0b2e11"]


def test_symlinks_are_reported_never_followed(tmp_path):
    """Links to an outside directory full of stale temps and to an outside file: fsck --repair changes neither."""
    outside = tmp_path / "outside"
    (outside / "victim").mkdir(parents=True)
    (outside / "victim" / "6b0b2e4718c63e.tmp").write_text("not the queue's")
    (outside / "secret").write_text("not the queue's either")
    os.utime(outside / "victim" / "6b0b2e4718c63e.tmp", (1, 1))
    top = tmp_path / "q"
    (top / "6b0b2e10").mkdir(parents=True)
    (top / "6b0b2e11").symlink_to(outside / "victim")
    (top / "6b0b2e10" / "6b0b2e4718c631").symlink_to("../../outside/secret")
    (top / "6b0b2e10" / "6b0b2e4718c631.lck").symlink_to(outside / "secret")
    stamps = {p: os.stat(p).st_mtime_ns for p in (outside / "secret", outside / "victim" / "6b0b2e4718c63e.tmp")}
    result = fsck_cli(str(top), "--repair", "--json")
    found = {(f["id"], f["path"], f["repaired"]) for f in json.loads(result.stdout)["findings"]}
    assert found == {("SEC-2", "6b0b2e11", None), ("SEC-2", "6b0b2e10/6b0b2e4718c631", None), ("SEC-2", "6b0b2e10/6b0b2e4718c631.lck", None)}
    assert {p: os.stat(p).st_mtime_ns for p in stamps} == stamps
    assert (outside / "victim" / "6b0b2e4718c63e.tmp").read_text() == "not the queue's"


def test_top_may_be_a_symlink(tmp_path):
    """SEC-1: TOP itself is followed."""
    top = build(fixtures.find("perl-simple-granularity"), tmp_path / "q")
    (tmp_path / "link").symlink_to(top)
    result = fsck_cli(str(tmp_path / "link"))
    assert result.returncode == 0 and "6 elements" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["{missing}"], "no such directory"),
    (["{file}"], "not a directory"),
    (["{queue}", "--schema", "{not json"], "--schema is not valid JSON"),
    (["{queue}", "--schema", '{"body": "string?"}'], "at least one field must be mandatory"),
    (["{queue}", "--type", "simple", "--schema", NORMAL_SCHEMA], "--schema applies to Normal queues"),
    (["{queue}", "--schema", NORMAL_SCHEMA], "looks like a Simple queue"),
    (["{queue}", "--maxtemp", "-1"], "not a non-negative integer"),
    (["{queue}", "--umask", "0999"], "not an octal umask"),
])
def test_bad_input_exits_2_with_a_clear_message(tmp_path, args, message):
    queue = build(fixtures.find("c-simple-basic"), tmp_path / "q")
    (tmp_path / "file").write_text("x")
    places = {"{missing}": str(tmp_path / "nowhere"), "{file}": str(tmp_path / "file"), "{queue}": str(queue)}
    result = fsck_cli(*[places.get(a, a) for a in args])
    assert result.returncode == 2 and result.stdout == ""
    assert message in result.stderr and "Traceback" not in result.stderr


def test_unreadable_intermediate_directory_is_a_finding_not_a_crash(tmp_path, monkeypatch):
    """EACCES on one directory (faked: tests may run as root) is reported and the walk goes on."""
    top = build(fixtures.find("perl-simple-granularity"), tmp_path / "q")
    first = min(p.name for p in top.iterdir())
    real_open = os.open

    def refusing_open(path, flags, *args, **kwargs):
        if path == first:
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(fsck.os, "open", refusing_open)
    with fsck.Fsck(str(top), Settings()) as run:
        found = list(run.findings())
        assert (run.summary.elements, [(f.id, f.path) for f in found]) == (4, [("ITER-2", first)])


def test_type_is_detected_or_given(tmp_path):
    normal = build(fixtures.find("perl-normal-rollover"), tmp_path / "n")
    simple = build(fixtures.find("perl-simple-basic"), tmp_path / "s")
    assert "normal queue (detected)" in fsck_cli(str(normal)).stderr
    assert "simple queue (detected)" in fsck_cli(str(simple)).stderr
    forced = fsck_cli(str(simple), "--type", "normal")
    assert forced.returncode == 1 and "normal queue " in forced.stderr
    assert {line.split()[0] for line in lines(forced.stdout)} == {"NORMAL-LAYOUT-1", "ITER-4", "COMMON-2"}


def test_normal_element_without_field_files_is_reported_without_schema(tmp_path):
    top = tmp_path / "q"
    for name in ("temporary", "obsolete", "00000000/6b0b2e522e24d1"):
        (top / name).mkdir(parents=True)
    assert pairs(check(top, Settings())) == {("SCHEMA-3", "00000000/6b0b2e522e24d1")}


def test_progress_line_on_request(tmp_path):
    top = build(fixtures.find("python-simple-granularity"), tmp_path / "q")
    result = fsck_cli(str(top), "--progress")
    assert result.returncode == 0 and "fsck: 4/4 directories, 6 entries, 0 findings" in result.stderr
    assert "fsck: 1/4 directories" in result.stderr, "the first directory shows at once"
    assert "directories," not in fsck_cli(str(top)).stderr, "no progress line when stderr is not a terminal"


def test_umask_check_covers_every_created_entry(tmp_path):
    """COMMON-3: a queue made by dirqref with umask 027 is clean for --umask 027 and wrong for 022."""
    top = tmp_path / "q"
    queue = QueueSimple(str(top), umask=0o027)
    name = queue.add(b"x")
    queue.lock(name)
    assert fsck_cli(str(top), "--umask", "027").returncode == 0
    result = fsck_cli(str(top), "--umask", "0o022")
    assert {line.split(":")[0] for line in lines(result.stdout)} == {f"COMMON-3 {name.split('/')[0]}", f"COMMON-3 {name}"}


def test_world_writable_top(tmp_path):
    top = build(fixtures.find("c-simple-granularity"), tmp_path / "q")
    top.chmod(0o777)
    assert pairs(check(top, Settings())) == {("SEC-4", ".")}
