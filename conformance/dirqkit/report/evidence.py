"""What a failing run left under ``dirqkit-results/failures/``: step log, queue tree, driver transcripts.

Read when a report embeds it; every piece is capped so that one runaway
transcript cannot swell the report, and a missing or unreadable directory
yields what is there (a report is often written on another machine than the run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dirqkit.trees import treeops

LIMIT = 64 * 1024  # characters kept of each file
TREE_LINES = 200


@dataclass
class Evidence:
    directory: str
    log: str = ""
    tree: str = ""
    transcripts: dict[str, str] = field(default_factory=dict)  # file name -> text
    missing: str = ""  # why nothing could be read


def _read(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(cannot read {path.name}: {exc.strerror})"
    return text if len(text) <= LIMIT else text[:LIMIT] + f"\n... ({len(text) - LIMIT} more characters in {path})"


def read(directory: str) -> Evidence:
    evidence = Evidence(directory)
    root = Path(directory)
    if not root.is_dir():
        evidence.missing = f"{directory} is not there any more"
        return evidence
    if (root / "log.txt").is_file():
        evidence.log = _read(root / "log.txt")
    if (root / "queue").is_dir():
        try:
            evidence.tree = "\n".join(treeops.listing(root / "queue", limit=TREE_LINES)) or "(empty)"
        except OSError as exc:
            evidence.tree = f"(cannot list the queue tree: {exc.strerror})"
    for path in sorted(root.glob("transcript-*.jsonl")):
        evidence.transcripts[path.name] = _read(path)
    return evidence
