"""QueueNormal and schemas: one test (or more) per requirement ID of the catalog."""

from __future__ import annotations

import errno
import os
import stat
import time
from pathlib import Path

import pytest
from dirqref_testutil import (
    BAD_IDS,
    ID_RE,
    backdate,
    forbid_fs,
    mtime_age,
    process_umask,
    snapshot,
)

import dirqref.normal
from dirqref import QueueNormal
from dirqref.errors import (
    InvalidData,
    InvalidName,
    InvalidOption,
    InvalidSchema,
    Locked,
    NotFound,
    NotLocked,
    QueueIOError,
)

SCHEMA = {"body": "string", "header": "table?", "data": "binary?"}
RECORD = {"body": "héllo\n", "header": {"k\t1": "v\\n", "": ""}, "data": bytes(range(256))}


@pytest.fixture
def n(tmp_path: Path) -> QueueNormal:
    return QueueNormal(tmp_path / "q", SCHEMA)


def element_dir(queue: QueueNormal, name: str) -> Path:
    return Path(queue.path) / name


def volatile_entries(queue: QueueNormal) -> list[str]:
    return os.listdir(Path(queue.path) / "temporary") + os.listdir(Path(queue.path) / "obsolete")


# -- layout ---------------------------------------------------------------------------


def test_NORMAL_LAYOUT_1_NORMAL_LAYOUT_2_tree_layout(n):
    top = Path(n.path)
    assert sorted(os.listdir(top)) == ["obsolete", "temporary"]
    name = n.add({"body": "b", "data": b"d"})
    assert ID_RE.fullmatch(name)
    assert sorted(os.listdir(element_dir(n, name))) == ["body", "data"]  # absent optional: no file
    n.lock(name)
    assert sorted(os.listdir(element_dir(n, name))) == ["body", "data", "locked"]
    assert (element_dir(n, name) / "locked").is_dir()


def test_NORMAL_LAYOUT_2_existing_temporary_and_obsolete_are_fine(n):
    again = QueueNormal(n.path, SCHEMA)
    assert again.id == n.id


# -- SCHEMA -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schema, reason",
    [
        ({"locked": "string"}, "locked"),
        ({"a-b": "string"}, "a-b"),
        ({"": "string"}, "field name"),
        ({"é": "string"}, "field name"),
        ({1: "string"}, "field name"),
        ({"body": "int"}, "unknown type"),
        ({"body": "String"}, "unknown type"),
        ({"body": "?string"}, "unknown type"),
        ({"body": "string ?"}, "unknown type"),
        ({"body": "string??"}, "repeated flag"),
        ({"body": "table*"}, "table*"),
        ({"body": 3}, "must be a string"),
        ({}, "mandatory"),
        ({"a": "string?", "b": "binary?*"}, "mandatory"),
        (["body", "string"], "mapping"),
        ("body: string", "mapping"),
    ],
)
def test_SCHEMA_1_to_5_invalid_schema_is_rejected_with_the_reason(tmp_path, schema, reason):
    with pytest.raises(InvalidSchema, match="invalid schema") as info:
        QueueNormal(tmp_path / "q", schema)
    assert reason in str(info.value)
    assert info.value.kind == "invalid_schema"
    assert not (tmp_path / "q").exists()


@pytest.mark.parametrize("spec", ["string", "binary", "table", "string?", "string*", "binary?*", "string*?", "table?"])
def test_SCHEMA_2_valid_types_and_flags(tmp_path, spec):
    queue = QueueNormal(tmp_path / "q", {"f": spec, "m": "binary"})
    field = next(f for f in queue.schema.fields if f.name == "f")
    assert field.type == spec.rstrip("?*") and field.optional == ("?" in spec)


def test_SCHEMA_1_temporary_and_obsolete_are_valid_field_names(tmp_path):
    queue = QueueNormal(tmp_path / "q", {"temporary": "string", "obsolete": "binary?"})
    name = queue.add({"temporary": "t", "obsolete": b"o"})
    queue.lock(name)
    assert queue.get(name) == {"temporary": "t", "obsolete": b"o"}


