"""Settings: every variable read in one place, typed, validated at start-up, never at import."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from maskface import config
from maskface.config import Limits, Settings


def test_every_setting_has_its_variable():
    assert set(config.VARIABLES) == {field.name for field in dataclasses.fields(Settings)}


def test_defaults_work_offline_on_the_shipped_models():
    settings = Settings.from_env({"HOME": "/home/ada"})
    assert settings.models_dir is None and settings.tflite and settings.hub_mirror is None
    assert settings.limits == Limits()
    assert settings.labels_sync is None
    assert settings.mask_model == ("mask-mobilenetv2", "mask-cnn")


def test_variables_become_typed_settings():
    settings = Settings.from_env(
        {
            "MASKFACE_MAX_PIXELS": "100_000_000",
            "MASKFACE_MAX_SIDE": " ",  # blank keeps the default
            "MASKFACE_TFLITE": "off",
            "MASKFACE_CACHE_DIR": "/var/cache/mf",
            "MASKFACE_LABELS_REPO": "org/labels",
            "HF_TOKEN": "hf_secret",
            "MASKFACE_SYNC_MINUTES": "0.5",
        }
    )
    assert settings.limits == Limits(max_pixels=100_000_000)
    assert not settings.tflite and settings.cache_dir == Path("/var/cache/mf")
    assert settings.labels_sync == ("org/labels", "hf_secret") and settings.sync_minutes == 0.5
    assert "hf_secret" not in repr(settings)


def test_the_cache_follows_xdg_when_not_set():
    assert Settings.from_env({"XDG_CACHE_HOME": "/xdg"}).cache_dir == Path("/xdg/maskface")


@pytest.mark.parametrize(
    ("variable", "value"),
    [("MASKFACE_MAX_SIDE", "lots"), ("MASKFACE_MAX_SIDE", "0"), ("MASKFACE_MAX_BYTES", "1.5"),
     ("MASKFACE_SYNC_MINUTES", "0"), ("MASKFACE_SYNC_MINUTES", "nan"), ("MASKFACE_SYNC_MINUTES", "soon"),
     ("GRADIO_SERVER_PORT", "-1")],
)
def test_a_bad_value_fails_naming_its_variable(variable, value):
    with pytest.raises(ValueError, match=variable):
        Settings.from_env({variable: value})


def test_settings_are_read_once_and_can_be_replaced(monkeypatch):
    monkeypatch.setattr(config, "_current", None)
    monkeypatch.setenv("MASKFACE_MAX_SIDE", "512")
    first = config.settings()
    monkeypatch.setenv("MASKFACE_MAX_SIDE", "256")
    assert config.settings() is first and first.max_side == 512
    previous = config.configure(dataclasses.replace(first, max_side=128))
    assert previous is first and config.settings().max_side == 128


def test_importing_the_package_reads_no_setting_and_changes_no_global():
    """Importing maskface (and every library module) leaves the environment and Pillow's globals alone."""
    code = (
        "import os, PIL.Image, PIL.ImageFile\n"
        "env, limit, truncated = dict(os.environ), PIL.Image.MAX_IMAGE_PIXELS, PIL.ImageFile.LOAD_TRUNCATED_IMAGES\n"
        "import maskface, maskface.analyzer, maskface.image, maskface.store, maskface.labels, maskface.sync\n"
        "from maskface import config\n"
        "assert config._current is None, 'settings were read at import'\n"
        "assert dict(os.environ) == env, set(os.environ.items()) ^ set(env.items())\n"
        "assert (PIL.Image.MAX_IMAGE_PIXELS, PIL.ImageFile.LOAD_TRUNCATED_IMAGES) == (limit, truncated)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
