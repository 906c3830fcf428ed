"""QueueSimple: one test (or more) per requirement ID of the catalog."""

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

import dirqref.simple
from dirqref import QueueSimple
from dirqref.errors import (
    DirqError,
    InvalidData,
    InvalidName,
    InvalidOption,
    Locked,
    NotFound,
    NotLocked,
    QueueIOError,
)


@pytest.fixture
def q(tmp_path: Path) -> QueueSimple:
    return QueueSimple(tmp_path / "q", rndhex=7)


def element_file(queue: QueueSimple, name: str) -> Path:
    return Path(queue.path) / name


def names_in(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


# -- NAME ---------------------------------------------------------------------


def test_NAME_1_NAME_2_NAME_3_NAME_4_name_shape_and_fields(q):
    before = time.time()
    name = q.add(b"x")
    after = time.time()
    assert ID_RE.fullmatch(name)
    element = name.split("/")[1]
    seconds, micros, rnd = int(element[:8], 16), int(element[8:13], 16), element[13]
    assert int(before) <= seconds <= int(after)
    assert 0 <= micros <= 999_999
    assert before - 1e-3 <= seconds + micros / 1e6 <= after + 1e-3
    assert rnd == "7"


def test_NAME_4_default_rndhex_is_fixed_per_queue_object(tmp_path):
    queue = QueueSimple(tmp_path / "q")
    assert 0 <= queue.rndhex <= 15
    digits = {queue.add(b"").split("/")[1][-1] for _ in range(5)}
    assert digits == {"%x" % queue.rndhex}


@pytest.mark.parametrize("bad", [16, -1, 1.0, "1", True, 0x10 + 1])
def test_NAME_5_rndhex_out_of_range_is_invalid_option_and_creates_nothing(tmp_path, bad):
    with pytest.raises(InvalidOption, match="rndhex"):
        QueueSimple(tmp_path / "q", rndhex=bad)
    assert not (tmp_path / "q").exists()


def test_NAME_6_SIMPLE_ADD_4_collision_on_link_takes_a_new_name_and_keeps_the_existing(q):
    first = q.add(b"original")
    directory, taken = first.split("/")
    names = iter(["11111111111117", taken, "22222222222227"])
    q._new_name = lambda: next(names)  # temp name, then a colliding element name, then a free one
    second = q.add(b"new")
    assert second == f"{directory}/22222222222227"
    assert element_file(q, first).read_bytes() == b"original"
    assert element_file(q, second).read_bytes() == b"new"
    assert names_in(Path(q.path) / directory) == sorted([taken, "22222222222227"])


def test_NAME_6_SIMPLE_ADD_1_collision_on_temp_takes_a_new_name(q):
    name = q.add(b"a")
    directory = Path(q.path) / name.split("/")[0]
    (directory / "11111111111117.tmp").write_bytes(b"someone else's temp")
    names = iter(["11111111111117", "22222222222227", "33333333333337"])
    q._new_name = lambda: next(names)
    assert q.add(b"b").endswith("/33333333333337")
    assert (directory / "11111111111117.tmp").read_bytes() == b"someone else's temp"
    assert not (directory / "22222222222227.tmp").exists()


def test_NAME_7_names_strictly_increase_when_the_clock_stalls_or_goes_back(q, monkeypatch):
    readings = iter([5_000_000_000_000_000, 5_000_000_000_000_000, 4_000_000_000_000_000, 5_000_000_000_000_000])
    monkeypatch.setattr(dirqref.names.time, "time_ns", lambda: next(readings))
    names = [q._new_name() for _ in range(4)]
    assert names == sorted(names) and len(set(names)) == 4
    micros = [int(n[:8], 16) * 1_000_000 + int(n[8:13], 16) for n in names]
    assert micros == [5_000_000_000_000, 5_000_000_000_001, 5_000_000_000_002, 5_000_000_000_003]


def test_NAME_8_ITER_3_only_exact_element_names_are_elements(q):
    name = q.add(b"x")
    directory = Path(q.path) / name.split("/")[0]
    for foreign in ["0123456789ABCD", "0123456789abc", "0123456789abcde", "foo.bar", "0123456789abcd.tmp",
                    "0123456789abcd.lck", ".0123456789abcd"]:
        (directory / foreign).write_bytes(b"foreign")
    assert list(q) == [name]
    assert q.count() == 1


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize("operation", ["lock", "unlock", "touch", "get", "get_path", "remove"])
def test_NAME_10_invalid_id_is_rejected_before_any_filesystem_activity(q, operation, bad):
    with forbid_fs(), pytest.raises(InvalidName):
        getattr(q, operation)(bad)


def test_NAME_10_traversal_id_touches_nothing_outside(tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    queue = QueueSimple(tmp_path / "a" / "b")
    for operation in ("lock", "touch", "remove", "get"):
        with pytest.raises(InvalidName):
            getattr(queue, operation)("../../victim")
    assert victim.read_bytes() == b"keep"
    assert sorted(os.listdir(tmp_path)) == ["a", "victim"]


# -- DIR / SIMPLE-DIR -----------------------------------------------------------


@pytest.mark.parametrize("granularity", [0, 1, 60, 3600])
def test_SIMPLE_DIR_1_DIR_1_intermediate_dir_is_rounded_time(tmp_path, granularity):
    queue = QueueSimple(tmp_path / "q", granularity=granularity)
    before = int(time.time())
    directory = queue.add(b"x").split("/")[0]
    after = int(time.time())
    assert len(directory) == 8 and directory == directory.lower()
    candidates = {"%08x" % (t - (t % granularity if granularity else 0)) for t in range(before, after + 1)}
    assert directory in candidates


@pytest.mark.parametrize("bad", [-1, 1.5, "60", None, False])
def test_SIMPLE_DIR_2_granularity_must_be_a_non_negative_integer(tmp_path, bad):
    with pytest.raises(InvalidOption, match="granularity"):
        QueueSimple(tmp_path / "q", granularity=bad)


def test_SIMPLE_DIR_3_temp_and_element_share_the_directory_computed_once(q, monkeypatch):
    seen = []
    real_link = os.link

    def spy(src, dst, *args, **kwargs):
        seen.append((os.path.dirname(src), os.path.dirname(dst)))
        return real_link(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "link", spy)
    q.add(b"x")
    assert len(seen) == 1 and seen[0][0] == seen[0][1]


def test_DIR_3_SIMPLE_ADD_2_missing_or_purged_directory_is_recreated(q):
    name = q.add(b"x")
    directory = Path(q.path) / name.split("/")[0]
    q.lock(name)
    q.remove(name)
    directory.rmdir()  # as a purger would
    again = q.add(b"y")
    assert element_file(q, again).read_bytes() == b"y"


# -- SIMPLE-LAYOUT / SIMPLE-ADD -----------------------------------------------


@pytest.mark.parametrize(
    "data", [b"", b"\0", b"\n", bytes(range(256)), b"x" * 200_000, bytearray(b"ba"), memoryview(b"mv")]
)
def test_SIMPLE_LAYOUT_1_element_is_a_regular_file_holding_exactly_the_bytes(q, data):
    name = q.add(data)
    path = element_file(q, name)
    assert stat.S_ISREG(os.lstat(path).st_mode)
    assert path.read_bytes() == bytes(data)


def test_SIMPLE_LAYOUT_2_SIMPLE_ADD_5_no_temp_left_after_add(q):
    names = [q.add(b"%d" % i) for i in range(5)]
    directory = Path(q.path) / names[0].split("/")[0]
    assert names_in(directory) == sorted(n.split("/")[1] for n in names)


@pytest.mark.parametrize("data", ["text", 3, None, [b"x"]])
def test_SIMPLE_ADD_non_bytes_data_is_invalid_data(q, data):
    with pytest.raises(InvalidData):
        q.add(data)
    assert os.listdir(q.path) == []


def test_SIMPLE_ADD_3_write_error_removes_temp_and_reports_io(q, monkeypatch):
    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(dirqref.simple, "write_all", full)
    with pytest.raises(QueueIOError) as info:
        q.add(b"x")
    assert info.value.kind == "io" and "No space left" in str(info.value)
    for directory in os.listdir(q.path):
        assert os.listdir(os.path.join(q.path, directory)) == []


def test_SIMPLE_ADD_6_CONC_1_element_name_never_refers_to_incomplete_data(q, monkeypatch):
    seen = []
    real_link = os.link

    def spy(src, dst, *args, **kwargs):
        seen.append(Path(src).read_bytes())  # content complete before publication
        return real_link(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "link", spy)
    q.add(b"complete data")
    assert seen == [b"complete data"]


def test_COMMON_3_umask_option_gives_exact_modes_regardless_of_process_umask(tmp_path):
    with process_umask(0o077):
        queue = QueueSimple(tmp_path / "a" / "q", umask=0o002)
        name = queue.add(b"x")
    assert stat.S_IMODE(os.stat(element_file(queue, name)).st_mode) == 0o664
    assert stat.S_IMODE(os.stat(Path(queue.path) / name.split("/")[0]).st_mode) == 0o775
    assert stat.S_IMODE(os.stat(queue.path).st_mode) == 0o775
    assert stat.S_IMODE(os.stat(tmp_path / "a").st_mode) == 0o775
    assert os.umask(0o022) == 0o022  # the process umask was restored and never changed by dirqref


@pytest.mark.parametrize("bad", [-1, 0o1000, "022", 1.0, True])
def test_COMMON_3_umask_must_be_0_to_0777(tmp_path, bad):
    with pytest.raises(InvalidOption, match="umask"):
        QueueSimple(tmp_path / "q", umask=bad)


def test_COMMON_4_without_umask_option_the_process_umask_applies(tmp_path):
    with process_umask(0o027):
        queue = QueueSimple(tmp_path / "q")
        name = queue.add(b"x")
    assert stat.S_IMODE(os.stat(element_file(queue, name)).st_mode) == 0o640
    assert stat.S_IMODE(os.stat(Path(queue.path) / name.split("/")[0]).st_mode) == 0o750


# -- SIMPLE-ADDPATH -------------------------------------------------------------


def test_SIMPLE_ADDPATH_1_SIMPLE_ADDPATH_2_file_is_moved_with_inode_and_mode(q, tmp_path):
    source = tmp_path / "payload"
    source.write_bytes(b"from a file")
    source.chmod(0o600)
    inode = source.stat().st_ino
    name = q.add_path(str(source))
    assert ID_RE.fullmatch(name)
    assert not source.exists()
    element = element_file(q, name)
    assert element.read_bytes() == b"from a file"
    assert element.stat().st_ino == inode and stat.S_IMODE(element.stat().st_mode) == 0o600
    assert list(q) == [name]


def test_SIMPLE_ADDPATH_1_symlink_directory_and_missing_file_are_refused_untouched(q, tmp_path):
    target = tmp_path / "target"
    target.write_bytes(b"t")
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(InvalidData, match="not a regular file"):
        q.add_path(str(link))
    with pytest.raises(InvalidData, match="not a regular file"):
        q.add_path(str(tmp_path))
    with pytest.raises(NotFound):
        q.add_path(str(tmp_path / "missing"))
    assert link.is_symlink() and target.read_bytes() == b"t"
    assert q.count() == 0


# -- SIMPLE-LOCK / UNLOCK / TOUCH -----------------------------------------------


def test_SIMPLE_LOCK_1_lock_is_a_hard_link(q):
    name = q.add(b"x")
    assert q.lock(name) is True
    element, locked = element_file(q, name), Path(q.path) / (name + ".lck")
    assert os.lstat(locked).st_ino == os.lstat(element).st_ino
    assert os.lstat(element).st_nlink == 2


def test_SIMPLE_LOCK_2_locked_element_permissive_true_returns_false(q):
    name = q.add(b"x")
    assert q.lock(name)
    assert q.lock(name, permissive=True) is False


def test_SIMPLE_LOCK_2_locked_element_permissive_false_raises_locked(q):
    name = q.add(b"x")
    q.lock(name)
    with pytest.raises(Locked) as info:
        q.lock(name, permissive=False)
    assert info.value.kind == "locked"


def test_SIMPLE_LOCK_2_missing_element(q):
    missing = "00000000/0123456789abcd"
    assert q.lock(missing) is False
    with pytest.raises(NotFound) as info:
        q.lock(missing, permissive=False)
    assert info.value.kind == "not_found"
    assert os.listdir(q.path) == []


def test_SIMPLE_LOCK_3_COMMON_6_lock_sets_the_element_mtime_to_now(q):
    name = q.add(b"x")
    backdate(element_file(q, name), 10_000)
    q.lock(name)
    assert abs(mtime_age(element_file(q, name))) < 5
    assert abs(mtime_age(Path(q.path) / (name + ".lck"))) < 5


def test_SIMPLE_LOCK_3_element_removed_between_link_and_utime(q, monkeypatch):
    name = q.add(b"x")

    def removed_meanwhile(path, *args, **kwargs):
        os.unlink(path)  # another consumer removed the element
        raise FileNotFoundError(errno.ENOENT, "gone", path)

    monkeypatch.setattr(os, "utime", removed_meanwhile)
    assert q.lock(name) is False
    assert names_in(Path(q.path) / name.split("/")[0]) == []  # our .lck was unlinked


def test_SIMPLE_LOCK_4_lock_is_permissive_by_default(q):
    name = q.add(b"x")
    q.lock(name)
    assert q.lock(name) is False


def test_SIMPLE_UNLOCK_1_unlock_strict_by_default(q):
    name = q.add(b"x")
    with pytest.raises(NotLocked):
        q.unlock(name)
    assert q.unlock(name, permissive=True) is False
    q.lock(name)
    assert q.unlock(name) is True
    assert not (Path(q.path) / (name + ".lck")).exists()
    assert element_file(q, name).read_bytes() == b"x"


def test_SIMPLE_TOUCH_1_touch_sets_mtime_and_missing_is_not_found(q):
    name = q.add(b"x")
    backdate(element_file(q, name), 10_000)
    q.touch(name)
    assert abs(mtime_age(element_file(q, name))) < 5
    with pytest.raises(NotFound):
        q.touch("00000000/0123456789abcd")


# -- SIMPLE-GET / REMOVE ----------------------------------------------------------


def test_SIMPLE_GET_1_get_needs_the_lock_and_returns_exact_bytes(q):
    data = bytes(range(256)) * 300
    name = q.add(data)
    with pytest.raises(NotLocked) as info:
        q.get(name)
    assert info.value.kind == "not_locked"
    q.lock(name)
    assert q.get(name) == data


def test_SIMPLE_GET_1_SEC_1_symlinked_lock_is_never_followed(q, tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(b"secret")
    name = q.add(b"x")
    directory = Path(q.path) / name.split("/")[0]
    (directory / "0123456789abcd.lck").symlink_to(secret)
    with pytest.raises(QueueIOError):
        q.get(name.split("/")[0] + "/0123456789abcd")


def test_SIMPLE_GET_2_get_path_is_the_lock_path(q):
    name = q.add(b"abc")
    q.lock(name)
    path = q.get_path(name)
    assert path == os.path.join(q.path, name) + ".lck"
    assert Path(path).read_bytes() == b"abc"


def test_SIMPLE_REMOVE_1_unlocked_element_is_not_locked_and_untouched(q):
    name = q.add(b"x")
    before = snapshot(Path(q.path))
    with pytest.raises(NotLocked):
        q.remove(name)
    assert snapshot(Path(q.path)) == before


def test_SIMPLE_REMOVE_2_remove_unlinks_element_then_lock(q, monkeypatch):
    name = q.add(b"x")
    q.lock(name)
    order = []
    real_unlink = os.unlink

    def spy(path, *args, **kwargs):
        order.append(os.path.basename(path))
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", spy)
    q.remove(name)
    element = name.split("/")[1]
    assert order == [element, element + ".lck"]
    assert q.count() == 0 and list(q) == []


# -- ITER / COUNT -------------------------------------------------------------------


def test_ITER_1_ids_ascend_by_directory_then_name(q):
    top = Path(q.path)
    expected = []
    for directory in ["00000002", "00000001", "0000000a"]:
        (top / directory).mkdir()
        for element in ["ffffffffffffff", "00000000000000", "0a000000000000"]:
            (top / directory / element).write_bytes(b"")
            expected.append(f"{directory}/{element}")
    assert list(q) == sorted(expected)


def test_ITER_2_reads_one_directory_at_a_time_and_vanished_directory_is_empty(q, monkeypatch):
    top = Path(q.path)
    for directory in ["00000001", "00000002", "00000003"]:
        (top / directory).mkdir()
        (top / directory / "00000000000001").write_bytes(b"")
    scanned = []
    real_scandir = os.scandir

    def spy(path="."):
        scanned.append(os.path.basename(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", spy)
    iterator = iter(q)
    assert next(iterator) == "00000001/00000000000001"
    assert scanned == ["q", "00000001"]
    os.unlink(top / "00000002" / "00000000000001")
    os.rmdir(top / "00000002")  # purged while iterating
    assert list(iterator) == ["00000003/00000000000001"]


def test_ITER_3_locked_elements_are_yielded_once(q):
    names = [q.add(b"%d" % i) for i in range(3)]
    q.lock(names[1])
    assert list(q) == names
    assert q.count() == 3


def test_ITER_4_wrong_typed_entries_are_not_yielded(q, tmp_path):
    name = q.add(b"x")
    directory = Path(q.path) / name.split("/")[0]
    (directory / "00000000000001").mkdir()
    (directory / "00000000000002").symlink_to(tmp_path)
    (directory / "00000000000003").symlink_to(element_file(q, name))
    os.mkfifo(directory / "00000000000004")
    assert list(q) == [name]
    assert q.count() == 1


def test_ITER_5_element_vanishing_after_listing_is_not_an_error(q):
    names = [q.add(b"a"), q.add(b"b")]
    seen = []
    for name in q:
        seen.append(name)
        if name == names[0]:
            other = QueueSimple(q.path)
            other.lock(names[1])
            other.remove(names[1])
    assert seen == names  # listed before it vanished
    assert q.lock(names[1]) is False


def test_SIMPLE_COUNT_1_counts_elements_only(q):
    names = [q.add(b"%d" % i) for i in range(4)]
    q.lock(names[0])
    directory = Path(q.path) / names[0].split("/")[0]
    (directory / "0123456789abcd.tmp").write_bytes(b"")
    (directory / "README").write_bytes(b"")
    (Path(q.path) / "README").write_bytes(b"")
    (Path(q.path) / "0000000g").mkdir()
    assert q.count() == 4


def test_DIR_2_SEC_2_symlinked_intermediate_directory_is_not_descended(q, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "00000000000001").write_bytes(b"outside")
    (outside / "00000000000002.tmp").write_bytes(b"outside temp")
    backdate(outside / "00000000000002.tmp", 100_000)
    (Path(q.path) / "00000001").symlink_to(outside)
    (Path(q.path) / "0000000X").mkdir()
    (Path(q.path) / "0000000X" / "00000000000001").write_bytes(b"")
    assert list(q) == [] and q.count() == 0
    q.purge(maxtemp=1)
    assert sorted(os.listdir(outside)) == ["00000000000001", "00000000000002.tmp"]


# -- COMMON --------------------------------------------------------------------------


def test_COMMON_1_constructor_creates_top_and_ancestors(tmp_path):
    queue = QueueSimple(tmp_path / "a" / "b" / "c")
    assert (tmp_path / "a" / "b" / "c").is_dir()
    info = os.stat(queue.path)
    assert queue.id == f"{info.st_dev}:{info.st_ino}"
    QueueSimple(tmp_path / "a" / "b" / "c")  # existing TOP is fine


def test_COMMON_1_existing_non_directory_is_an_error(tmp_path):
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(QueueIOError, match="file"):
        QueueSimple(tmp_path / "file")
    with pytest.raises(QueueIOError):
        QueueSimple(tmp_path / "file" / "below")


def test_COMMON_1_SEC_1_top_may_be_a_symlink(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    queue = QueueSimple(tmp_path / "alias")
    name = queue.add(b"x")
    assert (tmp_path / "real" / name).read_bytes() == b"x"
    assert list(queue) == [name]


@pytest.mark.parametrize("option", ["maxtemp", "maxlock"])
@pytest.mark.parametrize("bad", [-1, 1.5, "300", True])
def test_COMMON_8_maxtemp_maxlock_must_be_non_negative_integers(tmp_path, option, bad):
    with pytest.raises(InvalidOption, match=option):
        QueueSimple(tmp_path / "q", **{option: bad})
    queue = QueueSimple(tmp_path / "q")
    with pytest.raises(InvalidOption, match=option):
        queue.purge(**{option: bad})


def test_COMMON_2_foreign_entries_survive_every_operation(q):
    name = q.add(b"x")
    top = Path(q.path)
    directory = top / name.split("/")[0]
    foreign = [top / "README", directory / "foo.bar", directory / "xyzltmp", directory / "notes.tmp",
               directory / "0123456789ABCD.lck", directory / ".hidden"]
    for path in foreign:
        path.write_bytes(b"foreign")
        backdate(path, 100_000)
    volatile_shaped_dir = directory / "0123456789abcd.tmp"
    volatile_shaped_dir.mkdir()
    backdate(volatile_shaped_dir, 100_000)
    q.lock(name)
    q.get(name)
    q.remove(name)
    q.purge(maxtemp=1, maxlock=1)
    assert all(path.read_bytes() == b"foreign" for path in foreign)
    assert volatile_shaped_dir.is_dir()


# -- SIMPLE-PURGE ---------------------------------------------------------------------


def make_volatile(queue: QueueSimple, age: float) -> tuple[Path, Path, str]:
    """A stale-able temp file and a locked element, both ``age`` seconds old."""
    name = queue.add(b"x")
    queue.lock(name)
    directory = Path(queue.path) / name.split("/")[0]
    temp = directory / "0123456789abcd.tmp"
    temp.write_bytes(b"partial")
    backdate(temp, age)
    backdate(directory / name.split("/")[1], age)
    return temp, directory / (name.split("/")[1] + ".lck"), name


def test_SIMPLE_PURGE_1_maxlock_defaults_to_600_independent_of_maxtemp(tmp_path):
    queue = QueueSimple(tmp_path / "q", maxtemp=10)
    temp, lock, name = make_volatile(queue, 100)
    queue.purge()
    assert not temp.exists()  # older than maxtemp=10
    assert lock.exists()  # younger than maxlock=600


def test_SIMPLE_PURGE_1_per_call_values_override_options(q):
    temp, lock, name = make_volatile(q, 100)
    q.purge(maxtemp=1000, maxlock=50)
    assert temp.exists() and not lock.exists()


def test_SIMPLE_PURGE_2_SIMPLE_PURGE_3_stale_temp_and_lock_are_unlinked_element_redeliverable(q):
    temp, lock, name = make_volatile(q, 1000)
    q.purge()
    assert not temp.exists() and not lock.exists()
    assert element_file(q, name).read_bytes() == b"x"
    assert q.lock(name) is True and q.get(name) == b"x"


def test_SIMPLE_PURGE_4_young_volatile_files_and_elements_stay(q):
    temp, lock, name = make_volatile(q, 30)
    element = element_file(q, name)
    backdate(element, 30)
    old_element = q.add(b"old")
    backdate(element_file(q, old_element), 100_000)
    before = snapshot(Path(q.path))
    q.purge()
    assert snapshot(Path(q.path)) == before


def test_SIMPLE_PURGE_4_zero_disables_a_class(q):
    temp, lock, name = make_volatile(q, 100_000)
    q.purge(maxtemp=0, maxlock=0)
    assert temp.exists() and lock.exists()
    q.purge(maxtemp=0)
    assert temp.exists() and not lock.exists()


def test_COMMON_5_staleness_is_strictly_older_than_now_minus_max(q):
    temp, lock, name = make_volatile(q, 295)
    q.purge(maxtemp=300, maxlock=300)
    assert temp.exists() and lock.exists()
    backdate(temp, 305)
    backdate(element_file(q, name), 305)
    q.purge(maxtemp=300, maxlock=300)
    assert not temp.exists() and not lock.exists()


def test_SIMPLE_PURGE_5_empty_intermediate_dirs_except_greatest_are_removed(q):
    top = Path(q.path)
    for directory in ["00000001", "00000002", "00000003", "00000004"]:
        (top / directory).mkdir()
    (top / "00000002" / "00000000000001").write_bytes(b"element")
    q.purge()
    assert sorted(os.listdir(top)) == ["00000002", "00000004"]
    os.unlink(top / "00000002" / "00000000000001")
    q.purge()
    assert sorted(os.listdir(top)) == ["00000004"]


def test_SIMPLE_PURGE_6_dir_with_foreign_entry_is_kept(q):
    top = Path(q.path)
    (top / "00000001").mkdir()
    (top / "00000001" / "foreign").write_bytes(b"")
    (top / "00000002").mkdir()
    q.purge()
    assert sorted(os.listdir(top)) == ["00000001", "00000002"]


def test_CRASH_2_CRASH_4_leftovers_of_killed_processes_are_purged(q):
    name = q.add(b"x")
    directory = Path(q.path) / name.split("/")[0]
    element = name.split("/")[1]
    os.link(directory / element, directory / "0123456789abcd.tmp")  # killed between link and unlink
    q.lock(name)
    os.unlink(directory / element)  # killed during remove: orphan .lck
    backdate(directory / "0123456789abcd.tmp", 1000)
    backdate(directory / (element + ".lck"), 1000)
    q.purge()
    assert os.listdir(directory) == []


def test_SPEC_3_every_error_has_a_kind(q):
    kinds = set()
    for call in (lambda: q.get("bad"), lambda: q.unlock(q.add(b"")), lambda: q.add("str"),
                 lambda: q.purge(maxtemp=-1)):
        with pytest.raises(DirqError) as info:
            call()
        kinds.add(info.value.kind)
    assert kinds == {"invalid_name", "not_locked", "invalid_data", "invalid_option"}


def test_SEC_2_add_never_writes_through_a_planted_symlink(tmp_path):
    queue = QueueSimple(tmp_path / "q", granularity=0)
    outside = tmp_path / "outside"
    outside.mkdir()
    now = int(time.time())
    for t in range(now, now + 5):
        (tmp_path / "q" / ("%08x" % t)).symlink_to(outside)
    with pytest.raises(QueueIOError, match="not a directory"):
        queue.add(b"x")
    assert os.listdir(outside) == []


@pytest.mark.parametrize("bad", [None, 3, "", "a\0b", b"/tmp/x"])
def test_COMMON_1_bad_path_is_invalid_option_and_bad_add_path_is_invalid_data(q, bad):
    with pytest.raises(InvalidOption, match="path"):
        QueueSimple(bad)
    with pytest.raises(InvalidData, match="add_path"):
        q.add_path(bad)
