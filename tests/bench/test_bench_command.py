"""``python -m bench``: a smoke run of the speed part on tiny models, and the page rendered from its results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import __main__ as bench_main
from bench import report, speed
from tests.conftest import save_tiny_model

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def tiny_shipped(tmp_path, monkeypatch, configure, shared_data):
    """Tiny models standing in for the shipped defaults; conversions cached in a temporary folder."""
    models = tmp_path / "models"
    save_tiny_model("mask", models / "mask-mobilenetv2")
    save_tiny_model("gender", models / "gender-mobilenetv2")
    configure(models_dir=models, cache_dir=tmp_path / "cache")
    monkeypatch.setattr(speed, "QUICK", (1, 1, 4))
    return shared_data


def test_speed_part_writes_json_and_page(tiny_shipped, tmp_path):
    results, page = tmp_path / "results", tmp_path / "BENCHMARKS.md"
    argv = ["--only", "speed", "--quick", "--data", str(tiny_shipped), "--results", str(results), "--markdown", str(page)]
    assert bench_main.main(argv) == 0

    measured = json.loads((results / "speed.json").read_text())
    assert measured["tasks"] == ["mask", "gender"] and measured["identity_model"] is None
    for faces in ("1 face", "5 faces"):
        latency = measured["latency"][faces]
        assert latency["full_analysis_ms"] > 0 and latency["mtcnn_default_ms"] > 0
        assert {"decode", "detect", "model mask", "model gender"} <= set(latency["stages_ms"])
    for task in ("mask", "gender"):
        for batch in measured["backends"][task].values():
            if isinstance(batch, dict):
                assert batch["max_abs_diff_tflite"] < 1e-3
    assert measured["throughput"]["images"] == 4 and measured["throughput"]["errors"] == 0
    assert measured["throughput"]["faces_found"] >= 4

    text = page.read_text()
    assert "## Speed" in text and "full analysis / MTCNN alone" in text
    assert "## Accuracy" not in text  # only the part that ran


def test_committed_results_render_every_shipped_model():
    from maskface.store import shipped_models

    results = report.load_results(REPO / "bench" / "results")
    if results.get("accuracy", {"quick": True})["quick"]:
        pytest.skip("bench/results/accuracy.json is missing or from a --quick run (MASK only)")
    text = report.render(results)
    for name in shipped_models():
        if not name.startswith("identity-") or "identity" in results:  # recognition is bench/results/identity.json
            assert f"`{name}`" in text
