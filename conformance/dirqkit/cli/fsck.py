"""``dirqkit fsck PATH``: check a live queue against SPEC.md and explain what is wrong.

Prints one finding per line (``ID PATH: explanation``) on stdout, or with
``--json`` one JSON document, written as it goes; a one-line summary goes to
stderr. Exit 0 when the queue is clean, 1 when there are findings (repaired
or not), 2 for usage errors and a queue that cannot be read.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, TextIO

from dirqkit.cli import UsageError
from dirqkit.trees.fsck import Finding, Fsck, QueueUnreadable, Settings, Summary
from dirqref.errors import InvalidSchema
from dirqref.schema import Schema

NAME = "fsck"
HELP = "check a queue directory against SPEC.md; --repair does what a purge would"
PROGRESS_INTERVAL = 0.25  # seconds between two progress lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", help="the queue directory (TOP)")
    parser.add_argument("--type", choices=("simple", "normal"), help="queue type (default: detected)")
    parser.add_argument("--schema", metavar="JSON", help='Normal schema, e.g. \'{"body": "string", "header": "table?"}\'; '
                        "without it field contents are not decoded")
    parser.add_argument("--maxtemp", type=_seconds, default=300, metavar="SECONDS", help="age of a stale temp (default 300; 0: never)")
    parser.add_argument("--maxlock", type=_seconds, default=600, metavar="SECONDS", help="age of a stale lock (default 600; 0: never)")
    parser.add_argument("--umask", type=_umask, metavar="OCTAL", help="check every mode against this umask (COMMON-3)")
    parser.add_argument("--repair", action="store_true", help="do what a purge would (stale temps, locks, temporary/ and obsolete/ "
                        "entries, empty directories); never removes an element")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--progress", action="store_true", help="progress line on stderr even when it is not a terminal")


def _seconds(text: str) -> int:
    """COMMON-8: a non-negative integer of seconds."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a non-negative integer of seconds")
    return int(text)


def _umask(text: str) -> int:
    digits = text.removeprefix("0o")
    if not digits or any(c not in "01234567" for c in digits) or int(digits, 8) > 0o777:
        raise argparse.ArgumentTypeError(f"{text!r} is not an octal umask from 000 to 777")
    return int(digits, 8)


def _settings(args: argparse.Namespace) -> Settings:
    schema = None
    if args.schema is not None:
        if args.type == "simple":
            raise UsageError("--schema applies to Normal queues, not with --type simple")
        try:
            schema = Schema.parse(json.loads(args.schema))
        except ValueError as exc:
            raise UsageError(f"--schema is not valid JSON: {exc}") from None
        except InvalidSchema as exc:
            raise UsageError(f"--schema: {exc}") from None
    return Settings(args.type, schema, args.maxtemp, args.maxlock, args.umask, args.repair)


class Progress:
    """A self-overwriting progress line on stderr, at most every PROGRESS_INTERVAL seconds."""

    def __init__(self, stream: TextIO) -> None:
        self.stream, self.last = stream, 0.0
        self.summary: Summary | None = None

    def __call__(self, summary: Summary, force: bool = False) -> None:
        now = time.monotonic()
        self.summary = summary
        if now - self.last < PROGRESS_INTERVAL and not force:
            return
        self.last = now
        self.stream.write(f"\rfsck: {summary.directories_done}/{summary.directories} directories, "
                          f"{summary.entries} entries, {summary.findings} findings ")
        self.stream.flush()

    def done(self) -> None:
        """The final counts, then end the line."""
        if self.summary is not None:
            self(self.summary, force=True)
            self.stream.write("\n")


def run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    progress = Progress(sys.stderr) if args.progress or sys.stderr.isatty() else None
    try:
        with Fsck(args.path, settings, progress) as fsck:
            if fsck.settings.schema is not None and fsck.queue_type == "simple":
                raise UsageError(f"--schema applies to Normal queues; {args.path} looks like a Simple queue (give --type normal)")
            writer = JsonWriter(sys.stdout, fsck) if args.json else TextWriter(sys.stdout)
            for finding in fsck.findings():
                writer.finding(finding)
            writer.close(fsck.summary)
    except QueueUnreadable as exc:
        raise UsageError(str(exc)) from None
    except BrokenPipeError:  # a reader such as `head` went away: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    finally:
        if progress is not None:
            progress.done()
    print(_summary_line(fsck, args.path), file=sys.stderr)
    return 1 if fsck.summary.findings else 0


def _summary_line(fsck: Fsck, path: str) -> str:
    s = fsck.summary
    line = (f"dirqkit fsck: {fsck.queue_type} queue{' (detected)' if fsck.detected else ''} {path}: "
            f"{s.elements} elements ({s.locked} locked) in {s.directories} intermediate directories; {s.findings} findings")
    if fsck.settings.repair:
        line += f", {s.repaired} repaired"
    if fsck.queue_type == "normal" and fsck.settings.schema is None and s.field_files:
        seen = ", ".join(f"{name} in {count}" for name, count in sorted(s.field_files.items()))
        line += f"; field files: {seen} of {s.elements} elements (give --schema to check their content)"
    return line


class TextWriter:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def finding(self, finding: Finding) -> None:
        repaired = f" [repair: {finding.repaired}]" if finding.repaired else ""
        self.stream.write(f"{finding.id} {finding.path}: {finding.message}{repaired}\n")

    def close(self, summary: Summary) -> None:
        self.stream.flush()


class JsonWriter:
    """One JSON document, written as findings arrive (memory does not grow with their number)."""

    def __init__(self, stream: TextIO, fsck: Fsck) -> None:
        self.stream, self.first = stream, True
        settings = fsck.settings
        head = {
            "queue": fsck.top,
            "type": fsck.queue_type,
            "type_detected": fsck.detected,
            "schema": {f.name: f.type + ("?" if f.optional else "") for f in settings.schema.fields} if settings.schema else None,
            "settings": {"maxtemp": settings.maxtemp, "maxlock": settings.maxlock,
                         "umask": None if settings.umask is None else f"{settings.umask:04o}", "repair": settings.repair},
        }
        stream.write(json.dumps(head)[:-1] + ', "findings": [')

    def finding(self, finding: Finding) -> None:
        record: dict[str, Any] = {"id": finding.id, "path": finding.path, "message": finding.message, "repaired": finding.repaired}
        self.stream.write(("\n  " if self.first else ",\n  ") + json.dumps(record))
        self.first = False

    def close(self, summary: Summary) -> None:
        tail = {"intermediate_directories": summary.directories, "entries": summary.entries, "elements": summary.elements,
                "locked": summary.locked, "findings": summary.findings, "repaired": summary.repaired,
                "field_files": dict(sorted(summary.field_files.items()))}
        self.stream.write(("\n" if not self.first else "") + '], "summary": ' + json.dumps(tail) + "}\n")
        self.stream.flush()
