"""Driver for java-dirq: ``python -m dirqkit.drivers.java_dirq``.

The driver itself is ``java/DirqDriver.java`` (how java-dirq's API and
errors meet the protocol is written at its top). This module finds what it
needs, compiles it once and replaces itself by the JVM running it, so the
driver process (its pid, its process group) is the JVM:

- a JDK: ``javac`` and ``java`` on PATH;
- java-dirq: ``$DIRQKIT_JAVA_DIRQ``, a jar or a class directory;
- its runtime dependency slf4j-api: the entries of ``$DIRQKIT_JAVA_CLASSPATH``
  when set, else Debian's ``/usr/share/java/slf4j-api.jar`` (libslf4j-java),
  with ``slf4j-nop.jar`` next to it when present (it silences slf4j's
  "no binding" notice; stderr is free-form anyway).

The class file is cached outside the repository, in
``$XDG_CACHE_HOME/dirqkit`` (default ``~/.cache/dirqkit``), in a directory
named after a hash of the source, the class path and the compiler, so a
changed source or java-dirq is compiled again. Concurrent compilers (pytest
workers) each build in a directory of their own and rename it into place;
the first rename wins. When something is missing, the driver still starts
and answers ``hello`` with ``unsupported`` and the reason (PROTOCOL.md 2.1).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .server import serve

SOURCE = Path(__file__).resolve().parent / "java" / "DirqDriver.java"
MAIN_CLASS = "DirqDriver"
ENV_DIRQ = "DIRQKIT_JAVA_DIRQ"
ENV_CLASSPATH = "DIRQKIT_JAVA_CLASSPATH"
SLF4J_API = Path("/usr/share/java/slf4j-api.jar")
SLF4J_NOP = Path("/usr/share/java/slf4j-nop.jar")
# Start-up matters more than peak speed (one JVM per role, short requests): the client compiler
# only, one GC thread, no hsperfdata file in /tmp, no helper thread reading cgroup files while a
# request runs (the crash steps trace every file syscall of the process).
JVM_FLAGS = ("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData", "-XX:-UseContainerSupport")
# File names are bytes for java-dirq but Strings for the JVM: decode and encode them as UTF-8
# whatever the caller's locale.
JVM_ENV = {"LC_ALL": "C.UTF-8"}
COMPILE_TIMEOUT = 600.0  # seconds; a compiler that hangs makes the driver unavailable, never a verdict


class Unavailable(Exception):
    """What is missing for the java driver, as a sentence."""


@dataclass(frozen=True)
class Setup:
    java: str
    javac: str
    dirq: str  # the java-dirq jar or class directory
    classpath: tuple[str, ...]  # java-dirq and its dependencies

    def key(self) -> str:
        """Names the compiled driver: changes with the source, the class path or the compiler."""
        digest = hashlib.sha256(SOURCE.read_bytes())
        digest.update("\0".join((os.path.realpath(self.javac), *self.classpath)).encode())
        return digest.hexdigest()[:16]


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dirqkit"


def find_setup() -> Setup:
    """The JDK and class path to use, or Unavailable naming what is missing."""
    javac, java = shutil.which("javac"), shutil.which("java")
    if javac is None or java is None:
        missing = " and ".join(name for name, path in (("javac", javac), ("java", java)) if path is None)
        raise Unavailable(f"no JDK: {missing} not on PATH (Debian package default-jdk-headless)")
    dirq = os.environ.get(ENV_DIRQ)
    if not dirq:
        raise Unavailable(f"java-dirq not found: set {ENV_DIRQ} to a java-dirq jar or class directory")
    if not os.path.exists(dirq):
        raise Unavailable(f"{ENV_DIRQ}={dirq} does not exist")
    listed = os.environ.get(ENV_CLASSPATH)
    if listed:
        entries = [e for e in listed.split(os.pathsep) if e]
    elif SLF4J_API.exists():
        entries = [str(SLF4J_API), *([str(SLF4J_NOP)] if SLF4J_NOP.exists() else [])]
    else:
        raise Unavailable(f"slf4j-api (java-dirq's runtime dependency) not found: install libslf4j-java "
                          f"or list it in {ENV_CLASSPATH}")
    missing = [e for e in entries if not os.path.exists(e)]
    if missing:
        raise Unavailable(f"{ENV_CLASSPATH} names {', '.join(missing)}, which does not exist")
    classpath = tuple(dict.fromkeys([os.path.abspath(dirq), *(os.path.abspath(e) for e in entries)]))
    return Setup(java, javac, dirq, classpath)


def compiled(setup: Setup) -> Path:
    """The directory holding the compiled driver, compiling it first if no cache has it."""
    root = cache_root()
    target = root / f"java-driver-{setup.key()}"
    if (target / f"{MAIN_CLASS}.class").exists():
        return target
    try:
        root.mkdir(parents=True, exist_ok=True)
        build = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
    except OSError as exc:
        raise Unavailable(f"cannot create the compile cache {root}: {exc}") from None
    try:
        done = subprocess.run([setup.javac, "-encoding", "UTF-8", "-nowarn", "-d", str(build),
                               "-cp", os.pathsep.join(setup.classpath), str(SOURCE)],
                              capture_output=True, text=True, timeout=COMPILE_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(build, ignore_errors=True)
        raise Unavailable(f"cannot run javac: {exc}") from None
    if done.returncode != 0:
        shutil.rmtree(build, ignore_errors=True)
        first = (done.stderr.strip().splitlines() or ["no message"])[0]
        raise Unavailable(f"javac cannot compile {SOURCE.name} against {setup.dirq}: {first}")
    try:
        build.rename(target)
    except OSError:
        shutil.rmtree(build, ignore_errors=True)  # RACE: another process renamed its build first
        if not (target / f"{MAIN_CLASS}.class").exists():
            raise Unavailable(f"cannot store the compiled driver in {target}") from None
    return target


def command(setup: Setup) -> list[str]:
    """The JVM command line running the (compiled) driver."""
    classes = compiled(setup)
    return [setup.java, *JVM_FLAGS, "-cp", os.pathsep.join((str(classes), *setup.classpath)), MAIN_CLASS]


def describe() -> str:
    """What the java driver will run, compiling it if needed; Unavailable when it cannot."""
    setup = find_setup()
    return f"java-dirq at {setup.dirq} ({setup.java}; driver compiled in {compiled(setup)})"


def main() -> int:
    try:
        argv = command(find_setup())
    except Unavailable as exc:
        reason = str(exc)

        def unavailable() -> None:
            raise Unavailable(reason)

        return serve(unavailable)  # type: ignore[arg-type]  # hello answers unsupported with the reason
    sys.stdout.flush()
    os.execve(argv[0], argv, {**os.environ, **JVM_ENV})


if __name__ == "__main__":
    sys.exit(main())
