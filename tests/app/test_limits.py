"""Per-visitor limits (maskface.app.limits) and the server-held labeling queues (maskface.app.queues)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from maskface.app.limits import ADMISSION_SECONDS, RateLimit, SessionShare
from maskface.app.queues import IDLE_SECONDS, QUEUES_HELD, LabelQueues
from maskface.face import Prediction
from maskface.labels import LabelError, LabelQueue, QueueItem


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_holds_at_most_its_share_until_its_requests_end():
    clock = Clock()
    share = SessionShare(2, clock)
    assert share.admit("a") and share.admit("a") and not share.admit("a")
    assert share.admit("b")  # another session is not held back
    share.release("a")
    assert share.admit("a") and not share.admit("a")
    share.forget("a")  # the session closed
    assert share.admit("a")
    clock.now += ADMISSION_SECONDS  # a request dropped from the queue without running is forgotten in time
    assert share.admit("b") and share.admit("b")


def test_the_validator_refuses_with_a_clear_message_and_the_handler_releases():
    share = SessionShare(1)
    request = SimpleNamespace(session_hash="s")
    validate = share.validator(2)
    assert [v["is_valid"] for v in validate("x", "y", request)] == [True, True]
    refused = validate("x", "y", request)
    assert refused[0]["is_valid"] is False and "You already have 1 requests waiting or running" in refused[0]["message"]

    def handler(value, request):
        raise ValueError("bad input")

    with pytest.raises(ValueError):
        share.counted(handler)("x", request)  # ends in an error: released all the same
    assert validate("x", "y", request)[0]["is_valid"] is True
    with pytest.raises(TypeError, match="needs a `request: gr.Request` parameter"):
        share.counted(lambda value: value)


def test_labels_per_minute():
    clock = Clock()
    rate = RateLimit(2, clock)
    rate.record("a")
    rate.record("a")
    assert rate.wait("a") == 60 and rate.wait("b") == 0
    clock.now += 45
    assert rate.wait("a") == 15
    clock.now += 15
    assert rate.wait("a") == 0


def queue(faces: int, task: str = "mask") -> LabelQueue:
    block = np.zeros((faces, 8, 8, 3), np.uint8)
    items = [QueueItem(block[i], f"p{i}.jpg", (0, 0, 8, 8), {task: Prediction("with_mask", 0.5)}) for i in range(faces)]
    return LabelQueue(task, items, [])


def test_a_label_names_an_item_the_server_queued_for_that_labeler():
    queues = LabelQueues(max_faces=10)
    first, second = queues.put("ada", queue(2), session="s1")
    assert queues.item("ada", second, "mask").source == "p1.jpg"
    assert queues.after("ada", first) == second and queues.after("ada", second) == ""
    for labeler, item, task, message in (
        ("bob", first, "mask", "not in your labeling queue"),
        ("ada", "f" * 32, "mask", "not in your labeling queue"),
        ("ada", first, "gender", "your queue was built for mask"),
    ):
        with pytest.raises(LabelError, match=message):
            queues.item(labeler, item, task)
    queues.put("ada", queue(1))  # a new queue replaces the old one
    with pytest.raises(LabelError):
        queues.item("ada", first, "mask")


def test_queues_go_with_their_session_when_idle_and_beyond_the_total():
    clock = Clock()
    queues = LabelQueues(max_faces=10, clock=clock)
    queues.put("ada", queue(10), session="s1")
    queues.put("bob", queue(10), session="s2")
    queues.forget("s1")
    assert queues.faces() == 10
    clock.now += IDLE_SECONDS + 1
    queues.put("cy", queue(3))  # bob's idle queue goes
    assert queues.faces() == 3
    for number in range(QUEUES_HELD + 2):
        queues.put(f"labeler-{number}", queue(10))
    assert queues.faces() <= QUEUES_HELD * 10
