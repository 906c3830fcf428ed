"""QueueSet: iterate several queues as one, merged by element name (SET-1..6)."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Protocol

from .errors import InvalidOption, NotFound


class Queue(Protocol):
    """What a set member must offer (QueueSimple, QueueNormal, QueueNull)."""

    @property
    def id(self) -> str: ...

    def __iter__(self) -> Iterator[str]: ...

    def count(self) -> int: ...


class QueueSet:
    """An ordered set of queues, keyed by their TOP's device:inode (SET-3)."""

    def __init__(self, *queues: Queue) -> None:
        self._members: list[Queue] = []
        self._version = 0
        for queue in queues:
            self.add(queue)

    def __repr__(self) -> str:
        return f"QueueSet({', '.join(map(repr, self._members))})"

    @property
    def queues(self) -> tuple[Queue, ...]:
        """The members in the order they were added (SET-2)."""
        return tuple(self._members)

    def add(self, queue: Queue) -> None:
        """SET-3: add a member; a queue with the same TOP already present is an error."""
        if not hasattr(queue, "id") or not hasattr(queue, "count"):
            raise InvalidOption(f"not a queue: {queue!r}")
        if any(member.id == queue.id for member in self._members):
            raise InvalidOption(f"queue {queue!r} is already in the set (id {queue.id})")
        self._members.append(queue)
        self._version += 1  # SET-5

    def remove(self, queue: Queue) -> None:
        """SET-3: remove a member (matched by TOP); an absent queue is an error."""
        for index, member in enumerate(self._members):
            if member.id == queue.id:
                del self._members[index]
                self._version += 1  # SET-5
                return
        raise NotFound(f"queue {queue!r} is not in the set")

    def count(self) -> int:
        """SET-4: sum of the member counts."""
        return sum(member.count() for member in self._members)

    def __iter__(self) -> Iterator[tuple[Queue, str]]:
        """SET-1, SET-2, SET-5, SET-6: (queue, id) pairs merged lazily by element name.

        Adding or removing a member while iterating restarts the iteration,
        also when the change comes after the last pair was yielded.
        """
        version = None
        while version != self._version:
            version = self._version
            for _, _, name, queue in self._merged():
                if self._version != version:
                    break  # SET-5: restart over the new members
                yield queue, name

    def _merged(self) -> Iterator[tuple[str, int, str, Queue]]:
        # SET-1: key = element name (last 14 chars of the id); SET-2: ties by member order.
        # Names within one member differ, so comparison never reaches the queue object.
        return heapq.merge(*(_keyed(index, member) for index, member in enumerate(self._members)))


def _keyed(index: int, queue: Queue) -> Iterator[tuple[str, int, str, Queue]]:
    for name in queue:
        yield name[-14:], index, name, queue
