"""Where a benchmark ran, and where its JSON report is kept (tools/bench/results/).

A report carries the machine (cores, CPU model, kernel, Python) and the load
average when it started, so that a later run can be compared with it, or
discounted when the machine was busy.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "cpu_model": cpu_model(),
        "kernel": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def save(tool: str, report: dict[str, Any], started: dict[str, Any], directory: Path = RESULTS) -> Path:
    """Write ``report`` with the machine (as ``started`` saw it) and the command line; return the file."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"{tool}-{stamp}-{os.getpid()}.json"
    document = {"tool": tool, "command": [Path(sys.argv[0]).name, *sys.argv[1:]], "utc": stamp,
                "machine": {**started, "load_average_at_end": [round(x, 2) for x in os.getloadavg()]}, **report}
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path
