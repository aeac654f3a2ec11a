"""The labeling queues the server built, one per labeler: the only faces a label can be given to.

A label names a queue item by its id; the crop stored is the server's own
crop of that item, never an image sent with the label, so nobody can store
arbitrary images (noise, a 55 MB GIF) as training data. Each queue holds at
most ``MASKFACE_QUEUE_MAX_FACES`` faces; a labeler's new queue replaces their
old one, a queue goes when the browser session that built it closes
(:meth:`LabelQueues.forget`) or after :data:`IDLE_SECONDS` unused, and beyond
:data:`QUEUES_HELD` x that many faces in all the least recently used queues
go. A released queue's crops (one array, see :func:`maskface.labels.build_queue`)
go back to the system at once, and the C heap is trimmed of what the
analysis left (``malloc_trim``), so memory returns to where it was.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from ..labels import LabelError, LabelQueue, QueueItem

#: A queue nobody used for this long is dropped.
IDLE_SECONDS = 30 * 60
#: Faces held in all queues together: this many full queues.
QUEUES_HELD = 8


@dataclass
class HeldQueue:
    """One labeler's queue: its items by id, in labeling order."""

    task: str
    items: dict[str, QueueItem]
    used: float
    session: str

    @property
    def faces(self) -> int:
        return len(self.items)


class LabelQueues:
    """Every labeler's current queue, with the limits above."""

    def __init__(self, max_faces: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_faces = max_faces
        self._clock = clock
        self._queues: OrderedDict[str, HeldQueue] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, labeler: str, queue: LabelQueue, session: str = "") -> list[str]:
        """Hold ``queue`` as ``labeler``'s (replacing theirs), built by browser ``session``; return its item ids."""
        ids = [uuid.uuid4().hex for _ in queue.items]
        held = HeldQueue(queue.task, dict(zip(ids, queue.items)), self._clock(), session)
        with self._lock:
            self._queues.pop(labeler, None)
            self._queues[labeler] = held
            self._expire()
        _trim()
        return ids

    def item(self, labeler: str, item_id: str, task: str) -> QueueItem:
        """The item ``item_id`` of ``labeler``'s queue; :class:`LabelError` when the server did not queue it for them."""
        with self._lock:
            self._expire()
            held = self._queues.get(labeler)
            item = held.items.get(item_id) if held is not None else None
            if item is None:
                raise LabelError(
                    "this face is not in your labeling queue (the queue may have expired): build the queue again"
                )
            if held.task != task:
                raise LabelError(f"your queue was built for {held.task}: build it again for {task}")
            held.used = self._clock()
            self._queues.move_to_end(labeler)
            return item

    def after(self, labeler: str, item_id: str) -> str:
        """The id of the item that follows ``item_id`` in ``labeler``'s queue ("" after the last one)."""
        with self._lock:
            held = self._queues.get(labeler)
            ids = list(held.items) if held is not None else []
        return ids[ids.index(item_id) + 1] if item_id in ids[:-1] else ""

    def release(self, labeler: str) -> None:
        """Drop ``labeler``'s queue and give its memory back."""
        with self._lock:
            dropped = self._queues.pop(labeler, None)
        if dropped is not None:
            del dropped
            _trim()

    def forget(self, session: str) -> None:
        """The browser session ``session`` closed: drop the queues it built and give their memory back."""
        with self._lock:
            dropped = [self._queues.pop(k) for k, q in list(self._queues.items()) if session and q.session == session]
        if dropped:
            del dropped
            _trim()

    def faces(self) -> int:
        """Faces held in all queues."""
        with self._lock:
            return sum(q.faces for q in self._queues.values())

    def _expire(self) -> None:
        """Drop idle queues, then the least recently used ones beyond the total (the caller holds the lock)."""
        now = self._clock()
        for labeler in [k for k, q in self._queues.items() if now - q.used > IDLE_SECONDS]:
            del self._queues[labeler]
        while len(self._queues) > 1 and sum(q.faces for q in self._queues.values()) > QUEUES_HELD * self.max_faces:
            self._queues.popitem(last=False)


def _trim() -> None:
    """Give the C heap's free memory back to the system (glibc's ``malloc_trim``; a no-op elsewhere)."""
    name = ctypes.util.find_library("c")
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError, TypeError):
        pass
