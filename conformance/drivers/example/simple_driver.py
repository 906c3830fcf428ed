#!/usr/bin/env python3
"""A minimal driver, standalone, stdlib only: a template for writing your own.

It speaks dirqkit driver protocol v1 (conformance/PROTOCOL.md) for a toy
Simple queue written in this file, so that it depends on nothing: replace
the ``ToyQueue`` class with calls into your implementation. It is
deliberately self-contained (no dirqkit import), as a driver in another
language would be. Check it with:

    dirqkit driver-check python3 conformance/drivers/example/simple_driver.py
"""

import base64
import errno
import hashlib
import json
import os
import re
import sys
import time

NAME = re.compile(r"[0-9a-f]{8}/[0-9a-f]{14}")
QUEUE_OPS = {"add", "add_path", "lock", "unlock", "touch", "get", "get_path", "remove",
             "count", "list", "purge", "produce", "consume", "close"}


class QueueError(Exception):
    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


class ToyQueue:
    """Just enough of a Simple queue (SPEC.md, SIMPLE-*) for the example."""

    def __init__(self, path, granularity=60):
        self.path = path
        self.granularity = granularity
        os.makedirs(path, exist_ok=True)

    def _path(self, name):
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise QueueError("invalid_name", f"invalid element name {name!r}")
        return f"{self.path}/{name}"

    def _new_name(self):
        now = time.time_ns() // 1000
        return f"{now // 1_000_000:08x}{now % 1_000_000:05x}{os.getpid() % 16:01x}"

    def add(self, data):
        now = int(time.time())
        directory = "%08x" % (now - now % self.granularity if self.granularity else now)
        os.makedirs(f"{self.path}/{directory}", exist_ok=True)
        while True:
            temp = f"{self.path}/{directory}/{self._new_name()}.tmp"
            try:
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                break
            except FileExistsError:
                continue
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        return self._publish(temp, directory)

    def add_path(self, path):
        now = int(time.time())
        directory = "%08x" % (now - now % self.granularity if self.granularity else now)
        os.makedirs(f"{self.path}/{directory}", exist_ok=True)
        return self._publish(path, directory)

    def _publish(self, source, directory):
        while True:
            name = f"{directory}/{self._new_name()}"
            try:
                os.link(source, f"{self.path}/{name}")
            except FileExistsError:
                continue
            os.unlink(source)
            return name

    def lock(self, name, permissive=True):
        path = self._path(name)
        try:
            os.link(path, path + ".lck")
            os.utime(path)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOENT):
                raise
            if permissive:
                return False
            raise QueueError("locked" if exc.errno == errno.EEXIST else "not_found", str(exc)) from None
        return True

    def unlock(self, name, permissive=False):
        try:
            os.unlink(self._path(name) + ".lck")
        except FileNotFoundError as exc:
            if permissive:
                return False
            raise QueueError("not_locked", str(exc)) from None
        return True

    def touch(self, name):
        try:
            os.utime(self._path(name))
        except FileNotFoundError as exc:
            raise QueueError("not_found", str(exc)) from None

    def get(self, name):
        try:
            with open(self._path(name) + ".lck", "rb") as source:
                return source.read()
        except FileNotFoundError as exc:
            raise QueueError("not_locked", str(exc)) from None

    def get_path(self, name):
        return self._path(name) + ".lck"

    def remove(self, name):
        path = self._path(name)
        if not os.path.exists(path + ".lck"):
            raise QueueError("not_locked", f"{name} is not locked")
        os.unlink(path)
        os.unlink(path + ".lck")

    def names(self):
        for directory in sorted(d for d in os.listdir(self.path) if re.fullmatch(r"[0-9a-f]{8}", d)):
            try:
                entries = os.listdir(f"{self.path}/{directory}")
            except FileNotFoundError:
                continue
            yield from sorted(f"{directory}/{e}" for e in entries if re.fullmatch(r"[0-9a-f]{14}", e))

    def purge(self, maxtemp=300, maxlock=600):
        now = time.time()
        for directory in os.listdir(self.path):
            for entry in os.listdir(f"{self.path}/{directory}"):
                limit = maxtemp if entry.endswith(".tmp") else maxlock if entry.endswith(".lck") else 0
                path = f"{self.path}/{directory}/{entry}"
                if limit and os.lstat(path).st_mtime < now - limit:
                    os.unlink(path)


def now():
    """History timestamps: wall clock in integer microseconds."""
    return time.time_ns() // 1000


