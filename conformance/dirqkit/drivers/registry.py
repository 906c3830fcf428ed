"""The drivers the kit knows: name, default command line, availability probe.

A probe is cheap and never starts a driver: it answers (available, reason),
the reason saying what was found or what is missing. Any other driver is
reached by giving its command line (``dirqkit run --driver CMD --name NAME``).
"""

from __future__ import annotations

import ctypes
import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from . import java_dirq
from .c_dirq import locate_library

HERE = Path(__file__).resolve().parent
# How a Python driver starts: ``python -S`` (no site module: this machine's site-packages .pth files
# cost most of a bare interpreter's start-up, paid by every driver process) with the directories its
# imports come from appended to sys.path, so PYTHONPATH still comes first as in a normal start.
PYTHON_LAUNCH = ("import runpy, sys; module, *paths = sys.argv[1:]; del sys.argv[1:]; sys.path += paths; "
                 "runpy.run_module(module, run_name='__main__', alter_sys=True)")
PERL_DRIVER = HERE / "perl_dirq.pl"
PERL_MODULES = ("Directory::Queue", "JSON::PP", "MIME::Base64", "Digest::SHA", "Time::HiRes")


def _import_roots(*packages: str) -> list[str]:
    """The sys.path entries ``packages`` are found under here (found, never imported)."""
    roots: list[str] = []
    for package in packages:
        spec = importlib.util.find_spec(package)
        for location in (spec.submodule_search_locations or []) if spec else []:
            root = str(Path(location).resolve().parent)
            if root not in roots:
                roots.append(root)
    return roots


def python_driver(module: str, *packages: str) -> tuple[str, ...]:
    """The command of a driver module of this kit, started without the site module (PYTHON_LAUNCH)."""
    return (sys.executable, "-S", "-c", PYTHON_LAUNCH, module, *_import_roots("dirqkit", *packages))


@dataclass(frozen=True)
class DriverSpec:
    name: str
    implementation: str
    command: tuple[str, ...]
    probe: Callable[[], tuple[bool, str]]
    enable: str  # what makes the driver available where it is not


def _probe_ref() -> tuple[bool, str]:
    return True, f"dirqref {version('dirqkit')} (the reference implementation)"


def _probe_python_dirq() -> tuple[bool, str]:
    if importlib.util.find_spec("dirq") is None:
        return False, "python-dirq is not installed (pip install dirq)"
    try:
        return True, f"python-dirq {version('dirq')}"
    except PackageNotFoundError:
        return True, "python-dirq (version unknown)"


def _probe_perl() -> tuple[bool, str]:
    perl = shutil.which("perl")
    if perl is None:
        return False, "perl is not on PATH"
    modules = [f"-M{m}" for m in PERL_MODULES]
    code = 'print $Directory::Queue::VERSION // "unknown"'
    try:
        done = subprocess.run([perl, *modules, "-e", code], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"cannot run perl: {exc}"
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no message"])[0].split(" (@INC", 1)[0]
        return False, f"perl -MDirectory::Queue -e1 failed: {first}"
    return True, f"Perl Directory::Queue {done.stdout.strip()} ({perl})"


def _probe_c() -> tuple[bool, str]:
    path = locate_library(None)
    if path is None:
        return False, "libdirq not found: set DIRQKIT_LIBDIRQ to the path of libdirq.so, or install c-dirq"
    try:
        ctypes.CDLL(path).dirq_new  # noqa: B018 - the symbol lookup is the check
    except (OSError, AttributeError) as exc:
        return False, f"cannot use {path}: {exc}"
    return True, f"c-dirq libdirq at {path} (Simple queues only)"


def _probe_java() -> tuple[bool, str]:
    try:
        return True, java_dirq.describe()  # compiles the driver into its cache the first time
    except java_dirq.Unavailable as exc:
        return False, str(exc)


DRIVERS: dict[str, DriverSpec] = {
    spec.name: spec
    for spec in (
        DriverSpec("ref", "dirqref", python_driver("dirqkit.drivers.ref", "dirqref"), _probe_ref,
                   "always available (part of dirqkit)"),
        DriverSpec("python-dirq", "python-dirq", python_driver("dirqkit.drivers.python_dirq", "dirq"), _probe_python_dirq,
                   "pip install dirq==1.8 (the test extra installs it)"),
        DriverSpec("perl", "Perl Directory::Queue", ("perl", str(PERL_DRIVER)), _probe_perl,
                   "install Directory::Queue and No::Worries (cpanm --notest Directory::Queue) or point PERL5LIB at them"),
        DriverSpec("c", "c-dirq (libdirq)", python_driver("dirqkit.drivers.c_dirq"), _probe_c,
                   "build c-dirq and set DIRQKIT_LIBDIRQ=/path/to/libdirq.so (or install libdirq on the library path)"),
        DriverSpec("java", "java-dirq", python_driver("dirqkit.drivers.java_dirq"), _probe_java,
                   "a JDK (javac, java) and DIRQKIT_JAVA_DIRQ=/path/to/java-dirq.jar (slf4j from libslf4j-java or DIRQKIT_JAVA_CLASSPATH)"),
    )
}
