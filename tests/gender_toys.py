"""Toy faces whose gender shows, and toy labels of them in the labels dataset's schema (maskface.labelset)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def toy_gender_face(rng: np.random.Generator, gender: str, masked: bool) -> np.ndarray:
    """A 40x36 toy face whose gender shows in its top band (red: female, blue: male); masked: dark lower half."""
    pixels = rng.integers(100, 200, (40, 36, 3), dtype=np.uint8)
    pixels[:10, :, 0 if gender == "female" else 2] = 250
    if masked:
        pixels[22:] = rng.integers(0, 40, (18, 36, 3), dtype=np.uint8)
    return pixels


def write_toy_gender_real(root: Path, per_part: int = 12, seed: int = 0) -> list[dict]:
    """Toy photos under ``root/mask/<split>/<folder>/`` and their labels-dataset rows (maskface.labelset's schema):
    each photo is one face, labelled on the whole photo; one train face in six is ``unsure``."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    rows = []
    for split in ("train", "test"):
        for folder in ("with_mask", "without_mask"):
            (root / "mask" / split / folder).mkdir(parents=True, exist_ok=True)
            for i in range(per_part):
                gender = ("female", "male")[i % 2]
                name = f"mask/{split}/{folder}/{folder}_{split}{i:03d}.jpg"
                Image.fromarray(toy_gender_face(rng, gender, folder == "with_mask")).save(root / name)
                label = "unsure" if split == "train" and i % 6 == 5 else gender
                rows.append({
                    "file": name, "split": split, "mask_folder": folder, "box": [0, 0, 36, 40], "detected": False,
                    "label": label, "suggestion": ("female", "male")[(i // 2) % 2], "suggestion_score": 0.8,
                    "labeler": "maskface team", "time": f"2025-01-01T00:00:{i:02d}Z",
                })
    return rows
