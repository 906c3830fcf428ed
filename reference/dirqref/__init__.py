"""dirqref: the reference implementation of the directory queue format (SPEC.md)."""

from .normal import QueueNormal
from .null import QueueNull
from .queueset import QueueSet
from .simple import QueueSimple

__all__ = ["QueueNormal", "QueueNull", "QueueSet", "QueueSimple"]
