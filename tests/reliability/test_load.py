"""Load test: 20 gradio_client clients label through the app's ``label`` API for 60 s; nothing is lost or doubled.

Runs only with ``--run-load``:

    .venv/bin/python -m pytest tests/reliability/test_load.py --run-load

``MASKFACE_LOAD_CLIENTS`` and ``MASKFACE_LOAD_SECONDS`` change the 20 clients
and 60 s (for a quick check). ``app.py`` runs in its own process on a free port
(``app_process``, tests/conftest.py) on its shipped models; each client first
builds a labeling queue from a photo of 100 faces (not timed), then labels its
items for the 60 s, building a new queue if it runs out. The labels-per-minute
limit is lifted for the test. The figures (labels/second, latency, errors) are
printed at the end.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections import Counter

import datasets
import numpy as np
import pytest

from maskface.labels import LabelStore, new_labeler_id

CLIENTS = int(os.environ.get("MASKFACE_LOAD_CLIENTS", "20"))
SECONDS = float(os.environ.get("MASKFACE_LOAD_SECONDS", "60"))
ANSWERS = [("mask", "with_mask"), ("mask", "without_mask")]

pytestmark = pytest.mark.load


def test_concurrent_labelers_lose_nothing(app_process, face_grid, tmp_path, capsys):
    from gradio_client import Client, handle_file

    app = app_process(tiny=False, MASKFACE_LABELS_PER_MINUTE="100000")
    folder = app.data / "labels"
    grid = str(face_grid(10))
    acknowledged: list[str] = []
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    counts_ok: list[bool] = []
    lock = threading.Lock()
    ready = threading.Barrier(CLIENTS + 1)
    stop_at: list[float] = []

    def labeler(number: int) -> None:
        client = Client(app.url, verbose=False)
        me, done, item = new_labeler_id(), 0, ""
        try:
            _, _, _, item = client.predict([handle_file(grid)], "(no folder)", "mask", me, api_name="/queue")
        finally:
            ready.wait(timeout=600)
        while time.monotonic() < stop_at[0]:
            task, label = ANSWERS[(number + done) % len(ANSWERS)]
            try:
                if not item:
                    _, _, _, item = client.predict([handle_file(grid)], "(no folder)", "mask", me, api_name="/queue")
                start = time.monotonic()
                record_id, count, item = client.predict(
                    item, task, label, f"client {number}", me, True, api_name="/label"
                )
            except Exception as err:  # noqa: BLE001 - counted and reported
                with lock:
                    errors[f"{type(err).__name__}: {str(err)[:120]}"] += 1
                item = ""
                continue
            done += 1
            with lock:
                latencies.append(time.monotonic() - start)
                acknowledged.append(record_id)
                counts_ok.append(int(count) == done)

    threads = [threading.Thread(target=labeler, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    ready.wait()  # every client has its queue
    stop_at.append(time.monotonic() + SECONDS)
    began = time.monotonic()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    app.stop()

    records = LabelStore(folder).records()
    ids = Counter(record["id"] for record in records)
    with capsys.disabled():
        print(
            f"\nload test: {CLIENTS} clients, {elapsed:.0f} s: {len(acknowledged)} labels acknowledged, "
            f"{len(acknowledged) / elapsed:.1f} labels/s, latency median {statistics.median(latencies or [0]):.3f} s, "
            f"p95 {np.percentile(latencies or [0], 95):.3f} s, errors {sum(errors.values())} {dict(errors)}, "
            f"records in the folder {len(records)}"
        )
    assert acknowledged and not errors
    assert all(counts_ok)  # each answer's count is that labeler's labels so far
    assert ids == Counter(acknowledged)  # every acknowledged label, exactly once, and nothing else
    table = datasets.load_dataset("imagefolder", data_dir=str(folder), cache_dir=str(tmp_path / "cache"))["train"]
    assert Counter(table["id"]) == ids
