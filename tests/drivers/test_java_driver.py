"""The java driver: why it is unavailable, its compile cache, and (with a JDK and java-dirq) the driver itself."""

import json
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

from dirqkit.drivers import java_dirq
from dirqkit.drivers.check import check
from dirqkit.drivers.client import DriverClient, DriverUnavailable
from dirqkit.drivers.registry import DRIVERS
from dirqkit.suite.actors import DriverPool
from drivers_testutil import cpu_ticks, descendants

# A stand-in JDK: javac "compiles" by creating the class file and logs each call; java does nothing.
FAKE_JAVAC = """#!/bin/sh
echo "$@" >> "${0%/*}/javac.log"
while [ $# -gt 0 ]; do
  if [ "$1" = -d ]; then : > "$2/DirqDriver.class"; fi
  shift
done
"""
BROKEN_JAVAC = "#!/bin/sh\necho 'DirqDriver.java:1: error: package ch.cern.dirq does not exist' >&2\nexit 1\n"


def fake_jdk(directory, javac=FAKE_JAVAC):
    directory.mkdir(exist_ok=True)
    for name, text in (("javac", javac), ("java", "#!/bin/sh\nexit 0\n")):
        (directory / name).write_text(text)
        (directory / name).chmod(0o755)
    return directory


@pytest.fixture
def jdk(monkeypatch, tmp_path):
    """A fake JDK on PATH, java-dirq and slf4j as empty jars, and a cache of this test's own."""
    bin_dir = fake_jdk(tmp_path / "bin")
    monkeypatch.setenv("PATH", str(bin_dir))
    for jar in ("java-dirq.jar", "slf4j-api.jar"):
        (tmp_path / jar).write_bytes(b"")
    monkeypatch.setenv("DIRQKIT_JAVA_DIRQ", str(tmp_path / "java-dirq.jar"))
    monkeypatch.setenv("DIRQKIT_JAVA_CLASSPATH", str(tmp_path / "slf4j-api.jar"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return bin_dir


def javac_calls(bin_dir):
    log = bin_dir / "javac.log"
    return log.read_text().splitlines() if log.exists() else []


def test_without_a_jdk_the_reason_names_it(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert DRIVERS["java"].probe() == (
        False, "no JDK: javac and java not on PATH (Debian package default-jdk-headless)")


def test_a_jre_without_javac_is_not_enough(jdk, monkeypatch):
    (jdk / "javac").unlink()
    available, reason = DRIVERS["java"].probe()
    assert not available and reason.startswith("no JDK: javac not on PATH")


def test_without_java_dirq_the_reason_names_the_variable(jdk, monkeypatch, tmp_path):
    monkeypatch.delenv("DIRQKIT_JAVA_DIRQ")
    assert DRIVERS["java"].probe() == (
        False, "java-dirq not found: set DIRQKIT_JAVA_DIRQ to a java-dirq jar or class directory")
    monkeypatch.setenv("DIRQKIT_JAVA_DIRQ", str(tmp_path / "missing.jar"))
    assert DRIVERS["java"].probe() == (False, f"DIRQKIT_JAVA_DIRQ={tmp_path / 'missing.jar'} does not exist")
    assert javac_calls(jdk) == []


def test_without_slf4j_the_reason_names_the_package(jdk, monkeypatch, tmp_path):
    monkeypatch.delenv("DIRQKIT_JAVA_CLASSPATH")
    monkeypatch.setattr(java_dirq, "SLF4J_API", tmp_path / "no-slf4j-api.jar")
    available, reason = DRIVERS["java"].probe()
    assert not available and "install libslf4j-java" in reason and "DIRQKIT_JAVA_CLASSPATH" in reason
    monkeypatch.setenv("DIRQKIT_JAVA_CLASSPATH", str(tmp_path / "gone.jar"))
    assert DRIVERS["java"].probe() == (False, f"DIRQKIT_JAVA_CLASSPATH names {tmp_path / 'gone.jar'}, which does not exist")


def test_debian_slf4j_is_the_default(jdk, monkeypatch, tmp_path):
    monkeypatch.delenv("DIRQKIT_JAVA_CLASSPATH")
    monkeypatch.setattr(java_dirq, "SLF4J_API", tmp_path / "slf4j-api.jar")
    monkeypatch.setattr(java_dirq, "SLF4J_NOP", tmp_path / "no-slf4j-nop.jar")
    assert java_dirq.find_setup().classpath == (str(tmp_path / "java-dirq.jar"), str(tmp_path / "slf4j-api.jar"))


def test_the_driver_is_compiled_once_into_the_cache(jdk, tmp_path):
    available, reason = DRIVERS["java"].probe()
    assert available, reason
    target = tmp_path / "cache" / "dirqkit" / f"java-driver-{java_dirq.find_setup().key()}"
    assert f"driver compiled in {target}" in reason
    assert (target / "DirqDriver.class").exists()
    assert DRIVERS["java"].probe() == (True, reason)
    argv = java_dirq.command(java_dirq.find_setup())
    assert len(javac_calls(jdk)) == 1  # the probe, the second probe and the command share one compilation
    assert argv[0] == str(jdk / "java") and argv[-1] == "DirqDriver"
    assert argv[argv.index("-cp") + 1].split(os.pathsep) == [str(target), str(tmp_path / "java-dirq.jar"), str(tmp_path / "slf4j-api.jar")]
    assert not str(target).startswith(str(java_dirq.SOURCE.parent))  # never inside the package


def test_another_class_path_is_compiled_again(jdk, monkeypatch, tmp_path):
    first = java_dirq.compiled(java_dirq.find_setup())
    (tmp_path / "other-dirq.jar").write_bytes(b"")
    monkeypatch.setenv("DIRQKIT_JAVA_DIRQ", str(tmp_path / "other-dirq.jar"))
    second = java_dirq.compiled(java_dirq.find_setup())
    assert first != second and len(javac_calls(jdk)) == 2


def test_concurrent_compilers_leave_one_build(jdk, tmp_path):
    setup = java_dirq.find_setup()
    found, errors = [], []

    def compile_it():
        try:
            found.append(java_dirq.compiled(setup))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=compile_it) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(set(found)) == 1
    assert sorted(p.name for p in (tmp_path / "cache" / "dirqkit").iterdir()) == [found[0].name]  # no build left over


def test_a_compile_error_is_the_reason(jdk, tmp_path):
    fake_jdk(jdk, BROKEN_JAVAC)
    available, reason = DRIVERS["java"].probe()
    assert not available
    assert reason == (f"javac cannot compile DirqDriver.java against {tmp_path / 'java-dirq.jar'}: "
                      "DirqDriver.java:1: error: package ch.cern.dirq does not exist")
    assert list((tmp_path / "cache" / "dirqkit").iterdir()) == []


def test_the_launcher_answers_hello_with_the_reason(monkeypatch):
    env = {k: v for k, v in os.environ.items() if k != "DIRQKIT_JAVA_DIRQ"}
    client = DriverClient([sys.executable, "-m", "dirqkit.drivers.java_dirq"], name="java", timeout=30, env=env)
    with pytest.raises(DriverUnavailable) as caught:
        client.start()
    client.close()
    assert "java-dirq not found: set DIRQKIT_JAVA_DIRQ" in str(caught.value) or "no JDK" in str(caught.value)


def test_a_run_without_java_dirq_skips_its_cases_with_the_reason(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DIRQKIT_JAVA_DIRQ"}
    done = subprocess.run([sys.executable, "-m", "dirqkit", "run", "--impl", "ref,java", "--case", "simple-add-get-text",
                           "-j", "0", "--json", str(tmp_path / "out.json")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout[-3000:]
    records = json.loads((tmp_path / "out.json").read_text())["records"]
    java = [r for r in records if "java" in r["roles"].values() or r["outcome"] == "SKIP"]
    assert java and all(r["outcome"] == "SKIP" for r in java)
    assert all(r["message"].startswith("java unavailable: ") for r in java)
    reason = java[0]["message"]
    assert "java-dirq not found: set DIRQKIT_JAVA_DIRQ" in reason or "no JDK" in reason
    assert f"] {reason}; to enable it: " in done.stdout  # the report's footnote for an unavailable implementation


AVAILABLE, REASON = DRIVERS["java"].probe()
needs_java = pytest.mark.skipif(not AVAILABLE, reason=f"java driver unavailable: {REASON}")


@needs_java
def test_java_driver_speaks_the_protocol():
    findings, hello = check(list(DRIVERS["java"].command), timeout=30, workdir=None)
    assert [f"{f.check}: {f.detail}" for f in findings if f.status == "FAIL"] == []
    assert hello["implementation"]["language"] == "java"
    assert hello["queue_types"] == ["simple", "null"] and hello["features"] == ["batch"]
    deviations = {f.check for f in findings if f.status == "DEVIATION"}
    assert deviations == {"simple.touch", "simple.touch-absent", "simple.invalid-name"}  # no touch; NAME-10


@needs_java
def test_java_driver_maps_errors_and_keeps_stdout_clean(tmp_path):
    with DriverClient(list(DRIVERS["java"].command), name="java", timeout=30) as client:
        q = client.call("open", {"type": "simple", "path": str(tmp_path / "q"), "options": {"granularity": 0}})
        name = client.call("add", {"queue": q, "data": "AP8="})
        assert client.call("lock", {"queue": q, "name": name}) is True
        assert client.call("get", {"queue": q, "name": name}) == "AP8="
        kinds = []
        for op, args in (("lock", {"name": name, "permissive": False}), ("open", {"type": "normal", "path": str(tmp_path / "n")}),
                         ("open", {"type": "simple", "path": str(tmp_path / "u"), "options": {"umask": 512}}),
                         ("open", {"type": "simple", "path": str(tmp_path / "u"), "options": {"rndhex": "x"}}),
                         ("set_first", {"queue": q}), ("lock", {"name": "00000000/0000000000000\u0000"})):
            try:
                client.call(op, {"queue": q, **args})
            except Exception as exc:  # noqa: BLE001 - OpError carries the kind
                kinds.append(exc.kind)
        assert kinds == ["locked", "unsupported", "invalid_option", "invalid_option", "unsupported", "invalid_name"]
        assert client.call("list", {"queue": q}) == [name]


@needs_java
@pytest.mark.skipif(shutil.which("faketime") is None, reason="faketime is not installed (Debian package faketime)")
def test_an_idle_java_driver_under_faketime_does_not_spin(tmp_path):
    """A driver waiting for its next request uses (almost) no CPU, also under the case clock's faketime wrapper."""
    pool = DriverPool(timeout=30)
    try:
        client = pool.start("java", list(DRIVERS["java"].command), faketime="-3600")
        client.call("open", {"type": "simple", "path": str(tmp_path / "q")})  # the JVM is up and idle
        java = [p for p in descendants(client.pid) if "DirqDriver" in p[1]]
        assert java, "no JVM among the driver's processes"
        before = cpu_ticks(java[0][0])
        time.sleep(2)
        spent = cpu_ticks(java[0][0]) - before
        assert spent < 0.1 * 2 * os.sysconf("SC_CLK_TCK"), f"idle JVM used {spent} clock ticks in 2 s"
    finally:
        pool.close_all()

