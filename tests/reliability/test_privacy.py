"""What is kept about people, checked on the files themselves: contributions can be deleted, the gallery keeps
names and embeddings only, and inference writes nothing. (Deletion from the Hub repo: test_hub_sync.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from maskface.analyzer import Analyzer
from maskface.enrolment import enroll
from maskface.gallery import INDEX, LOCK, Gallery
from maskface.labels import LabelStore, new_labeler_id

ROOT = Path(__file__).resolve().parents[2]


def all_bytes(folder: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file())


def test_delete_my_contributions_by_name_and_by_id_leaves_no_trace_on_disk(tmp_path):
    store = LabelStore(tmp_path / "labels")
    ada, bob = new_labeler_id(), new_labeler_id()
    rng = np.random.default_rng(0)

    def add(labeler_id: str, name: str | None) -> str:
        pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        return store.add(pixels, "gender", "female", labeler_id=labeler_id, consent=True, labeler_name=name)

    named = [add(ada, "Ada Lovelace") for _ in range(3)]
    anonymous = [add(ada, None) for _ in range(2)]  # the same session, name left blank
    kept = [add(bob, ".."), add(bob, "Ada")]  # other names: ".." and a prefix of hers must not match
    crops = {record_id: (store.folder / "crops" / f"{record_id}.png").read_bytes() for record_id in named + anonymous}

    assert store.delete_contributions(labeler_name="Ada Lovelace") == 3
    assert b"Ada Lovelace" not in all_bytes(store.folder)
    assert store.delete_contributions(labeler_id=ada) == 2
    assert ada.encode() not in all_bytes(store.folder)
    assert not any(crop in all_bytes(store.folder) for crop in crops.values())
    assert [r["id"] for r in store.records()] == kept
    assert sorted(p.name for p in (store.folder / "crops").iterdir()) == sorted(f"{i}.png" for i in kept)


def test_the_gallery_keeps_names_and_embeddings_only(shared_data, tiny_identity_model, tmp_path):
    photo = shared_data / "lfw" / "images" / "AJ_Cook" / "AJ_Cook_0001.jpg"  # one face
    analyzer = Analyzer(models={"identity": str(tiny_identity_model)})
    person = enroll(analyzer, Gallery.for_model(tmp_path / "gallery", analyzer.embedder), "Ada <b>Lovelace</b>", [photo])

    files = {p.name: p for p in (tmp_path / "gallery").iterdir()}
    (embeddings,) = [name for name in files if name not in (INDEX, LOCK)]
    assert embeddings.startswith("embeddings-") and embeddings.endswith(".npy")
    stored = np.load(files[embeddings], allow_pickle=False)
    assert stored.dtype == np.float32 and stored.ndim == 2 and stored.shape[1] < 1000  # vectors, not pixels
    np.testing.assert_allclose(np.linalg.norm(stored, axis=1), 1.0, atol=1e-5)
    index = json.loads(files[INDEX].read_text(encoding="utf-8"))
    assert [(p["id"], p["name"]) for p in index["people"]] == [(person, "Ada <b>Lovelace</b>")]
    assert photo.read_bytes()[:2000] not in all_bytes(tmp_path / "gallery")
    assert {p.name for p in tmp_path.iterdir()} == {"gallery"}


def test_inference_writes_nothing(tmp_path, tiny_mask_model):
    """A fresh CLI process with the detector leaves its working and temporary directories empty.

    A separate process, because native libraries write at their first use:
    onnxruntime's telemetry leaves a ``.ses`` session file in the temporary
    directory (and uploads events to Microsoft) unless ORT_DISABLE_TELEMETRY=1
    is set before it is imported.
    """
    work, temp = tmp_path / "work", tmp_path / "temp"
    work.mkdir()
    temp.mkdir()
    image = tmp_path / "face.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (80, 60, 3), dtype=np.uint8)).save(image)
    env = {key: value for key, value in os.environ.items() if key != "ORT_DISABLE_TELEMETRY"}
    proc = subprocess.run(
        [sys.executable, "-m", "maskface", "predict", "--mask-model", str(tiny_mask_model), str(image)],
        capture_output=True,
        text=True,
        cwd=work,
        env={**env, "PYTHONPATH": str(ROOT), "TMPDIR": str(temp)},
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["error"] is None
    assert list(work.iterdir()) == [] and list(temp.iterdir()) == []
