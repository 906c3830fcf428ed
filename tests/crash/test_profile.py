"""Syscall profile rules (dirqkit.crash.profile), checked on traces as strace writes them."""

from __future__ import annotations

import pytest
from scenario_testutil import REF_DRIVER, CaseRunner, mutant_driver, needs_strace

from dirqkit.crash.profile import Rule, relative_paths
from dirqkit.crash.syscalls import parse_trace
from dirqkit.suite.engine import CaseFailed

TOP = "/q"
ADD = parse_trace("""\
1 openat(AT_FDCWD</w>, "/q/6b0b6d00/6b0b6d0a000001.tmp", O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, 0666) = -1 ENOENT (No such file or directory)
1 mkdir("/q/6b0b6d00", 0777) = 0
1 openat(AT_FDCWD</w>, "/q/6b0b6d00/6b0b6d0a000001.tmp", O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, 0666) = 3</q/6b0b6d00/6b0b6d0a000001.tmp>
1 write(3</q/6b0b6d00/6b0b6d0a000001.tmp>, "abc", 3) = 3
1 close(3</q/6b0b6d00/6b0b6d0a000001.tmp>) = 0
1 link("/q/6b0b6d00/6b0b6d0a000001.tmp", "/q/6b0b6d00/6b0b6d0a000002") = 0
1 unlink("/q/6b0b6d00/6b0b6d0a000001.tmp") = 0
""")


def check(raw: dict, calls=ADD) -> list[str]:
    return [v.message for v in Rule(raw["requirement"], raw).check(calls, TOP, "a=x add")]


def test_paths_are_relative_to_top_and_descriptors_name_their_file():
    assert relative_paths(ADD[3], TOP) == ["6b0b6d00/6b0b6d0a000001.tmp"]
    assert relative_paths(ADD[5], TOP) == ["6b0b6d00/6b0b6d0a000001.tmp", "6b0b6d00/6b0b6d0a000002"]
    at = parse_trace('1 openat(5</q/6b0b6d00>, "6b0b6d0a000002.lck", O_RDONLY|O_NOFOLLOW) = 3\n')[0]
    assert relative_paths(at, TOP) == ["6b0b6d00/6b0b6d0a000002.lck"]
    top = parse_trace('1 mkdir("/q", 0777) = -1 EEXIST (File exists)\n')[0]
    assert relative_paths(top, TOP) == [""]


def test_flags_rule_names_the_missing_flag():
    rule = {"requirement": "SIMPLE-ADD-1", "flags": {"call": "open", "path": "{dir}/{elt}\\.tmp"}, "has": ["O_CREAT", "O_EXCL"]}
    assert check(rule) == []
    trunc = parse_trace(ADD_TEXT.replace("O_EXCL", "O_TRUNC"))
    assert any("without O_EXCL" in m for m in check(rule, trunc))


def test_before_rule_catches_a_link_before_close():
    rule = {"requirement": "SIMPLE-ADD-3", "before": [{"call": ["write", "close"], "path": "{dir}/{elt}\\.tmp"},
                                                      {"call": "link", "path": "{dir}/{elt}"}]}
    assert check(rule) == []
    late_close = ADD[:4] + [ADD[5], ADD[4], ADD[6]]
    assert any("comes before close" in m for m in check(rule, late_close))
    assert any("makes no link" in m for m in check(rule, ADD[:5]))


def test_never_and_count_rules():
    assert check({"requirement": "SIMPLE-ADD-4", "never": {"call": "rename"}}) == []
    assert check({"requirement": "DIR-3", "count": {"call": "mkdir", "path": "{dir}"}, "max": 1}) == []
    twice = ADD[:2] + ADD[1:]
    assert any("makes 2 mkdir" in m for m in check({"requirement": "DIR-3", "count": {"call": "mkdir", "path": "{dir}"}, "max": 1}, twice))
    failed_only = {"requirement": "X-1", "count": {"call": "open", "failed": True}, "min": 1, "max": 1}
    assert check(failed_only) == []


UTIMES = """\
1 utimensat(AT_FDCWD</w>, "/q/6b0b6d00/6b0b6d0a000002", NULL, AT_SYMLINK_NOFOLLOW) = 0
1 utimensat(AT_FDCWD</w>, "/q/6b0b6d00/6b0b6d0a000002", NULL, 0) = 0
1 openat(AT_FDCWD</w>, "/q/6b0b6d00/6b0b6d0a000002", O_RDONLY|O_NOFOLLOW) = 3</q/6b0b6d00/6b0b6d0a000002>
1 utimensat(3</q/6b0b6d00/6b0b6d0a000002>, NULL, NULL, 0) = 0
1 newfstatat(AT_FDCWD</w>, "/q/6b0b6d00/6b0b6d0a000001.tmp", {st_mode=S_IFREG|0644, st_size=3, ...}, 0) = 0
1 lstat("/q/6b0b6d00/6b0b6d0a000001.tmp", {st_mode=S_IFREG|0644, st_size=3, ...}) = 0
"""


@pytest.mark.parametrize(("index", "follows"), [(0, False), (1, True), (3, False), (4, True), (5, False)])
def test_nofollow_rule_tells_calls_that_follow_symlinks(index, follows):
    calls = parse_trace(UTIMES)
    chosen = calls[: index + 1]
    kind = "utime" if calls[index].klass == "utime" else "stat"
    messages = check({"requirement": "SEC-1", "nofollow": {"call": kind, "path": "{dir}/.+"}}, [c for c in chosen if c is calls[index] or c.klass == "list"])
    assert bool(messages) == follows, messages


def test_a_rule_about_a_call_that_is_never_made_fails_unless_optional():
    rule = {"requirement": "SIMPLE-GET-1", "flags": {"call": "list", "path": "{dir}/{elt}\\.lck"}, "has": ["O_NOFOLLOW"]}
    assert any("makes no list" in m for m in check(rule))
    assert check({**rule, "optional": True}) == []


ADD_TEXT = "\n".join(f"1 {c.name}({c.args}) = {c.result}" for c in ADD) + "\n"

PROFILE = """
cases:
  - id: t-profile-lock
    title: lock links, then sets the time without following a symlink
    requirements: [SIMPLE-LOCK-3, SEC-1]
    queue: {type: simple}
    roles: {c: consumer}
    steps:
      - syscalls:
          ops: [{role: c, op: add, explore: false}, {role: c, op: lock}]
          rules:
            - {requirement: SIMPLE-LOCK-3, before: [{call: link, path: '{dir}/{elt}\\.lck'}, {call: utime}]}
            - {requirement: SEC-1, nofollow: {call: utime, path: '{dir}/{elt}(\\.lck)?'}}
"""


@needs_strace
def test_a_lock_that_follows_symlinks_fails_its_profile_and_the_reference_passes(tmp_path):
    with CaseRunner(tmp_path) as run_case:
        run_case(PROFILE, c=REF_DRIVER)
        broken = mutant_driver(tmp_path, "utime-follows", "simple.py",
                               "            os.utime(path, follow_symlinks=False)  # SIMPLE-LOCK-3, COMMON-7",
                               "            os.utime(path)  # SIMPLE-LOCK-3, COMMON-7")
        with pytest.raises(CaseFailed) as failed:
            run_case(PROFILE, c=broken)
        assert failed.value.requirement == "SEC-1"
        assert "may follow a symbolic link: utimensat(" in failed.value.message
