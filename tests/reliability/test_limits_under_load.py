"""Limits that hold under load: ``app.py`` on its shipped models, on loopback, bounded in count and time.

Runs only with ``--run-load`` (a few minutes on 2 cores; run alone, other jobs skew the timings):

    .venv/bin/python -m pytest tests/reliability/test_limits_under_load.py --run-load -s

Each test prints its figures (``-s`` shows them). Memory is the app process's
resident set (``psutil``), sampled every 20 ms: its baseline is taken after a
first answer (models loaded) and the requests before have settled.
"""

from __future__ import annotations

import io
import threading
import time

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image, ImageDraw

from maskface.app.common import EXAMPLES_DIR
from maskface.labels import new_labeler_id

pytestmark = pytest.mark.load
MB = 1024 * 1024


class Peak:
    """The app's peak resident memory while the ``with`` block runs."""

    def __init__(self, app) -> None:
        self.app, self.peak, self._stop = app, 0, threading.Event()

    def __enter__(self) -> "Peak":
        def sample() -> None:
            while not self._stop.wait(0.02):
                self.peak = max(self.peak, self.app.rss())

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def settled(app, seconds: float = 3.0) -> int:
    """The app's resident memory once it has been idle for ``seconds``."""
    time.sleep(seconds)
    return app.rss()


@pytest.fixture(scope="module")
def app(app_process):
    app = app_process(space=True, tiny=False, MASKFACE_QUEUE_MAX_FACES="5000")
    Client(app.url, verbose=False).predict(handle_file(str(EXAMPLES_DIR / "astronaut.jpg")), api_name="/mask")
    yield app
    app.stop()


@pytest.fixture(scope="module")
def hundred_megapixels(tmp_path_factory) -> list:
    """Ten 10000 x 10000 JPEGs of about 2 MB (grey, a line every 200 px), each file different (as from ten
    visitors: Gradio stores identical uploads once)."""
    image = Image.new("RGB", (10_000, 10_000), (120, 130, 140))
    draw = ImageDraw.Draw(image)
    for x in range(0, 10_000, 200):
        draw.line([(x, 0), (x, 10_000)], fill=(200, 90, 60), width=3)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=60)
    folder = tmp_path_factory.mktemp("bombs")
    paths = [folder / f"hundred-megapixels-{n}.jpg" for n in range(10)]
    for number, path in enumerate(paths):
        path.write_bytes(buffer.getvalue() + bytes([number]) * 16)  # after the image's end: decoders ignore it
    return paths


def test_ten_concurrent_hundred_megapixel_jpegs_are_refused_before_decoding(app, hundred_megapixels):
    baseline = settled(app)
    answers: list[tuple[str, float]] = []

    def send(path) -> None:
        client = Client(app.url, verbose=False)  # a visitor each
        started = time.monotonic()
        try:
            client.predict(handle_file(str(path)), api_name="/mask")
            answers.append(("answered", time.monotonic() - started))
        except AppError as err:
            answers.append((str(err), time.monotonic() - started))

    with Peak(app) as peak:
        threads = [threading.Thread(target=send, args=(path,)) for path in hundred_megapixels]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    after = settled(app)
    size = hundred_megapixels[0].stat().st_size
    too_large = [m for m, _ in answers if m.startswith("image too large") and "100,000,000 pixels" in m]
    print(
        f"\n10 x {size / MB:.1f} MB 100-MP JPEGs: baseline {baseline / MB:.0f} MB, peak {peak.peak / MB:.0f} MB, "
        f"after {after / MB:.0f} MB (+{(after - baseline) / MB:.0f} MB); slowest answer "
        f"{max(t for _, t in answers):.1f} s; {len(too_large)} of 10 refused for their size"
    )
    assert len(too_large) == 10, answers
    assert not list(app.temp.rglob("hundred-megapixels-*"))  # every refused upload deleted at once
    assert peak.peak < 2.5 * 1024 * MB
    assert after - baseline < 300 * MB


def test_a_minute_of_240_fps_720p_video_is_answered_or_refused_within_30_s(app, tmp_path):
    import av
    import numpy as np

    video = tmp_path / "sixty-seconds-240-fps.mp4"
    with av.open(str(video), "w") as container:
        stream = container.add_stream("libx264", rate=240)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "35"}
        frame = av.VideoFrame.from_ndarray(np.full((720, 1280, 3), 90, np.uint8), format="rgb24")
        frame = frame.reformat(format="yuv420p")
        for number in range(240 * 60):
            frame.pts = number
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    started = time.monotonic()
    with pytest.raises(AppError) as refused:
        Client(app.url, verbose=False).predict(handle_file(str(video)), api_name="/mask_video")
    elapsed = time.monotonic() - started
    print(f"\n60 s 240 fps 720p video ({video.stat().st_size / MB:.2f} MB): refused in {elapsed:.1f} s: {refused.value}")
    assert "240 frames per second, more than the limit of 60" in str(refused.value)
    assert elapsed < 30


def test_a_client_holding_30_video_jobs_does_not_make_another_sessions_mask_fail(app):
    hog, visitor = Client(app.url, verbose=False), Client(app.url, verbose=False)
    jobs = [hog.submit(handle_file(str(EXAMPLES_DIR / "two-faces.mp4")), api_name="/mask_video") for _ in range(30)]
    time.sleep(1.0)  # the 30 requests have tried to join the queue
    latencies = []
    for _ in range(3):
        started = time.monotonic()
        _, table = visitor.predict(handle_file(str(EXAMPLES_DIR / "astronaut.jpg")), api_name="/mask")
        latencies.append(time.monotonic() - started)
        assert len(table["data"]) == 1
    outcomes = {"answered": 0, "refused": 0}
    for job in jobs:
        try:
            job.result(timeout=300)
            outcomes["answered"] += 1
        except Exception as err:  # noqa: BLE001 - the session's share refuses the rest
            assert "requests waiting or running" in str(err), err
            outcomes["refused"] += 1
    print(f"\n30 video jobs of one client: {outcomes}; another session's /mask: {[round(t, 1) for t in latencies]} s")
    assert outcomes["refused"] >= 20


def test_three_queues_of_5000_faces_leave_memory_where_it_was(app, face_grid):
    grid = face_grid(10)  # 100 faces
    baseline = settled(app)
    held, after_each = [], []
    with Peak(app) as peak:
        for _ in range(3):
            client = Client(app.url, verbose=False, headers=app.signed_in("load-labeler"))
            _, info, _, _ = client.predict(
                [handle_file(str(grid)) for _ in range(50)], "(no folder)", "mask", new_labeler_id(), api_name="/queue"
            )
            assert info.startswith("Face 1 of 5000 ")
            held.append(app.rss())
            # the visitor leaves: their page's heartbeat stream ends, as when a browser tab closes
            with httpx.stream("GET", f"{app.url}gradio_api/heartbeat/{client.session_hash}", timeout=10) as beat:
                next(beat.iter_lines())
            after_each.append(settled(app))
    print(
        f"\n3 queues of 5000 faces: baseline {baseline / MB:.0f} MB, held {[round(r / MB) for r in held]} MB, "
        f"after each release {[round(r / MB) for r in after_each]} MB, peak {peak.peak / MB:.0f} MB"
    )
    assert after_each[-1] - baseline < 300 * MB
