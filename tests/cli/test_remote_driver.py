"""A driver on another host: a role played through ``ssh`` (the command-prefix path), for real.

The test starts its own sshd on 127.0.0.1 (a throwaway host key and user key
made in tmp, a free high port), runs ``dirqkit run`` with one implementation
reached as ``ssh ... python3 -m dirqkit.drivers.ref`` over the same queue
directory, and stops sshd afterwards. Skipped, with the reason, where sshd
cannot run (not root, OpenSSH missing).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import dirqkit
import dirqref

SSHD = shutil.which("sshd") or shutil.which("sshd", path="/usr/sbin:/sbin")
IMPORT_PATH = f"{Path(dirqkit.__file__).resolve().parents[1]}:{Path(dirqref.__file__).resolve().parents[1]}"

CASES = """
cases:
  - id: remote-roundtrip
    title: a producer here and a consumer on another host share one queue directory
    requirements: [SIMPLE-GET-1]
    queue: {type: simple}
    roles: {producer: producer, consumer: consumer}
    steps:
      - {role: producer, op: add, args: {data: {text: from here}}, bind: e}
      - {role: consumer, op: lock, args: {name: $e}, expect: true}
      - {role: consumer, op: get, args: {name: $e}, expect: {text: from here}}
      - {role: consumer, op: remove, args: {name: $e}}
      - {role: producer, op: count, expect: 0}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def why_no_sshd() -> str | None:
    if os.geteuid() != 0:
        return "sshd on 127.0.0.1 needs root"
    missing = [name for name, path in (("sshd", SSHD), ("ssh", shutil.which("ssh")), ("ssh-keygen", shutil.which("ssh-keygen"))) if not path]
    return f"{', '.join(missing)} not installed (Debian packages openssh-server, openssh-client)" if missing else None


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory):
    """(ssh command prefix, sshd log): a private sshd on a free port, stopped at the end."""
    reason = why_no_sshd()
    if reason:
        pytest.skip(reason)
    home = tmp_path_factory.mktemp("sshd")
    for key in ("host_key", "user_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(home / key)], check=True)
    shutil.copy(home / "user_key.pub", home / "authorized_keys")
    port = free_port()
    (home / "sshd_config").write_text("\n".join([
        "ListenAddress 127.0.0.1", f"Port {port}", f"HostKey {home / 'host_key'}", f"PidFile {home / 'sshd.pid'}",
        f"AuthorizedKeysFile {home / 'authorized_keys'}", "PermitRootLogin prohibit-password",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no", "LogLevel INFO",
    ]) + "\n")
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege separation directory
    log = home / "sshd.log"
    server = subprocess.Popen([SSHD, "-D", "-f", str(home / "sshd_config"), "-E", str(log)])
    ssh = ["ssh", "-i", str(home / "user_key"), "-p", str(port), "-o", "StrictHostKeyChecking=no",
           "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "root@127.0.0.1"]
    try:
        deadline = time.monotonic() + 60  # a bound for a broken sshd, not a wait: we go on as soon as it answers
        while subprocess.run([*ssh, "true"], capture_output=True).returncode != 0:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.skip(f"sshd could not be started here: {log.read_text(errors='replace')[-500:] if log.exists() else 'no log'}")
            time.sleep(0.05)
        yield ssh, log
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_role_played_on_another_host_through_ssh(sshd, tmp_path):
    ssh, log = sshd
    remote = shlex.join([*ssh, "env", f"PYTHONPATH={IMPORT_PATH}", sys.executable, "-m", "dirqkit.drivers.ref"])
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "remote.yaml").write_text(CASES, encoding="utf-8")
    (tmp_path / "queues").mkdir()
    before = log.read_text(errors="replace").count("Accepted publickey")
    command = [sys.executable, "-m", "dirqkit", "run", "--cases", str(tmp_path / "cases"), "--dir", str(tmp_path / "queues"),
               "--driver", remote, "--name", "remote-ref", "--impl", "ref,remote-ref", "--role", "producer=ref",
               "--role", "consumer=remote-ref", "-j", "0", "--results", str(tmp_path / "results"), "--json", str(tmp_path / "out.json")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    records = json.loads((tmp_path / "out.json").read_text())["records"]
    assert [(r["roles"], r["outcome"]) for r in records] == [({"producer": "ref", "consumer": "remote-ref"}, "PASS")]
    # the remote role really went through sshd (the driver started to probe it then plays the role)
    assert log.read_text(errors="replace").count("Accepted publickey") > before
    assert not any((tmp_path / "queues").iterdir())  # the case's scratch was made under --dir, and removed after a pass
