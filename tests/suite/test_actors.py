"""Starting drivers: a start-up failure of the faketime wrapper is retried; the driver's own is not."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from dirqkit.drivers.client import DriverError
from dirqkit.suite.actors import FAKETIME_STARTS, DriverPool

REF = [sys.executable, "-m", "dirqkit.drivers.ref"]


def fake_faketime(bin_dir: Path, failures: int) -> None:
    """A ``faketime`` that fails as the wrapper does on a stale semaphore ``failures`` times, then runs the command."""
    bin_dir.mkdir()
    count = bin_dir / "count"
    count.write_text("0")
    script = bin_dir / "faketime"
    script.write_text(f"""#!/bin/sh
n=$(cat {count}); echo $((n + 1)) > {count}
if [ "$n" -lt {failures} ]; then
  echo "faketime: sem_open: File exists" >&2; exit 1
fi
shift 2; exec "$@"
""")
    script.chmod(0o755)


@pytest.fixture
def pool():
    made = DriverPool(timeout=30)
    yield made
    made.close_all()


def test_a_stale_faketime_semaphore_is_retried(tmp_path, monkeypatch, pool):
    fake_faketime(tmp_path / "bin", failures=FAKETIME_STARTS - 1)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    client = pool.start("ref", REF, faketime="@2030-01-01 00:00:00")
    assert client.hello["implementation"]
    assert (tmp_path / "bin" / "count").read_text().strip() == str(FAKETIME_STARTS)


def test_the_retries_are_bounded(tmp_path, monkeypatch, pool):
    fake_faketime(tmp_path / "bin", failures=FAKETIME_STARTS)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    with pytest.raises(DriverError, match="CRASH|exited"):
        pool.start("ref", REF, faketime="@2030-01-01 00:00:00")
    assert (tmp_path / "bin" / "count").read_text().strip() == str(FAKETIME_STARTS)


def test_a_driver_that_dies_by_itself_is_not_retried(pool):
    with pytest.raises(DriverError):
        pool.start("dead", [sys.executable, "-c", "import sys; sys.stderr.write('sem_open: File exists'); sys.exit(1)"])
