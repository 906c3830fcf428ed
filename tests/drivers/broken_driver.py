"""A driver that breaks the protocol in one chosen way (tests of the kit's client).

Usage: python broken_driver.py MODE. It answers hello correctly, then on the
next request behaves as MODE says:

crash           writes to stderr and exits with status 3
exit            exits with status 0 without replying
hang            never replies
garbage         prints a line that is not JSON
wrong-seq       replies with the wrong seq
bad-error       replies with an error whose kind is not in the vocabulary
schema-invalid  replies ok with a result of the wrong type ("yes")
stubborn        replies normally, but ignores SIGTERM and end of input
grandchild      replies normally, after starting a child process that sleeps
                (its pid is announced as hello's implementation.version)
unavailable     answers hello with unsupported
"""

import json
import os
import signal
import subprocess
import sys
import time

mode = sys.argv[1]
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) if mode == "grandchild" else None
if mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def send(reply):
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    request = json.loads(line)
    seq = request["seq"]
    if request["op"] == "hello":
        if mode == "unavailable":
            send({"seq": seq, "ok": False, "error": {"kind": "unsupported", "message": "library libfoo missing", "effect": "none"}})
            continue
        version = str(child.pid) if child else "0"
        send({"seq": seq, "ok": True, "result": {"protocol": 1, "implementation": {"name": "broken", "language": "python", "version": version},
                                                 "queue_types": ["simple"], "roles": ["producer"], "features": []}})
        continue
    if mode == "crash":
        sys.stderr.write("boom: simulated crash in " + request["op"] + "\n")
        sys.stderr.flush()
        os._exit(3)
    if mode == "exit":
        sys.exit(0)
    if mode == "hang":
        time.sleep(3600)
    if mode == "garbage":
        print("debug: this is not protocol", flush=True)
    elif mode == "wrong-seq":
        send({"seq": seq + 1, "ok": True, "result": None})
    elif mode == "bad-error":
        send({"seq": seq, "ok": False, "error": {"kind": "oops", "message": "?"}})
    elif mode == "schema-invalid":
        send({"seq": seq, "ok": True, "result": "yes"})
    else:
        send({"seq": seq, "ok": True, "result": None})
if mode == "stubborn":
    time.sleep(3600)
