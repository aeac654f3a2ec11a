"""Limits per visitor: a browser session's share of the request queue, and labels per labeler per minute.

Gradio's queue bounds the requests waiting in all (``queue(max_size=...)``)
and those running per event (``concurrency_limit``), but not how many one
session holds: one client queuing dozens of jobs would fill the queue for
everybody. :class:`SessionShare` admits a request before it is queued (the
event's ``validator``, which Gradio runs before queuing) only while its
session holds fewer than its share, and counts it released when its handler
ends (:meth:`SessionShare.counted`) or its session closes (:meth:`SessionShare.forget`).
A determined client can open many sessions; ``queue(max_size=...)`` still
bounds them all together.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

import gradio as gr

#: An admission is forgotten after this long even if its request never ran (a job dropped from the queue).
ADMISSION_SECONDS = 15 * 60
#: The concurrency group of the requests that run the models (photos, identification, enrolment, labeling
#: queues): ``MASKFACE_CONCURRENCY`` of them at once in all, so the CPU is never shared by more.
MODELS = "models"


class SessionShare:
    """At most ``limit`` requests per browser session waiting or running at once."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._held: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()

    def admit(self, session: str) -> bool:
        """Count one more request of ``session`` if it holds fewer than its share; whether it did."""
        now = self._clock()
        with self._lock:
            held = [t for t in self._held[session] if now - t < ADMISSION_SECONDS]
            if len(held) >= self.limit:
                self._held[session] = held
                return False
            self._held[session] = [*held, now]
            return True

    def release(self, session: str) -> None:
        """One request of ``session`` ended."""
        with self._lock:
            held = self._held.get(session)
            if held:
                held.pop(0)
            if not held:
                self._held.pop(session, None)

    def forget(self, session: str) -> None:
        """The session closed (``demo.unload``): whatever it still held is released."""
        with self._lock:
            self._held.pop(session, None)

    def validator(self, inputs: int) -> Callable:
        """An event ``validator`` for an event with ``inputs`` input components: admits the request or refuses it."""

        def admit(*values):
            request = values[-1]
            if self.admit(request.session_hash or ""):
                return [gr.validate(True, "")] * max(inputs, 1)
            message = (
                f"You already have {self.limit} requests waiting or running: wait for them to finish, then try again."
            )
            return [gr.validate(False, message)] + [gr.validate(True, "")] * max(inputs - 1, 0)

        # Gradio passes the inputs positionally and the request where a parameter is annotated gr.Request.
        parameters = [inspect.Parameter(f"input_{i}", inspect.Parameter.POSITIONAL_ONLY) for i in range(inputs)]
        parameters.append(inspect.Parameter("request", inspect.Parameter.POSITIONAL_ONLY, annotation=gr.Request))
        admit.__signature__ = inspect.Signature(parameters)
        admit.__annotations__ = {"request": gr.Request}
        return admit

    def counted(self, handler: Callable) -> Callable:
        """``handler`` (which takes a ``request: gr.Request``) releasing its session's admission when it ends."""
        signature = inspect.signature(handler)
        if "request" not in signature.parameters:
            raise TypeError(f"{handler.__name__} needs a `request: gr.Request` parameter to be counted per session")

        @functools.wraps(handler)
        def run(*args, **kwargs):
            try:
                return handler(*args, **kwargs)
            finally:
                request = signature.bind_partial(*args, **kwargs).arguments.get("request")
                if request is not None:
                    self.release(request.session_hash or "")

        return run

    def listen(self, listener: Callable, handler: Callable, inputs: list, outputs: list, **options):
        """``listener(handler, inputs, outputs, ...)`` (an event such as ``button.click``), counted against the share.

        The event joins the :data:`MODELS` concurrency group unless ``options`` name another.
        """
        options.setdefault("concurrency_id", MODELS)
        return listener(self.counted(handler), inputs, outputs, validator=self.validator(len(inputs)), **options)


class RateLimit:
    """At most ``per_minute`` actions per key in any 60 seconds."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._times: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def wait(self, key: str) -> float:
        """Seconds until ``key`` may act again (0: now)."""
        now = self._clock()
        with self._lock:
            times = self._times[key]
            while times and now - times[0] >= 60:
                times.popleft()
            if not times:
                self._times.pop(key, None)
            return 0.0 if len(times) < self.per_minute else 60 - (now - times[0])

    def record(self, key: str) -> None:
        """``key`` acted now."""
        with self._lock:
            self._times[key].append(self._clock())
