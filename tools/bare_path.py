#!/usr/bin/env python3
"""Run a command as on a bare machine: only Python and the base system, none of the optional tools.

The README promises that its test command passes where only Python is
installed: whatever needs strace, faketime, Perl, a compiler, a JDK or a
browser skips with the reason. This tool makes that machine out of this one:
a PATH whose only directory holds links to every program of the usual system
directories except those tools (and to this Python as ``python3``), and an
environment without the variables that point at implementations built
elsewhere (PERL5LIB, DIRQKIT_LIBDIRQ, DIRQKIT_JAVA_*). CI runs the test
command through it after the normal run (.ci/run).

    python3 tools/bare_path.py [--show] -- python3 -m pytest -n auto
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

SYSTEM_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
# Programs a bare machine lacks: tracing, fake time, Perl, compilers and linkers, JDKs, browsers.
HIDDEN = re.compile(r"(strace|ltrace|faketime|perl.*|cpan.*|gcc.*|g\+\+.*|c\+\+.*|cc|cpp.*|clang.*|tcc|ld(\..*)?"
                    r"|x86_64-linux-gnu-.*|aarch64-linux-gnu-.*|java.*|jshell|jar|jlink|keytool"
                    r"|chrom(e|ium).*|google-chrome.*|firefox.*|geckodriver)")
UNSET = re.compile(r"PERL5LIB|PERL_.*|DIRQKIT_LIBDIRQ|DIRQKIT_JAVA_.*|JAVA_HOME|LD_LIBRARY_PATH")


def bare_bin(into: Path) -> list[str]:
    """Fill ``into`` with links to the visible programs; returns the hidden ones found."""
    hidden: set[str] = set()
    for directory in SYSTEM_DIRS:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except FileNotFoundError:
            continue
        for entry in entries:
            if HIDDEN.fullmatch(entry.name):
                hidden.add(entry.name)
            elif not (into / entry.name).exists() and entry.is_file() and os.access(entry.path, os.X_OK):
                (into / entry.name).symlink_to(entry.path)
    for name in ("python3", "python"):
        link = into / name
        if link.is_symlink():
            link.unlink()
        link.symlink_to(sys.executable)
    return sorted(hidden)


def bare_env(path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not UNSET.fullmatch(k)}
    env["PATH"] = str(path)
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true", help="print the hidden programs and the unset variables first")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run (after --)")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    with tempfile.TemporaryDirectory(prefix="dirqkit-bare-") as scratch:
        hidden = bare_bin(Path(scratch))
        env = bare_env(Path(scratch))
        if args.show:
            print(f"bare path: hidden {', '.join(hidden) or 'nothing'}; unset "
                  f"{', '.join(sorted(k for k in os.environ if UNSET.fullmatch(k))) or 'nothing'}", flush=True)
        program = command[0] if os.sep in command[0] else str(Path(scratch) / command[0])
        return subprocess.call([program, *command[1:]], env=env)


if __name__ == "__main__":
    sys.exit(main())