def test_SCHEMA_6_schemaless_queue_cannot_add_or_get_but_does_the_rest(tmp_path, n):
    name = n.add({"body": "x"})
    bare = QueueNormal(n.path)
    with pytest.raises(InvalidSchema):
        bare.add({"body": "x"})
    assert list(bare) == [name] and bare.count() == 1
    assert bare.lock(name)
    with pytest.raises(InvalidSchema):
        bare.get(name)
    bare.touch(name)
    bare.purge()
    bare.remove(name)
    assert bare.count() == 0


# -- fields and add -------------------------------------------------------------------------


def test_NORMAL_FIELD_1_NORMAL_FIELD_2_TABLE_1_file_contents(n):
    name = n.add(RECORD)
    directory = element_dir(n, name)
    assert (directory / "data").read_bytes() == bytes(range(256))
    assert (directory / "body").read_bytes() == "héllo\n".encode()
    assert (directory / "header").read_bytes() == b"\t\n" + b"k\\t1\tv\\\\n\n"
    n.lock(name)
    assert n.get(name) == RECORD


def test_NORMAL_FIELD_2_unencodable_text_is_invalid_data_and_nothing_is_created(n):
    before = snapshot(Path(n.path))
    with forbid_fs(), pytest.raises(InvalidData, match="body"):
        n.add({"body": "lone \ud800 surrogate"})
    with forbid_fs(), pytest.raises(InvalidData, match="header"):
        n.add({"body": "ok", "header": {"k": "\udfff"}})
    assert snapshot(Path(n.path)) == before


def test_NORMAL_FIELD_3_SEC_3_undecodable_string_file_is_invalid_data(n):
    name = n.add({"body": "x"})
    (element_dir(n, name) / "body").write_bytes(b"\xff\xfe bad")
    n.lock(name)
    with pytest.raises(InvalidData, match="UTF-8"):
        n.get(name)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"header": {}},
        {"body": "x", "extra": "y"},
        {"body": b"bytes for string"},
        {"body": None},
        {"body": "x", "data": "text for binary"},
        {"body": "x", "header": {"k": 1}},
        {"body": "x", "header": {1: "v"}},
        {"body": "x", "header": [("k", "v")]},
        {"body": "x", "header": {"k": b"v"}},
        [("body", "x")],
        "body",
    ],
)
def test_NORMAL_ADD_1_TABLE_4_bad_data_is_rejected_before_any_fs_change(n, data):
    before = snapshot(Path(n.path))
    with forbid_fs(), pytest.raises(InvalidData):
        n.add(data)
    assert snapshot(Path(n.path)) == before


