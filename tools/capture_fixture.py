#!/usr/bin/env python3
"""Turn a live queue directory into a tree manifest (YAML), for fixtures/.

Every path under QUEUE is recorded with its kind, content (text when it is
printable UTF-8, else base64), mode and age: seconds before the moment of the
capture, which the manifest records as ``captured``. Symbolic links inside the
queue are recorded as links and never followed (only QUEUE itself may be one);
a second name of a file already seen (a Simple lock) is recorded as a ``link``.
The manifest also lists the elements (with their payloads: Simple always,
Normal when --schema is given), their lock state and the leftovers (``.tmp``
files, ``temporary/`` and ``obsolete/`` entries). Add the ``findings`` that
``dirqkit fsck`` must report by hand, after review. See fixtures/README.md.

    python3 tools/capture_fixture.py QUEUE [-o OUT.yaml] [--name NAME] [--description TEXT]
                                     [--type simple|normal] [--schema JSON]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dirqkit.trees.manifest import FixtureError, capture, dump
from dirqref.errors import InvalidSchema
from dirqref.schema import Schema


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("queue", type=Path, metavar="QUEUE", help="the queue directory (TOP)")
    parser.add_argument("-o", "--output", type=Path, help="write the manifest here (default: stdout)")
    parser.add_argument("--name", help="fixture name (default: the directory's name)")
    parser.add_argument("--description", default="", help="what the tree shows and how it was made")
    parser.add_argument("--type", choices=("simple", "normal"), help="queue type (default: normal if TOP has temporary/ or obsolete/)")
    parser.add_argument("--schema", help="Normal schema as JSON, to record the elements' payloads")
    args = parser.parse_args(argv)
    try:
        schema = json.loads(args.schema) if args.schema else None
        if schema is not None:
            Schema.parse(schema)
        tree = capture(args.queue, queue_type=args.type, schema=schema, name=args.name, description=args.description)
    except (ValueError, InvalidSchema, FixtureError, OSError) as exc:
        print(f"capture_fixture: {exc}", file=sys.stderr)
        return 2
    text = dump(tree)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"capture_fixture: wrote {args.output} ({len(tree.nodes)} entries, {len(tree.elements)} elements)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
