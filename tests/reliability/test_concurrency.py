"""Many labelers at once: 20 threads and 2 other processes add labels to one folder; nothing is lost or doubled."""

from __future__ import annotations

import threading
from collections import Counter

import datasets
import numpy as np
from PIL import Image

from maskface.labels import LabelStore, new_labeler_id

THREADS, PER_THREAD, PER_PROCESS = 20, 10, 40


def test_threads_and_processes_adding_at_once_lose_nothing(tmp_path, start_writer):
    folder = tmp_path / "labels"
    store = LabelStore(folder)
    writers = [start_writer(folder, new_labeler_id(), PER_PROCESS) for _ in range(2)]
    acknowledged: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def label(seed: int) -> None:
        me, rng = new_labeler_id(), np.random.default_rng(seed)
        start.wait()
        try:
            for _ in range(PER_THREAD):
                pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                acknowledged.append(store.add(pixels, "mask", "without_mask", labeler_id=me, consent=True))
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=label, args=(seed,)) for seed in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for writer in writers:
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
        acknowledged += out.split()

    assert not errors
    assert len(acknowledged) == THREADS * PER_THREAD + 2 * PER_PROCESS
    ids = Counter(record["id"] for record in LabelStore(folder).records())
    assert ids == Counter(acknowledged)  # every acknowledged label, each exactly once, and nothing else
    crops = sorted(p.name for p in (folder / "crops").iterdir())
    assert crops == sorted(f"{record_id}.png" for record_id in ids)
    table = datasets.load_dataset("imagefolder", data_dir=str(folder), cache_dir=str(tmp_path / "cache"))["train"]
    assert Counter(table["id"]) == ids
    for row in table.select(range(0, len(table), 37)):
        assert isinstance(row["image"], Image.Image) and row["image"].size in ((32, 32), (64, 64))
