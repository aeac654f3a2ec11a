"""A labelling process killed with SIGKILL mid-stream: after reopening, nothing is half-written and nothing acknowledged is lost."""

from __future__ import annotations

import signal

import datasets
import numpy as np
from PIL import Image

from maskface.labels import METADATA, LabelStore, new_labeler_id


def test_sigkill_while_labelling_loses_no_acknowledged_label(tmp_path, start_writer):
    folder = tmp_path / "labels"
    LabelStore(folder)
    writer = start_writer(folder, new_labeler_id(), 0)  # labels until killed
    acknowledged = []
    for line in writer.stdout:  # wait until it is well into its stream of writes
        acknowledged.append(line.strip())
        if len(acknowledged) == 60:
            break
    writer.send_signal(signal.SIGKILL)
    rest, _ = writer.communicate(timeout=30)
    acknowledged += rest.split()
    assert writer.returncode == -signal.SIGKILL

    store = LabelStore(folder)  # a restart: repairs whatever the kill interrupted
    ids = [record["id"] for record in store.records()]
    assert set(acknowledged) <= set(ids)  # an id printed after add() returned is there ...
    assert len(ids) == len(set(ids)) <= len(acknowledged) + 1  # ... once; at most the unprinted last one more
    assert (folder / METADATA).read_bytes().endswith(b"\n")
    files = {p.name for p in folder.rglob("*") if p.is_file()}
    assert files == {METADATA, ".lock", *(f"{record_id}.png" for record_id in ids)}  # no temp file, no orphan
    for record in store.records():
        with Image.open(folder / record["file_name"]) as crop:
            crop.load()  # a complete PNG, not a half-written one
            assert crop.size == (64, 64)
    table = datasets.load_dataset("imagefolder", data_dir=str(folder), cache_dir=str(tmp_path / "cache"))["train"]
    assert sorted(table["id"]) == sorted(ids)
    assert np.asarray(table[len(table) - 1]["image"]).shape == (64, 64, 3)
