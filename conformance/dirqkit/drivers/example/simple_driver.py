#!/usr/bin/env python3
"""A minimal driver, standalone, stdlib only: a template for writing your own.

It speaks dirqkit driver protocol v1 (conformance/PROTOCOL.md) for a toy
Simple queue written in this file, so that it depends on nothing: replace
the ``ToyQueue`` class with calls into your implementation. It is
deliberately self-contained (no dirqkit import), as a driver in another
language would be. Every rule the toy follows is tagged with its SPEC.md
requirement ID; every race it tolerates is marked ``RACE:``. Check it with:

    dirqkit driver-check python3 conformance/dirqkit/drivers/example/simple_driver.py
"""

import base64
import contextlib
import errno
import hashlib
import json
import os
import random
import re
import stat
import sys
import time

ELEMENT_ID = re.compile(r"[0-9a-f]{8}/[0-9a-f]{14}")  # NAME-9: elt-id
DIRECTORY = re.compile(r"[0-9a-f]{8}")  # DIR-2: dir-name
ELEMENT = re.compile(r"[0-9a-f]{14}")  # NAME-8: elt-name
PURGEABLE = re.compile(r"[0-9a-f]{14}\.(tmp|lck)")  # SIMPLE-LAYOUT-2: simple-temp, simple-lock
OPTIONS = ("rndhex", "granularity", "maxtemp", "maxlock")  # not umask (COMMON-3): its cases are skipped
QUEUE_OPS = {"add", "add_path", "lock", "unlock", "touch", "get", "get_path", "remove",
             "count", "list", "purge", "produce", "consume", "close"}


class QueueError(Exception):
    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


def check_int(name, value, low, high=None):
    """An option that is an integer in low..high, else invalid_option (never adjusted)."""
    if type(value) is not int or value < low or (high is not None and value > high):
        bounds = f"{low}..{high}" if high is not None else f">= {low}"
        raise QueueError("invalid_option", f"option {name}: expected an integer {bounds}, got {value!r}")
    return value


