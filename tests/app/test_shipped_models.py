"""The app on its shipped models, as `python app.py` serves them offline (one slower test)."""

from __future__ import annotations

import pytest

from maskface.app import Services, Settings
from maskface.app.common import EXAMPLES_DIR
from maskface.app.task_tab import TaskTab
from maskface.store import shipped_models

NEEDED = {"mask-mobilenetv2", "mask-cnn", "gender-mobilenetv2", "gender-cnn"}


def test_shipped_models_answer_the_example_photos(tmp_path):
    missing = NEEDED - set(shipped_models())
    if missing:
        pytest.skip(f"shipped models missing in models/: {', '.join(sorted(missing))}")
    services = Services(Settings(gallery=tmp_path / "gallery", labels_dir=tmp_path / "labels"))
    try:
        assert list(services.models["mask"]) == ["mask-mobilenetv2", "mask-cnn"]
        assert "- mask: mask-mobilenetv2 (shipped); mask-cnn (loaded on first use)" in services.about()
        masked, bare = str(EXAMPLES_DIR / "astronaut-masked-simulated.jpg"), str(EXAMPLES_DIR / "astronaut.jpg")
        mask_tab, gender_tab = TaskTab(services, "mask"), TaskTab(services, "gender")
        _, rows = mask_tab.photo(masked, "both", None)
        assert [(row[0], row[2]) for row in rows] == [("MobileNetV2", "with_mask"), ("CNN from scratch", "with_mask")]
        assert "- mask: mask-mobilenetv2 (shipped); mask-cnn (shipped)" in services.about()
        _, rows = mask_tab.photo(bare, "mask-mobilenetv2", None)
        assert [row[2] for row in rows] == ["without_mask"]
        _, rows = gender_tab.photo(masked, "gender-mobilenetv2", None)
        assert [(row[2], row[4].split()[0]) for row in rows] == [("female", "with")]  # Eileen Collins, masked
        # the shipped gender models answer with their head on the identity embedding, and say so
        assert rows[0][0] == "mobilenetv2-face + identity embedding"
        assert services.choices("gender")[0] == ("mobilenetv2-face + identity embedding (gender-mobilenetv2)", "gender-mobilenetv2")
    finally:
        services.labels.close()
