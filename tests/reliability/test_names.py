"""Names and labels that look like paths, markup or exotic text are data: stored verbatim, never a path, drawable.

Refused names (NUL and other control characters, over 200 characters) are in
tests/test_labels.py and tests/test_gallery.py; the gallery's own storage of
such names is in tests/test_gallery.py.
"""

from __future__ import annotations

import os

import datasets
import numpy as np
import pytest

from maskface.draw import annotate
from maskface.face import Face, Prediction
from maskface.labels import LabelStore, new_labeler_id

HOSTILE = [
    "../../etc/passwd",
    "..",
    "/abs/path",
    "a\\b",
    "C:\\Windows\\x",
    "crops/evil.png",
    "metadata.jsonl",
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "' OR 1=1 --",
    "Zoë Ðặng 王小明 🙂",
    "\u202etxt.exe",  # right-to-left override
    "x" * 200,
]


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """Every hostile string used both as a labeler name and as an identity label, in one folder."""
    root = tmp_path_factory.mktemp("names")
    store = LabelStore(root / "labels")
    me = new_labeler_id()
    rng = np.random.default_rng(0)
    for name in HOSTILE:
        pixels = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
        store.add(pixels, "identity", name, labeler_id=me, consent=True, labeler_name=name)
    return root, store


def test_hostile_names_are_stored_verbatim(stored):
    _, store = stored
    records = store.records()
    assert [r["label"] for r in records] == HOSTILE
    assert [r["labeler_name"] for r in records] == HOSTILE


def test_hostile_names_never_become_paths(stored):
    root, store = stored
    assert os.listdir(root) == ["labels"]
    files = {os.path.relpath(os.path.join(d, f), store.folder) for d, _, names in os.walk(store.folder) for f in names}
    assert files == {"metadata.jsonl", ".lock", *(r["file_name"] for r in store.records())}
    assert all(len(os.path.basename(r["file_name"])) == 36 for r in store.records())  # <32 hex>.png


def test_hostile_names_load_verbatim_with_datasets(stored, tmp_path):
    _, store = stored
    table = datasets.load_dataset("imagefolder", data_dir=str(store.folder), cache_dir=str(tmp_path))["train"]
    assert table["label"] == [r["label"] for r in store.records()]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_can_be_drawn(name):
    face = Face(box=(10, 20, 60, 60), score=0.9, results={"identity": Prediction(name, 0.8)})
    image = annotate(np.zeros((120, 100, 3), np.uint8), [face], "identity", legend=False)
    assert image.size == (400, 480)  # enlarged 4x for legible labels
