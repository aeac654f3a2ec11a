"""Models named by the settings: Hub repos load through the Hub cache and fall back to shipped models offline.

The Hub is routed to a closed local port: huggingface_hub's real download code runs and fails to connect.
"""

from __future__ import annotations

import shutil

import gradio as gr
import huggingface_hub
import numpy as np
import pytest

from maskface.store import ModelNotFoundError, load_model_or_fallback

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture()
def hub_unreachable(monkeypatch, tmp_path, unused_port):
    """The Hub at a closed port, and an empty Hub cache; returns the cache folder."""
    cache = tmp_path / "hub-cache"
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{unused_port}")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    return cache


def cache_snapshot(cache, repo: str, ref: str, model) -> None:
    """Put ``model`` in the Hub cache as revision ``ref`` of ``repo``, as an earlier download leaves it."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / ref).write_text(COMMIT)
    shutil.copytree(model, folder / "snapshots" / COMMIT)


def test_an_unreachable_hub_falls_back_to_the_shipped_model(hub_unreachable, tiny_mask_model):
    stored, note = load_model_or_fallback("hf://org/mask@v2", str(tiny_mask_model))
    assert stored.spec.task == "mask" and stored.source == str(tiny_mask_model)
    assert note.startswith(f"{tiny_mask_model} (shipped; hf://org/mask@v2 could not be loaded: ")
    assert "ConnectError" in note


def test_a_cached_hub_revision_is_served_offline_and_named(hub_unreachable, tiny_mask_model, tiny_gender_model):
    cache_snapshot(hub_unreachable, "org/mask", "v2", tiny_mask_model)
    stored, note = load_model_or_fallback("hf://org/mask@v2", str(tiny_gender_model))
    assert stored.spec.task == "mask" and stored.source == "hf://org/mask@v2"
    assert note == f"hf://org/mask@v2 (revision {COMMIT[:12]})"


def test_local_sources_are_not_replaced_when_missing(tiny_mask_model, tmp_path):
    with pytest.raises(ModelNotFoundError):
        load_model_or_fallback(str(tmp_path / "nothing"), str(tiny_mask_model))
    stored, note = load_model_or_fallback(str(tiny_mask_model), "unused")
    assert (stored.source, note) == (str(tiny_mask_model), str(tiny_mask_model))


def test_the_app_says_which_version_it_serves(hub_unreachable, configure, tmp_path, tiny_models):
    from maskface.app import Services, Settings
    from maskface.app.recognition_tab import RecognitionTab

    shipped = tmp_path / "models"
    shutil.copytree(tiny_models["mask"], shipped / "mask-mobilenetv2")
    shutil.copytree(tiny_models["gender"], shipped / "gender-mobilenetv2")
    configure(models_dir=shipped)
    settings = Settings(
        mask_model=("hf://org/mask", "mask-mobilenetv2"),
        gender_model=(str(tiny_models["gender"]), "hf://org/gender"),
        identity_model="hf://org/identity",
        gallery=tmp_path / "gallery",
        labels_dir=tmp_path / "labels",
    )
    services = Services(settings)
    try:
        assert list(services.models["mask"]) == ["mask-mobilenetv2"]  # the fallback, served once
        about = services.about()
        assert "- mask: mask-mobilenetv2 (shipped; hf://org/mask could not be loaded" in about
        assert "- identity: off (no identity model could be loaded from 'hf://org/identity'" in about
        assert "- labels: local only" in about
        # a second model is reached on first use; the Hub being down, the shipped default answers, and says so
        assert f"- gender: {tiny_models['gender']}; hf://org/gender (loaded on first use)" in about
        assert services.choices("gender")[1] == ("org/gender (hf://org/gender)", "hf://org/gender")
        assert services.analyzer("gender", "hf://org/gender").models["gender"].spec.task == "gender"
        assert "; gender-mobilenetv2 (shipped; hf://org/gender could not be loaded: " in services.about()
        recognition = RecognitionTab(services)
        assert recognition.shown("shared", None) == []  # the page's list, read at load
        with pytest.raises(gr.Error, match="recognition is not available: no identity model"):
            recognition.identify(np.zeros((64, 64, 3), np.uint8), "shared", None, None)
    finally:
        services.labels.close()
