"""640x480 test photos composed from real faces, for the speed and memory benchmarks.

Real photos with a known number of faces at a known size do not exist in
``../shared/data`` (its images are face crops or small scenes), so the
benchmarks compose them: real faces, alternately a real masked face from
``mask/test/with_mask`` and a bare LFW ``split=test`` photo, pasted as square
tiles on a smooth textured background, one tile (about 240 px) or five (about
180 px). The faces are read from ``../shared/data`` at run time; nothing is
shipped. Composition is deterministic for a given ``seed``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
WIDTH, HEIGHT = 640, 480
#: Tile boxes (left, top, side) per number of faces.
LAYOUTS: dict[int, tuple[tuple[int, int, int], ...]] = {
    1: ((200, 110, 240),),
    5: ((20, 30, 180), (230, 20, 180), (440, 30, 180), (120, 270, 180), (340, 280, 180)),
}


class FaceSources:
    """The real face photos tiles are cut from: masked (MASK test) and bare (LFW test) in turn."""

    def __init__(self, data: Path = DEFAULT_DATA) -> None:
        masked = sorted((data / "mask" / "test" / "with_mask").glob("*.jpg"))
        with open(data / "lfw" / "metadata.csv", newline="") as f:
            bare = sorted(data / "lfw" / row["file_name"] for row in csv.DictReader(f) if row["split"] == "test")
        if not masked or not bare:
            raise FileNotFoundError(f"face photos not found under {data} (mask/test/with_mask, lfw test split)")
        self.masked, self.bare = masked, bare

    def pick(self, rng: np.random.Generator, i: int) -> Path:
        pool = self.masked if i % 2 == 0 else self.bare
        return pool[int(rng.integers(len(pool)))]


def background(rng: np.random.Generator) -> np.ndarray:
    """A smooth colour gradient with low-frequency blotches: no faces, not flat."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH] / max(WIDTH, HEIGHT)
    a, b, c = rng.uniform(40, 220, size=(3, 3))
    base = a + (b - a) * xx[..., None] + (c - a) * yy[..., None] * 0.5
    blotches = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).resize((WIDTH, HEIGHT), Image.BICUBIC)
    return np.clip(0.8 * base + 0.2 * np.asarray(blotches), 0, 255).astype(np.uint8)


def compose(n_faces: int, seed: int, sources: FaceSources) -> np.ndarray:
    """One 640x480 RGB photo with ``n_faces`` (a key of :data:`LAYOUTS`) real faces."""
    rng = np.random.default_rng(seed)
    canvas = Image.fromarray(background(rng))
    for i, (left, top, side) in enumerate(LAYOUTS[n_faces]):
        face = Image.open(sources.pick(rng, seed + i)).convert("RGB")
        scale = side / max(face.size)
        face = face.resize((round(face.width * scale), round(face.height * scale)), Image.Resampling.BILINEAR)
        canvas.paste(face, (left + (side - face.width) // 2, top + (side - face.height) // 2))
    return np.asarray(canvas)


def photos(n_faces: int, sources: FaceSources, start: int = 0) -> Iterator[np.ndarray]:
    """Endless composed photos with ``n_faces`` faces, seeds ``start``, ``start + 1``, ..."""
    seed = start
    while True:
        yield compose(n_faces, seed, sources)
        seed += 1


def write_folder(folder: Path, n: int, sources: FaceSources) -> list[Path]:
    """``n`` JPEG photos (quality 90) in ``folder``, alternating one and five faces."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"photo_{i:04d}.jpg"
        Image.fromarray(compose(1 if i % 2 == 0 else 5, 10_000 + i, sources)).save(path, quality=90)
        paths.append(path)
    return paths
