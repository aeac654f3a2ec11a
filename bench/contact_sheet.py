"""A contact sheet of simulated masks on LFW faces, for people to judge.

The mask simulator's geometry is tested, but whether its masks look like real
masks can only be judged by eye. This picks 24 LFW people (half female, half
male, per ``metadata.csv``; deterministic for a seed), masks one photo of each
with the styles in turn, and writes a 6x4 grid of 128 px face tiles, each
labelled with its style, and the same grid of the unmasked originals beside
it (``<out>_originals.png``).

    python -m bench contact-sheet [--out runs/masksim_contact_sheet.png] [--seed 0]
"""

from __future__ import annotations

import argparse
import csv
import logging
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from maskface.crops import crop_square
from maskface.detect import make_detector
from maskface.image import load_image
from maskface.masksim import STYLES, simulate_mask

REPO = Path(__file__).resolve().parents[1]
LFW = REPO.parent / "shared" / "data" / "lfw"
DEFAULT_OUT = REPO / "runs" / "masksim_contact_sheet.png"  # LFW-derived: kept out of the repo
COLUMNS, ROWS, TILE = 6, 4, 128
TILE_SCALE = 1.5  # tiles show the detector box enlarged by this, so the chin and the ears are in view

log = logging.getLogger(__name__)


def pick_people(metadata: Path, count: int, seed: int) -> list[list[str]]:
    """For ``count`` people, alternately female and male, drawn with ``seed``:
    each person's image paths (relative to the LFW folder), in file order."""
    by_person: dict[str, list[str]] = {}
    gender: dict[str, str] = {}
    with open(metadata, newline="") as f:
        for row in csv.DictReader(f):
            by_person.setdefault(row["identity"], []).append(row["file_name"])
            gender[row["identity"]] = row["gender"]
    rng = np.random.default_rng(seed)
    queues = {g: list(rng.permutation(sorted(p for p in by_person if gender[p] == g))) for g in ("female", "male")}
    return [by_person[queues[("female", "male")[i % 2]][i // 2]] for i in range(count)]


def tile(image: np.ndarray, box: tuple[float, float, float, float], label: str | None) -> Image.Image:
    """A TILE x TILE face tile, with ``label`` written in its corner."""
    picture = Image.fromarray(crop_square(image, box, TILE, TILE_SCALE))
    if label:
        draw = ImageDraw.Draw(picture)
        font = ImageFont.load_default(size=11)
        draw.text((4, TILE - 15), label, fill=(255, 255, 255), font=font, stroke_width=2, stroke_fill=(0, 0, 0))
    return picture


def grid(tiles: list[Image.Image]) -> Image.Image:
    """The tiles in COLUMNS x ROWS, row by row."""
    sheet = Image.new("RGB", (COLUMNS * TILE, ROWS * TILE), (255, 255, 255))
    for i, picture in enumerate(tiles):
        sheet.paste(picture, ((i % COLUMNS) * TILE, (i // COLUMNS) * TILE))
    return sheet


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="PNG to write (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="picks the people and seeds the masks")
    parser.add_argument("--lfw", type=Path, default=LFW, help="LFW folder with metadata.csv (default: %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)

    detector = make_detector("auto")
    masked, originals = [], []
    for person in pick_people(args.lfw / "metadata.csv", 3 * COLUMNS * ROWS, args.seed):
        if len(masked) == COLUMNS * ROWS:
            break
        image = load_image(args.lfw / person[0])
        faces = detector.detect(image)
        if not faces:
            log.info("no face in %s; skipped", person[0])
            continue
        face = max(faces, key=lambda d: d.box[2] * d.box[3])  # the photo's subject, not a bystander
        style = STYLES[len(masked) % len(STYLES)]
        result = simulate_mask(image, face.keypoints, face.box, style, args.seed + len(masked))
        masked.append(tile(result, face.box, style))
        originals.append(tile(image, face.box, None))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    grid(masked).save(args.out, optimize=True)
    originals_out = args.out.with_name(f"{args.out.stem}_originals{args.out.suffix}")
    grid(originals).save(originals_out, optimize=True)
    log.info("wrote %s and %s", args.out, originals_out)
