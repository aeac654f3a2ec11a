"""What the tabs share: the default model of each task loads at start-up, the others on first use, once."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from maskface.app import Services, Settings
from maskface.app import services as services_module


@pytest.fixture()
def loads(monkeypatch) -> Counter:
    """Count model loads per source; each load takes a while, so requests arriving together overlap it."""
    counted: Counter = Counter()
    real = services_module.load_model_or_fallback

    def slow_load(source, fallback):
        counted[str(source)] += 1
        time.sleep(0.3)
        return real(source, fallback)

    monkeypatch.setattr(services_module, "load_model_or_fallback", slow_load)
    return counted


def settings(tiny_models, tmp_path, **models) -> Settings:
    return Settings(
        **{
            "mask_model": (str(tiny_models["mask"]), str(tiny_models["mask-other"])),
            "gender_model": (str(tiny_models["gender"]),),
            "identity_model": str(tiny_models["identity"]),
            **models,
        },
        gallery=tmp_path / "gallery",
        labels_dir=tmp_path / "labels",
    )


def test_other_models_load_on_first_use_once_however_many_ask(loads, tiny_models, tmp_path):
    default, other = str(tiny_models["mask"]), str(tiny_models["mask-other"])
    services = Services(settings(tiny_models, tmp_path))
    try:
        assert loads == Counter({default: 1, str(tiny_models["gender"]): 1, str(tiny_models["identity"]): 1})
        assert not services.models["mask"][other].loaded
        assert f"- mask: {default}; {other} (loaded on first use)" in services.about()
        # the choice names the architecture before the model is loaded (read from its spec)
        assert services.choices("mask")[1] == (f"CNN from scratch ({other})", other)

        start = threading.Barrier(4)
        answers = []

        def ask() -> None:
            start.wait()
            answers.append(services.analyzer("mask", other))

        threads = [threading.Thread(target=ask) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert loads[other] == 1
        assert len(answers) == 4 and all(answer is answers[0] for answer in answers)
        assert answers[0].models["mask"] is services.models["mask"][other].stored
        assert f"- mask: {default}; {other}\n" in services.about()
    finally:
        services.labels.close()


def test_a_local_model_of_another_task_fails_at_start_up(loads, tiny_models, tmp_path):
    wrong = str(tiny_models["gender"])
    with pytest.raises(ValueError, match=f"the mask model '{wrong}' is a gender model"):
        Services(settings(tiny_models, tmp_path, mask_model=(str(tiny_models["mask"]), wrong)))
    assert loads[wrong] == 0  # its spec said so: nothing was loaded


def test_a_missing_local_model_fails_at_start_up(tiny_models, tmp_path):
    with pytest.raises(FileNotFoundError, match="no model at"):
        Services(settings(tiny_models, tmp_path, gender_model=(str(tiny_models["gender"]), str(tmp_path / "none"))))