def payload(seed, index, size):
    """The protocol's produce payload (PROTOCOL.md, 2.3)."""
    digests = (hashlib.sha256(f"{seed}:{index}:{k}".encode()).hexdigest() for k in range((size + 63) // 64))
    return "".join(digests)[:size].encode("ascii")


class Driver:
    def __init__(self):
        self.queues = {}

    def hello(self, request):
        if request.get("protocol") != 1:
            raise QueueError("unsupported", "this driver speaks protocol 1 only")
        return {"protocol": 1, "implementation": {"name": "example", "language": "python", "version": "1"},
                "queue_types": ["simple"], "roles": ["producer", "consumer", "purger"], "features": ["batch"],
                "options": {"simple": ["granularity"]}}

    def open(self, request):
        if request["type"] != "simple":
            raise QueueError("unsupported", f"no {request['type']} queues here")
        options = request.get("options", {})
        if set(options) - {"granularity"}:
            raise QueueError("unsupported", f"unknown options {sorted(options)}")
        handle = f"q{len(self.queues) + 1}"
        self.queues[handle] = ToyQueue(request["path"], **options)
        return handle

    def produce(self, queue, request):
        history, count = [], 0
        for index in range(request["count"]):
            data = payload(request["seed"], index, request["size"])
            history.append({"type": "invoke", "op": "add", "index": index, "sha256": hashlib.sha256(data).hexdigest(), "time": now()})
            name = queue.add(data)
            history.append({"type": "ok", "op": "add", "index": index, "name": name, "time": now()})
            count += 1
        return {"count": count, "history": history}

    def consume(self, queue, request):
        history, count, limit = [], 0, request.get("limit")
        progress = True
        while progress and (limit is None or count < limit):
            progress = False
            for name in queue.names():
                if limit is not None and count >= limit:
                    break
                history.append({"type": "invoke", "op": "lock", "name": name, "time": now()})
                if not queue.lock(name):
                    history.append({"type": "fail", "op": "lock", "name": name, "time": now()})
                    continue
                history.append({"type": "ok", "op": "lock", "name": name, "time": now()})
                history.append({"type": "invoke", "op": "get", "name": name, "time": now()})
                data = queue.get(name)
                history.append({"type": "ok", "op": "get", "name": name, "sha256": hashlib.sha256(data).hexdigest(), "time": now()})
                time.sleep(request.get("hold", 0))
                history.append({"type": "invoke", "op": "remove", "name": name, "time": now()})
                queue.remove(name)
                history.append({"type": "ok", "op": "remove", "name": name, "time": now()})
                count += 1
                progress = True
        return {"count": count, "history": history}

    def handle(self, request):
        op = request["op"]
        if op == "hello":
            return self.hello(request)
        if op == "open":
            return self.open(request)
        if op == "shutdown":
            return None
        if op not in QUEUE_OPS:
            raise QueueError("unsupported", f"unknown op {op!r}")
        queue = self.queues[request["queue"]]
        optional = {k: request[k] for k in ("permissive", "maxtemp", "maxlock") if k in request}
        if op == "add":
            return queue.add(base64.b64decode(request["data"], validate=True))
        if op == "add_path":
            return queue.add_path(request["path"])
        if op in ("lock", "unlock"):
            return getattr(queue, op)(request["name"], **optional)
        if op in ("touch", "remove", "get_path"):
            return getattr(queue, op)(request["name"])
        if op == "get":
            return base64.b64encode(queue.get(request["name"])).decode("ascii")
        if op == "count":
            return sum(1 for _ in queue.names())
        if op == "list":
            return list(queue.names())
        if op == "purge":
            return queue.purge(**optional)
        if op == "produce":
            return self.produce(queue, request)
        if op == "consume":
            return self.consume(queue, request)
        del self.queues[request["queue"]]  # close
        return None


def main():
    replies = os.fdopen(os.dup(1), "w")  # stdout is for protocol only:
    os.dup2(2, 1)  # anything else printed goes to stderr
    driver = Driver()
    for line in sys.stdin:
        request = json.loads(line)
        try:
            reply = {"seq": request["seq"], "ok": True, "result": driver.handle(request)}
        except QueueError as exc:
            reply = {"seq": request["seq"], "ok": False, "error": {"kind": exc.kind, "message": str(exc), "effect": "none"}}
        except OSError as exc:
            reply = {"seq": request["seq"], "ok": False, "error": {"kind": "io", "message": str(exc), "effect": "unknown"}}
        except Exception as exc:  # noqa: BLE001 - never die on one bad request
            reply = {"seq": request["seq"], "ok": False, "error": {"kind": "internal", "message": repr(exc), "effect": "unknown"}}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
        if request["op"] == "shutdown":
            break


if __name__ == "__main__":
    main()