def test_NORMAL_ADD_2_to_5_built_in_temporary_then_renamed_never_created_in_place(n, monkeypatch):
    renames, mkdirs = [], []
    real_rename, real_mkdir = os.rename, os.mkdir

    def spy_rename(src, dst, *args, **kwargs):
        renames.append((src, dst, sorted(os.listdir(src))))
        return real_rename(src, dst, *args, **kwargs)

    def spy_mkdir(path, *args, **kwargs):
        mkdirs.append(os.path.relpath(path, n.path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "rename", spy_rename)
    monkeypatch.setattr(os, "mkdir", spy_mkdir)
    name = n.add({"body": "b", "header": {}})
    [(src, dst, files)] = renames
    assert os.path.dirname(src) == os.path.join(n.path, "temporary")
    assert dst == os.path.join(n.path, name) and files == ["body", "header"]
    assert not any(m.startswith("0000") and "/" in m for m in mkdirs)  # NORMAL-ADD-5
    assert volatile_entries(n) == []


def test_NORMAL_ADD_4_NAME_6_rename_collision_takes_a_new_name(n):
    first = n.add({"body": "first"})
    taken = first.split("/")[1]
    names = iter(["11111111111110", taken, "22222222222220"])
    n._new_name = lambda: next(names)
    second = n.add({"body": "second"})
    assert second == "00000000/22222222222220"
    n.lock(first)
    assert n.get(first) == {"body": "first"}


def test_NORMAL_ADD_4_purged_insertion_dir_is_recomputed(n, monkeypatch):
    real_rename = os.rename
    calls = []

    def purge_first(src, dst, *args, **kwargs):
        if not calls:
            os.rmdir(os.path.dirname(dst))  # a purger removed the (empty) insertion dir
        calls.append(dst)
        return real_rename(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "rename", purge_first)
    name = n.add({"body": "x"})
    assert len(calls) == 2 and element_dir(n, name).is_dir()


def test_NORMAL_ADD_4_new_insertion_dir_purged_right_after_mkdir(tmp_path, monkeypatch):
    """RACE: another producer made a greater directory, so a purger removed our new, empty one."""
    queue = QueueNormal(tmp_path / "q", SCHEMA, maxelts=1)
    queue.add({"body": "first"})  # 00000000 is full: the next add makes 00000001
    real_ensure = queue._ensure_dir
    made = []

    def purged_at_once(path):
        real_ensure(path)
        if not made:
            made.append(path)
            os.rmdir(path)

    monkeypatch.setattr(queue, "_ensure_dir", purged_at_once)
    name = queue.add({"body": "second"})
    assert made and name.startswith("00000001/") and element_dir(queue, name).is_dir()


def test_NORMAL_ADD_6_failed_add_removes_its_temporary_dir(n, monkeypatch):
    real_write = dirqref.normal.write_file

    def fail_on_data(path, content, modes):
        if path.endswith("/data"):
            raise OSError(errno.EDQUOT, "Disk quota exceeded")
        return real_write(path, content, modes)

    monkeypatch.setattr(dirqref.normal, "write_file", fail_on_data)
    with pytest.raises(QueueIOError, match="quota"):
        n.add({"body": "x", "data": b"y"})
    assert volatile_entries(n) == [] and n.count() == 0


# -- insertion directory ------------------------------------------------------------------


def fill(queue: QueueNormal, count: int) -> list[str]:
    return [queue.add({"body": str(i)}) for i in range(count)]


def test_NORMAL_DIR_1_rollover_at_maxelts(tmp_path):
    queue = QueueNormal(tmp_path / "q", SCHEMA, maxelts=3)
    names = fill(queue, 7)
    assert [name.split("/")[0] for name in names] == ["00000000"] * 3 + ["00000001"] * 3 + ["00000002"]
    assert list(queue) == names


def test_NORMAL_DIR_2_fullness_counts_every_readdir_entry(tmp_path):
    queue = QueueNormal(tmp_path / "q", SCHEMA, maxelts=3)
    fill(queue, 1)
    (tmp_path / "q" / "00000000" / "foreign").write_bytes(b"")
    names = fill(queue, 2)
    assert [name.split("/")[0] for name in names] == ["00000000", "00000001"]
    assert queue.count() == 3  # count does not see the foreign file


def test_NORMAL_DIR_2_nlink_only_when_configured(tmp_path):
    queue = QueueNormal(tmp_path / "q", SCHEMA, maxelts=3, nlink=True)
    fill(queue, 1)
    (tmp_path / "q" / "00000000" / "foreign").write_bytes(b"")  # invisible to nlink-2
    names = fill(queue, 3)
    assert [name.split("/")[0] for name in names] == ["00000000", "00000000", "00000001"]


@pytest.mark.parametrize("bad", [0, -1, 1.5, "10", True])
def test_NORMAL_DIR_3_maxelts_must_be_a_positive_integer(tmp_path, bad):
    with pytest.raises(InvalidOption, match="maxelts"):
        QueueNormal(tmp_path / "q", SCHEMA, maxelts=bad)


def test_NORMAL_DIR_4_empty_greatest_dir_is_reused(n):
    (Path(n.path) / "00000005").mkdir()
    assert n.add({"body": "x"}).startswith("00000005/")


def test_NORMAL_DIR_1_fullness_follows_changes_made_by_other_producers_and_consumers(tmp_path):
    ours = QueueNormal(tmp_path / "q", SCHEMA, maxelts=4)
    other = QueueNormal(tmp_path / "q", SCHEMA, maxelts=4)
    names = fill(ours, 3)
    time.sleep(0.02)  # past a coarse timestamp tick, on kernels without fine-grained mtimes
    other.lock(names[0])
    other.remove(names[0])
    time.sleep(0.02)
    assert [name.split("/")[0] for name in fill(ours, 2)] == ["00000000", "00000000"]  # 2 + 2 = 4
    time.sleep(0.02)
    other.lock(names[1])
    other.remove(names[1])
    fill(other, 1)
    time.sleep(0.02)
    assert [name.split("/")[0] for name in fill(ours, 1)] == ["00000001"]
    assert len(os.listdir(tmp_path / "q" / "00000000")) == 4


# -- lock / unlock / touch ---------------------------------------------------------------------


def test_NORMAL_LOCK_1_NORMAL_LOCK_3_lock_is_mkdir_and_stamps_element_mtime(n):
    name = n.add({"body": "x"})
    backdate(element_dir(n, name), 10_000)
    assert n.lock(name) is True
    assert (element_dir(n, name) / "locked").is_dir()
    assert abs(mtime_age(element_dir(n, name))) < 5
    assert n.lock(name) is False  # permissive by default
    with pytest.raises(Locked):
        n.lock(name, permissive=False)


def test_NORMAL_LOCK_1_missing_element(n):
    missing = "00000000/0123456789abcd"
    assert n.lock(missing) is False
    with pytest.raises(NotFound):
        n.lock(missing, permissive=False)


def test_NORMAL_LOCK_2_element_removed_right_after_mkdir(n, monkeypatch):
    name = n.add({"body": "x"})
    real_lstat = os.lstat

    def removed(path, *args, **kwargs):
        if path == str(element_dir(n, name)):
            raise FileNotFoundError(errno.ENOENT, "gone", path)
        return real_lstat(path, *args, **kwargs)

    monkeypatch.setattr(os, "lstat", removed)
    assert n.lock(name) is False
    os.rmdir(element_dir(n, name) / "locked")  # the faked remover would have taken it along
    with pytest.raises(NotFound):
        n.lock(name, permissive=False)


def test_NORMAL_UNLOCK_1_unlock_is_rmdir_strict_by_default(n):
    name = n.add({"body": "x"})
    with pytest.raises(NotLocked):
        n.unlock(name)
    assert n.unlock(name, permissive=True) is False
    n.lock(name)
    assert n.unlock(name) is True
    assert not (element_dir(n, name) / "locked").exists()


def test_NORMAL_TOUCH_1_touch_sets_mtime_missing_is_not_found(n):
    name = n.add({"body": "x"})
    backdate(element_dir(n, name), 10_000)
    n.touch(name)
    assert abs(mtime_age(element_dir(n, name))) < 5
    with pytest.raises(NotFound):
        n.touch("00000000/0123456789abcd")


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize("operation", ["lock", "unlock", "touch", "get", "get_path", "remove"])
def test_NAME_10_invalid_id_is_rejected_before_any_filesystem_activity(n, operation, bad):
    with forbid_fs(), pytest.raises(InvalidName):
        getattr(n, operation)(bad)


# -- get / remove ------------------------------------------------------------------------------


def test_NORMAL_GET_1_get_needs_a_locked_directory(n):
    name = n.add({"body": "x"})
    with pytest.raises(NotLocked):
        n.get(name)
    (element_dir(n, name) / "locked").write_bytes(b"")  # a file is not a lock
    with pytest.raises(NotLocked):
        n.get(name)


def test_NORMAL_GET_2_fields_per_schema(n):
    name = n.add({"body": "b", "header": {"a": "1"}})
    directory = element_dir(n, name)
    (directory / "unknown").write_bytes(b"ignored")
    n.lock(name)
    assert n.get(name) == {"body": "b", "header": {"a": "1"}}  # optional data absent, unknown ignored
    (directory / "body").unlink()
    with pytest.raises(InvalidData, match="mandatory"):
        n.get(name)


def test_NORMAL_GET_2_SEC_1_symlinked_or_special_field_is_refused(n, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("secret")
    name = n.add({"body": "b"})
    directory = element_dir(n, name)
    (directory / "body").unlink()
    (directory / "body").symlink_to(secret)
    n.lock(name)
    with pytest.raises(InvalidData, match="symbolic link"):
        n.get(name)
    (directory / "body").unlink()
    os.mkfifo(directory / "body")
    with pytest.raises(InvalidData, match="regular file"):
        n.get(name)


def test_NORMAL_GET_3_get_path_is_the_element_dir(n):
    name = n.add({"body": "x"})
    assert n.get_path(name) == os.path.join(n.path, name)


def test_NORMAL_REMOVE_1_unlocked_element_is_not_locked_and_untouched(n):
    name = n.add({"body": "x"})
    before = snapshot(Path(n.path))
    with pytest.raises(NotLocked):
        n.remove(name)
    assert snapshot(Path(n.path)) == before


def test_NORMAL_REMOVE_2_removes_via_obsolete(n, monkeypatch):
    name = n.add(RECORD)
    n.lock(name)
    renames = []
    real_rename = os.rename

    def spy(src, dst, *args, **kwargs):
        renames.append(os.path.relpath(dst, n.path))
        return real_rename(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "rename", spy)
    n.remove(name)
    assert len(renames) == 1 and renames[0].startswith("obsolete/")
    assert not element_dir(n, name).exists()
    assert volatile_entries(n) == [] and n.count() == 0


def test_NORMAL_REMOVE_3_COMMON_2_foreign_entry_is_an_error_and_is_kept(n):
    name = n.add({"body": "x"})
    (element_dir(n, name) / "not.a.field").write_bytes(b"foreign")
    n.lock(name)
    with pytest.raises(QueueIOError, match="unexpected"):
        n.remove(name)
    [moved] = os.listdir(Path(n.path) / "obsolete")
    assert sorted(os.listdir(Path(n.path) / "obsolete" / moved)) == ["body", "locked", "not.a.field"]


def test_NORMAL_REMOVE_4_CONC_6_lock_taken_again_before_the_last_rmdir(n, monkeypatch):
    """RACE: a consumer that found the element before the rename makes locked/ again in obsolete/N."""
    name = n.add({"body": "x"})
    n.lock(name)
    real_rmdir = os.rmdir
    relocks = []

    def racing_rmdir(path, *args, **kwargs):
        if os.path.basename(os.path.dirname(path)) == "obsolete" and not relocks:
            relocks.append(path)
            os.mkdir(os.path.join(path, "locked"))  # the racing lock lands just before the last rmdir
        return real_rmdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "rmdir", racing_rmdir)
    n.remove(name)
    assert relocks and not os.path.exists(relocks[0])
    assert volatile_entries(n) == [] and n.count() == 0


# -- count / iteration ------------------------------------------------------------------------


def test_NORMAL_COUNT_1_DIR_2_ITER_4_only_element_dirs_count(n, tmp_path):
    names = fill(n, 3)
    n.lock(names[0])
    top = Path(n.path)
    (top / "temporary" / "0123456789abcd").mkdir()
    (top / "obsolete" / "0123456789abcd").mkdir()
    (top / "00000000" / "0123456789abce").write_bytes(b"")  # wrong type
    (top / "00000000" / "0123456789abcf").symlink_to(tmp_path)  # symlink
    (top / "00000000" / "README").write_bytes(b"")
    assert n.count() == 3 and list(n) == names


# -- purge -----------------------------------------------------------------------------------


def test_NORMAL_PURGE_1_NORMAL_PURGE_4_stale_lock_is_released_with_defaults(n):
    young, old = fill(n, 2)
    n.lock(young)
    n.lock(old)
    backdate(element_dir(n, young), 500)
    backdate(element_dir(n, old), 700)
    n.purge()
    assert (element_dir(n, young) / "locked").is_dir()
    assert not (element_dir(n, old) / "locked").exists()
    assert n.lock(old) and n.get(old) == {"body": "1"}


def test_NORMAL_PURGE_1_per_call_values_and_zero_disables(n):
    name = n.add({"body": "x"})
    n.lock(name)
    backdate(element_dir(n, name), 100)
    n.purge(maxlock=0)
    assert (element_dir(n, name) / "locked").is_dir()
    n.purge(maxlock=50)
    assert not (element_dir(n, name) / "locked").exists()


def test_NORMAL_PURGE_2_empty_intermediate_dirs_except_greatest(tmp_path):
    queue = QueueNormal(tmp_path / "q", SCHEMA, maxelts=1)
    names = fill(queue, 3)
    for name in names[:2]:
        queue.lock(name)
        queue.remove(name)
    (tmp_path / "q" / "00000007").mkdir()
    (tmp_path / "q" / "00000000" / "foreign").write_bytes(b"")
    queue.purge()
    assert sorted(os.listdir(tmp_path / "q")) == ["00000000", "00000002", "00000007", "obsolete", "temporary"]


def test_NORMAL_PURGE_3_stale_temporary_and_obsolete_are_destroyed_young_kept(n):
    top = Path(n.path)
    for volatile in ("temporary", "obsolete"):
        for element, age in (("00000000000001", 1000), ("00000000000002", 10)):
            path = top / volatile / element
            path.mkdir()
            (path / "body").write_bytes(b"x")
            if volatile == "obsolete":
                (path / "locked").mkdir()
            backdate(path, age)
    n.purge()
    assert os.listdir(top / "temporary") == ["00000000000002"]
    assert os.listdir(top / "obsolete") == ["00000000000002"]
    assert os.listdir(top / "obsolete" / "00000000000002") != []


def test_NORMAL_PURGE_3_COMMON_2_foreign_entries_in_volatile_dirs_are_kept(n):
    top = Path(n.path)
    stale = top / "temporary" / "00000000000001"
    stale.mkdir()
    (stale / "body").write_bytes(b"x")
    (stale / "foreign.file").write_bytes(b"keep")
    backdate(stale, 1000)
    (top / "temporary" / "not-an-element").mkdir()
    backdate(top / "temporary" / "not-an-element", 1000)
    n.purge()
    assert os.listdir(stale) == ["foreign.file"]
    assert (top / "temporary" / "not-an-element").is_dir()


def test_NORMAL_PURGE_5_no_element_is_removed(n):
    names = fill(n, 3)
    for name in names:
        backdate(element_dir(n, name), 100_000)
    n.purge(maxtemp=1, maxlock=1)
    assert list(n) == names


# -- modes -----------------------------------------------------------------------------------


def test_COMMON_3_umask_option_exact_modes_for_every_created_entry(tmp_path):
    with process_umask(0o077):
        queue = QueueNormal(tmp_path / "q", SCHEMA, umask=0o022)
        name = queue.add({"body": "x"})
        queue.lock(name)
    for path in (tmp_path / "q", tmp_path / "q" / "temporary", tmp_path / "q" / "00000000",
                 element_dir(queue, name), element_dir(queue, name) / "locked"):
        assert stat.S_IMODE(os.lstat(path).st_mode) == 0o755, path
    assert stat.S_IMODE(os.lstat(element_dir(queue, name) / "body").st_mode) == 0o644


def test_NORMAL_DIR_1_a_full_verdict_is_always_recounted(tmp_path):
    queue = QueueNormal(tmp_path / "q", SCHEMA, maxelts=3)
    names = fill(queue, 2)
    top = tmp_path / "q" / "00000000"
    info = os.lstat(top)
    # Pretend the remembered count missed a change and says "full" with an unchanged directory.
    queue._fill = ("00000000", info.st_ino, info.st_mtime_ns, info.st_size, 3)
    assert queue.add({"body": "x"}).startswith("00000000/")
    assert len(os.listdir(top)) == 3 and len(names) == 2


def test_SEC_2_normal_symlinked_intermediate_dir_is_not_descended(n, tmp_path):
    outside = tmp_path / "outside"
    element = outside / "00000000000001"
    (element / "locked").mkdir(parents=True)
    (element / "body").write_bytes(b"x")
    backdate(element, 100_000)
    (Path(n.path) / "00000000").symlink_to(outside)
    assert list(n) == [] and n.count() == 0
    n.purge(maxtemp=1, maxlock=1)
    assert (element / "locked").is_dir()


def test_SEC_2_normal_add_never_writes_through_a_planted_symlink(tmp_path):
    queue = QueueNormal(tmp_path / "q", SCHEMA, maxelts=1)
    fill(queue, 1)
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "q" / "00000001").symlink_to(outside)
    with pytest.raises(QueueIOError, match="not a directory"):
        queue.add({"body": "x"})
    assert os.listdir(outside) == []
