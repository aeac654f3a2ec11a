"""Load test: 20 gradio_client clients label through the app's ``label`` API for 60 s; nothing is lost or doubled.

Runs only with ``--run-load``:

    .venv/bin/python -m pytest tests/reliability/test_load.py --run-load

``MASKFACE_LOAD_CLIENTS`` and ``MASKFACE_LOAD_SECONDS`` change the 20 clients
and 60 s (for a quick check). ``app.py`` runs in a subprocess on a free port
with its labels, gallery and unlabelled folders in a temporary directory; the
figures (labels/second, latency, errors) are printed at the end.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import datasets
import numpy as np
import pytest
from PIL import Image

from maskface.labels import LabelStore, new_labeler_id

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = int(os.environ.get("MASKFACE_LOAD_CLIENTS", "20"))
SECONDS = float(os.environ.get("MASKFACE_LOAD_SECONDS", "60"))
ANSWERS = [("mask", "with_mask"), ("mask", "without_mask"), ("gender", "female"), ("gender", "unsure")]

pytestmark = pytest.mark.load


@pytest.fixture()
def app(tmp_path, unused_port):
    """``app.py`` serving on a free local port with its folders under ``tmp_path``; yields (url, labels folder)."""
    port, labels = unused_port, tmp_path / "labels"
    env = {
        **os.environ,
        "GRADIO_SERVER_PORT": str(port),
        "MASKFACE_LABELS_DIR": str(labels),
        "MASKFACE_GALLERY": str(tmp_path / "gallery"),
        "MASKFACE_UNLABELLED_DIR": str(tmp_path / "unlabelled"),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
    }
    env.pop("MASKFACE_LABELS_REPO", None)
    log = (tmp_path / "app.log").open("w")
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300
    while True:
        assert process.poll() is None, f"app.py exited: {(tmp_path / 'app.log').read_text()[-3000:]}"
        assert time.monotonic() < deadline, "app.py did not start within 300 s"
        try:
            urllib.request.urlopen(url, timeout=5)
            break
        except OSError:
            time.sleep(1)
    yield url, labels
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


def test_concurrent_labelers_lose_nothing(app, tmp_path, capsys):
    from gradio_client import Client, handle_file

    url, folder = app
    crops = []
    for seed in range(8):
        path = tmp_path / f"crop-{seed}.png"
        Image.fromarray(np.random.default_rng(seed).integers(0, 256, (96, 96, 3), dtype=np.uint8)).save(path)
        crops.append(path)
    acknowledged: list[str] = []
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    counts_ok: list[bool] = []
    lock = threading.Lock()
    ready = threading.Barrier(CLIENTS + 1)
    stop_at: list[float] = []

    def labeler(number: int) -> None:
        client = Client(url, verbose=False)
        me, done = new_labeler_id(), 0
        ready.wait()
        while time.monotonic() < stop_at[0]:
            task, label = ANSWERS[(number + done) % len(ANSWERS)]
            start = time.monotonic()
            try:
                record_id, count = client.predict(
                    handle_file(str(crops[(number + done) % len(crops)])), task, label, f"client {number}", me, True,
                    api_name="/label",
                )
            except Exception as err:  # noqa: BLE001 - counted and reported
                with lock:
                    errors[f"{type(err).__name__}: {str(err)[:120]}"] += 1
                continue
            done += 1
            with lock:
                latencies.append(time.monotonic() - start)
                acknowledged.append(record_id)
                counts_ok.append(int(count) == done)

    threads = [threading.Thread(target=labeler, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    stop_at.append(time.monotonic() + SECONDS)
    ready.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began

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
