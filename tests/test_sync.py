"""The label store the settings describe: local, or synced to a Hub dataset when a repo and a token are set."""

from __future__ import annotations

import socket

import huggingface_hub
import numpy as np

from maskface.config import Settings
from maskface.labels import new_labeler_id
from maskface.sync import label_store


def test_the_default_store_is_a_local_labels_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = label_store(Settings.from_env({}))
    assert store.folder.resolve() == (tmp_path / "labels").resolve() and store.sync is None
    assert store.sync_status() == "local only (no Hub repo configured)"


def test_a_repo_without_a_token_stays_local_and_says_why(tmp_path):
    store = label_store(Settings.from_env({"MASKFACE_LABELS_DIR": str(tmp_path), "MASKFACE_LABELS_REPO": "org/labels"}))
    assert store.sync is None
    assert store.sync_status() == "local only (MASKFACE_LABELS_REPO is set but HF_TOKEN is not)"


def test_a_repo_and_a_token_sync_and_labelling_works_offline(tmp_path, monkeypatch):
    with socket.socket() as sock:  # a port nothing listens on: the Hub is unreachable
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{port}")
    env = {"MASKFACE_LABELS_DIR": str(tmp_path), "MASKFACE_LABELS_REPO": "org/labels", "HF_TOKEN": "hf_x",
           "MASKFACE_SYNC_MINUTES": "0.5"}
    store = label_store(Settings.from_env(env))
    try:
        assert store.sync.repo_id == "org/labels" and store.sync.every_minutes == 0.5
        crop = np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)
        store.add(crop, "mask", "with_mask", labeler_id=new_labeler_id(), consent=True)
        assert store.sync_status().startswith("1 label waiting to sync to org/labels: ")
    finally:
        store.close()