class ToyQueue:
    """Just enough of a Simple queue (SPEC.md, SIMPLE-*) for the example."""

    def __init__(self, path, rndhex=None, granularity=60, maxtemp=300, maxlock=600):
        self.path = path
        self.rndhex = random.randrange(16) if rndhex is None else check_int("rndhex", rndhex, 0, 15)  # NAME-4/5
        self.granularity = check_int("granularity", granularity, 0)  # SIMPLE-DIR-2
        self.maxtemp = check_int("maxtemp", maxtemp, 0)  # COMMON-8
        self.maxlock = check_int("maxlock", maxlock, 0)  # COMMON-8
        self.last_time = 0  # microseconds of the last name generated (NAME-7)
        os.makedirs(path, exist_ok=True)  # COMMON-1, COMMON-4: a TOP that is not a directory fails (io)
        self.device = os.stat(path).st_dev  # TOP itself may be a symlink: it is followed (SEC-1)

    def _path(self, name):  # NAME-10: validate the identifier before building any path from it
        if not isinstance(name, str) or not ELEMENT_ID.fullmatch(name):
            raise QueueError("invalid_name", f"invalid element name {name!r}")
        return f"{self.path}/{name}"

    def _new_name(self):  # NAME-1..4: seconds, microseconds of one clock reading, rndhex
        self.last_time = max(time.time_ns() // 1000, self.last_time + 1)  # NAME-7: increasing
        seconds, micros = divmod(self.last_time, 1_000_000)
        return f"{seconds:08x}{micros:05x}{self.rndhex:x}"

    def _add_dir(self):  # SIMPLE-DIR-1: the wall clock in whole seconds, rounded down to the granularity
        now = int(time.time())
        return "%08x" % (now - now % self.granularity if self.granularity else now)

    def _mkdir(self, directory):  # DIR-3: one non-recursive mkdir; an existing directory is fine
        path = f"{self.path}/{directory}"
        try:
            os.mkdir(path)  # COMMON-4: mode 0777 less the process umask
        except FileExistsError:  # RACE: another producer created it meanwhile
            if not stat.S_ISDIR(os.lstat(path).st_mode):  # DIR-3, SEC-2: never through a symlink
                raise QueueError("io", f"{path} is not a directory") from None

    def add(self, data):
        directory = self._add_dir()  # SIMPLE-DIR-3: once per add
        fd, temp = self._create_temp(directory)
        try:
            with open(fd, "wb") as out:
                out.write(data)  # SIMPLE-ADD-3: all the bytes, closed before publishing
            name = self._publish(temp, directory)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)  # SIMPLE-ADD-7: a failed add leaves no temp
            raise
        with contextlib.suppress(FileNotFoundError):  # RACE: a purger took the temp for stale
            os.unlink(temp)  # SIMPLE-ADD-5
        return name

    def _create_temp(self, directory):
        while True:
            temp = f"{self.path}/{directory}/{self._new_name()}.tmp"
            try:
                return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), temp  # SIMPLE-ADD-1, COMMON-4
            except FileExistsError:
                continue  # NAME-6: name taken, try a new one
            except FileNotFoundError:  # RACE: first add in D, or a purger removed the empty D
                self._mkdir(directory)  # SIMPLE-ADD-2

    def add_path(self, path):  # SIMPLE-ADDPATH-1/2: the regular file ``path`` becomes an element
        try:
            info = os.lstat(path)  # SEC-1: a symbolic link is refused, never followed
        except FileNotFoundError:
            raise QueueError("not_found", f"cannot add {path}: no such file") from None
        if not stat.S_ISREG(info.st_mode) or info.st_dev != self.device:
            raise QueueError("invalid_data", f"cannot add {path}: not a regular file on the queue's filesystem")
        directory = self._add_dir()
        self._mkdir(directory)
        name = self._publish(path, directory)
        os.unlink(path)
        return name

    def _publish(self, source, directory):  # SIMPLE-ADD-4: link to a fresh name, never rename
        while True:
            name = f"{directory}/{self._new_name()}"
            try:
                os.link(source, f"{self.path}/{name}", follow_symlinks=False)
                return name
            except FileExistsError:
                continue  # NAME-6: name taken, try a new one
            except FileNotFoundError:
                if not os.path.lexists(source):
                    raise
                self._mkdir(directory)  # RACE: a purger removed the empty D meanwhile

    def lock(self, name, permissive=True):  # SIMPLE-LOCK-4: permissive by default
        path = self._path(name)
        try:
            os.link(path, path + ".lck", follow_symlinks=False)  # SIMPLE-LOCK-1
        except FileExistsError:
            return refuse(permissive, "locked", f"{name} is already locked")  # SIMPLE-LOCK-2
        except FileNotFoundError:
            return refuse(permissive, "not_found", f"no element {name}")  # SIMPLE-LOCK-2
        try:
            os.utime(path, follow_symlinks=False)  # SIMPLE-LOCK-3: the lock time
        except FileNotFoundError:  # RACE: another consumer locked and removed it after our link
            with contextlib.suppress(OSError):
                os.unlink(path + ".lck")
            return refuse(permissive, "not_found", f"no element {name}")
        return True

    def unlock(self, name, permissive=False):  # SIMPLE-UNLOCK-1: strict by default
        try:
            os.unlink(self._path(name) + ".lck")
        except FileNotFoundError:
            return refuse(permissive, "not_locked", f"{name} is not locked")
        return True

    def touch(self, name):
        try:
            os.utime(self._path(name), follow_symlinks=False)  # SIMPLE-TOUCH-1
        except FileNotFoundError:
            raise QueueError("not_found", f"no element {name}") from None

    def get(self, name):  # SIMPLE-GET-1: read through E.lck; SEC-1: O_NOFOLLOW; SEC-6: O_NONBLOCK
        try:
            fd = os.open(self._path(name) + ".lck", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            raise QueueError("not_locked", f"{name} is not locked") from None
        with open(fd, "rb") as source:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # SEC-6: nothing else is read
                raise QueueError("io", f"cannot read {name}: not a regular file")
            return source.read()

    def get_path(self, name):
        return self._path(name) + ".lck"  # SIMPLE-GET-2

    def remove(self, name):
        path = self._path(name)
        if not os.path.lexists(path + ".lck"):
            raise QueueError("not_locked", f"{name} is not locked")  # SIMPLE-REMOVE-1
        try:
            os.unlink(path)  # SIMPLE-REMOVE-2: the element first, then its lock
        except FileNotFoundError:
            raise QueueError("not_found", f"no element {name}") from None
        with contextlib.suppress(FileNotFoundError):  # RACE: a purger removed the orphan lock
            os.unlink(path + ".lck")  # SIMPLE-REMOVE-3

    def _directories(self):  # DIR-2, ITER-1; SEC-2: no symlink; ITER-6: TOP unlistable is io
        with os.scandir(self.path) as entries:
            return sorted(e.name for e in entries if DIRECTORY.fullmatch(e.name) and e.is_dir(follow_symlinks=False))

    def _entries(self, directory):  # one intermediate directory; ITER-2: a vanished one is empty
        try:
            with os.scandir(f"{self.path}/{directory}") as entries:
                return list(entries)
        except (FileNotFoundError, NotADirectoryError):  # RACE: purged meanwhile
            return []

    def names(self):  # ITER-1..3: in order, one directory at a time; NAME-8, ITER-4: regular files
        for directory in self._directories():
            elements = (e.name for e in self._entries(directory)
                        if ELEMENT.fullmatch(e.name) and e.is_file(follow_symlinks=False))
            yield from (f"{directory}/{name}" for name in sorted(elements))

    def purge(self, maxtemp=None, maxlock=None):  # SIMPLE-PURGE-1: the queue's options by default
        maxtemp = self.maxtemp if maxtemp is None else check_int("maxtemp", maxtemp, 0)  # COMMON-8
        maxlock = self.maxlock if maxlock is None else check_int("maxlock", maxlock, 0)
        now = time.time_ns()  # COMMON-5: the purger's wall clock, read once
        directories = self._directories()
        if maxtemp or maxlock:
            for directory in directories:
                self._purge_files(directory, now, {".tmp": maxtemp, ".lck": maxlock})
        for directory in directories[:-1]:  # SIMPLE-PURGE-5: never the greatest
            try:
                os.rmdir(f"{self.path}/{directory}")  # SIMPLE-PURGE-6: fails on any content
            except OSError as exc:  # RACE: another purger, or a producer adding to it
                if exc.errno not in (errno.ENOENT, errno.ENOTEMPTY, errno.EEXIST):
                    raise

    def _purge_files(self, directory, now, limits):  # SIMPLE-PURGE-2/3, COMMON-5/6: stale lstat mtime
        for entry in self._entries(directory):
            limit = limits[entry.name[14:]] if PURGEABLE.fullmatch(entry.name) else 0
            if not limit:
                continue  # SIMPLE-PURGE-4, COMMON-2: not ours, or that class is disabled
            try:
                info = entry.stat(follow_symlinks=False)  # a directory is foreign (SIMPLE-PURGE-4)
                if not stat.S_ISDIR(info.st_mode) and info.st_mtime_ns < now - limit * 1_000_000_000:
                    os.unlink(entry.path)
            except FileNotFoundError:
                pass  # RACE: unlocked, removed or purged meanwhile (at the lstat or the unlink)


def refuse(permissive, kind, message):
    """SPEC 3.5: an expected lost race is False when permissive, an error of ``kind`` when strict."""
    if permissive:
        return False
    raise QueueError(kind, message)


class Clock:
    """History times (PROTOCOL.md 2.4): wall clock microseconds, each as the delta from the previous one."""

    def __init__(self):
        self.t0 = self.last = time.time_ns() // 1000

    def __call__(self):
        now = time.time_ns() // 1000
        delta, self.last = now - self.last, now
        return delta


def payload(seed, index, size):
    """The protocol's produce payload (PROTOCOL.md, 2.3)."""
    digests = (hashlib.sha256(f"{seed}:{index}:{k}".encode()).hexdigest() for k in range((size + 63) // 64))
    return "".join(digests)[:size].encode("ascii")


def error_of(exc):
    """PROTOCOL.md 2 and 3: the error object; effect unknown when the step may have happened."""
    if isinstance(exc, QueueError):
        return {"kind": exc.kind, "message": str(exc), "effect": "none"}
    if isinstance(exc, OSError):
        return {"kind": "io", "message": str(exc), "effect": "unknown"}
    return {"kind": "internal", "message": repr(exc), "effect": "unknown"}


def ended(op, where, error, when):
    """The event of a step that raised: fail, or info when its effect is unknown (PROTOCOL.md 2.3)."""
    return {"type": "info" if error["effect"] == "unknown" else "fail", "op": op, **where, "error": error, "time": when}


def events(form, when, rows):
    """Compact rows -> the events form (PROTOCOL.md 2.3, deprecated), for requests that do not ask for rows."""
    history = []
    for index, row in enumerate(rows):
        if form == "adds":  # [sha256, delta invoke, delta end, name | error]
            when += row[1]
            history.append({"type": "invoke", "op": "add", "index": index, "sha256": row[0], "time": when})
            when += row[2]
            outcome = row[3]
            history.append(ended("add", {"index": index}, outcome, when) if isinstance(outcome, dict)
                           else {"type": "ok", "op": "add", "index": index, "name": outcome, "time": when})
            continue
        name, items = row[0], list(reversed(row[1:]))
        if name is None:  # [null, delta, error]: the iteration failed
            when += row[1]
            history.append(ended("list", {}, row[2], when))
            continue
        for op in ("lock", "get", "remove"):  # [name, delta x 4, sha256, delta x 2], cut short
            when += items.pop()
            history.append({"type": "invoke", "op": op, "name": name, "time": when})
            when += items.pop()
            if op == "lock" and not items:
                history.append({"type": "fail", "op": "lock", "name": name, "time": when})
                break
            if items and isinstance(items[-1], dict):
                history.append(ended(op, {"name": name}, items.pop(), when))
                break
            done = {"type": "ok", "op": op, "name": name, "time": when}
            if op == "get":
                done["sha256"] = items.pop()
            history.append(done)
    return history


def batch_result(request, count, clock, form, rows):
    """PROTOCOL.md 2.4: compact rows when the request asks for them, else the events form."""
    if request.get("history") == "compact":
        return {"count": count, "t0": clock.t0, form: rows}
    return {"count": count, "history": events(form, clock.t0, rows)}


class Driver:
    def __init__(self):
        self.queues = {}

    def hello(self, request):
        if request.get("protocol") != 1:
            raise QueueError("unsupported", "this driver speaks protocol 1 only")
        return {"protocol": 1, "implementation": {"name": "example", "language": "python", "version": "1"},
                "queue_types": ["simple"], "roles": ["producer", "consumer", "purger"], "features": ["batch", "compact-history"],
                "options": {"simple": list(OPTIONS)}}

    def open(self, request):
        if request["type"] != "simple":
            raise QueueError("unsupported", f"no {request['type']} queues here")
        options = request.get("options", {})
        if set(options) - set(OPTIONS):
            raise QueueError("unsupported", f"unknown options {sorted(set(options) - set(OPTIONS))}")
        handle = f"q{len(self.queues) + 1}"
        self.queues[handle] = ToyQueue(request["path"], **options)
        return handle

    def produce(self, queue, request):
        rows, count, seed, size, clock = [], 0, request["seed"], request["size"], Clock()
        try:
            for index in range(request["count"]):
                data = payload(seed, index, size)
                row = [hashlib.sha256(data).hexdigest(), clock()]
                rows.append(row)
                name = queue.add(data)
                row += [clock(), name]
                count += 1
        except Exception as exc:  # noqa: BLE001 - recorded in the history, ends the batch
            row += [clock(), error_of(exc)]
        return batch_result(request, count, clock, "adds", rows)

    def consume(self, queue, request):
        rows, count, limit, hold, clock = [], 0, request.get("limit"), request.get("hold", 0), Clock()
        row = None  # the lock attempt under way; None while iterating
        try:
            progress = True
            while progress and (limit is None or count < limit):
                progress = False
                for name in queue.names():
                    if limit is not None and count >= limit:
                        break
                    row = [name, clock()]
                    rows.append(row)
                    if not queue.lock(name):
                        row.append(clock())
                        row = None
                        continue  # CONC-4: locked by another consumer, or gone
                    row += [clock(), clock()]
                    data = queue.get(name)
                    row += [clock(), hashlib.sha256(data).hexdigest()]
                    time.sleep(hold)
                    row.append(clock())
                    queue.remove(name)
                    row.append(clock())
                    row = None
                    count += 1
                    progress = True
        except Exception as exc:  # noqa: BLE001 - recorded in the history, ends the batch
            if row is None:
                rows.append([None, clock(), error_of(exc)])
            else:
                row += [clock(), error_of(exc)]
        return batch_result(request, count, clock, "locks", rows)

    def handle(self, request):
        op = request["op"]
        if op in ("hello", "open"):
            return getattr(self, op)(request)
        if op == "shutdown":
            return None
        if op not in QUEUE_OPS:
            raise QueueError("unsupported", f"unknown op {op!r}")
        queue = self.queues[request["queue"]]
        if op == "add":
            return queue.add(base64.b64decode(request["data"], validate=True))
        if op == "get":
            return base64.b64encode(queue.get(request["name"])).decode("ascii")
        if op == "count":
            return sum(1 for _ in queue.names())  # SIMPLE-COUNT-1: what iteration would yield
        if op == "list":
            return list(queue.names())
        if op in ("produce", "consume"):
            return getattr(self, op)(queue, request)
        if op == "close":
            del self.queues[request["queue"]]
            return None
        # add_path, lock, unlock, touch, get_path, remove, purge: omitted optional arguments
        # are not filled in, so that the queue's own defaults are what is tested
        args = {k: request[k] for k in ("path", "name", "permissive", "maxtemp", "maxlock") if k in request}
        return getattr(queue, op)(**args)


def main():
    replies = os.fdopen(os.dup(1), "w")  # stdout is for protocol only:
    os.dup2(2, 1)  # anything else printed goes to stderr
    driver = Driver()
    for line in sys.stdin:
        request, seq = {}, None
        try:
            parsed = json.loads(line)
            if not isinstance(parsed, dict) or not isinstance(parsed.get("seq"), int):
                raise QueueError("internal", "a request is a JSON object with an integer seq")
            request, seq = parsed, parsed["seq"]
            reply = {"seq": seq, "ok": True, "result": driver.handle(request)}
        except Exception as exc:  # noqa: BLE001 - never die on one bad request (not JSON: seq null)
            reply = {"seq": seq, "ok": False, "error": error_of(exc)}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
        if request.get("op") == "shutdown":
            break


if __name__ == "__main__":
    main()
