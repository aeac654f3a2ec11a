"""Labels of faces in the shared photos, kept in the repo as a small dataset of JSON lines (no images).

The gender of the real masked faces of ``../shared/data/mask`` (the GENDER-R
protocol's data) lives in ``data/labels/gender-real/``: ``train.jsonl`` and
``test.jsonl`` (the photos' own split), one object per face, and a dataset
card (``README.md``) with the counts, rendered from the rows on every save.
No image is copied: a row names its photo (``file``, relative to the shared
data folder) and the face's box in it, so whoever reads it cuts the crop
from the shared file. ``datasets.load_dataset("data/labels/gender-real")``
loads it (the card's ``configs`` name the two files).

A row::

    {"file": "mask/test/with_mask/x.jpg", "split": "test", "mask_folder": "with_mask",
     "box": [x, y, w, h], "detected": true, "label": "female" | "male" | "unsure",
     "suggestion": "male", "suggestion_score": 0.93, "labeler": "maskface team",
     "time": "2025-01-01T12:00:00Z"}

``box`` is the face as the detector finds it when ``predict`` runs on the
photo; ``detected`` is false when it found none and the whole photo is the
face. ``suggestion`` is the model's answer shown to the labeler (so the share
of suggestions the labelers overturned is visible); ``label`` is always a
person's judgement from looking at the face. A face is one (file, box); a
newer label of the same face replaces the older one.

``python -m maskface labels import FILE.jsonl`` merges labels into the
dataset; ``python -m maskface labels export`` writes the app's labels of
faces of shared photos (either labeling mode) as such rows
(:func:`rows_from_store`).
"""

from __future__ import annotations

import json
import math
import os
import re
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATASET = REPO / "data" / "labels" / "gender-real"
DEFAULT_ROOT = REPO.parent / "shared" / "data"
FIELDS = ("file", "split", "mask_folder", "box", "detected", "label", "suggestion", "suggestion_score", "labeler", "time")
LABELS = ("female", "male", "unsure")
SPLITS = ("train", "test")
MASK_FOLDERS = ("with_mask", "without_mask")
FILE = re.compile(r"mask/(train|test)/(with_mask|without_mask)/[A-Za-z0-9._-]+\.(?:jpe?g|png)")
MAX_LABELER = 200
CARD = "README.md"
METHOD = "METHOD.md"
"""Hand-written in the dataset folder: how these labels were made (kept in the card through every import)."""


class LabelSetError(ValueError):
    """A row that cannot join the dataset; the message says why, in the labeler's words."""


def check_row(row: object, root: Path | None = None) -> dict:
    """``row`` with its fields checked and in order; raises :class:`LabelSetError` naming the first problem.

    With ``root`` (the shared data folder) the photo must exist there.
    """
    if not isinstance(row, dict):
        raise LabelSetError("a row is a JSON object")
    missing = [name for name in FIELDS if name not in row]
    if missing:
        raise LabelSetError(f"missing field(s): {', '.join(missing)}")
    match = FILE.fullmatch(str(row["file"]))
    if not match:
        raise LabelSetError(f"file {row['file']!r} is not a photo of mask/<train|test>/<with_mask|without_mask>/")
    if (row["split"], row["mask_folder"]) != match.groups():
        raise LabelSetError(f"split {row['split']!r} and mask_folder {row['mask_folder']!r} do not match {row['file']!r}")
    box = row["box"]
    if not (
        isinstance(box, list)
        and len(box) == 4
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in box)
        and box[2] > 0
        and box[3] > 0
    ):
        raise LabelSetError(f"box must be [x, y, w, h] with w, h > 0, got {box!r}")
    if not isinstance(row["detected"], bool):
        raise LabelSetError("detected must be true or false")
    if row["label"] not in LABELS:
        raise LabelSetError(f"label {row['label']!r} is not one of {', '.join(LABELS)}")
    if row["suggestion"] is not None and row["suggestion"] not in LABELS[:2]:
        raise LabelSetError(f"suggestion {row['suggestion']!r} is not female, male or null")
    score = row["suggestion_score"]
    if score is not None and not (isinstance(score, (int, float)) and not isinstance(score, bool) and 0 <= score <= 1):
        raise LabelSetError(f"suggestion_score must be a probability or null, got {score!r}")
    labeler = row["labeler"]
    if not isinstance(labeler, str) or not labeler.strip() or len(labeler) > MAX_LABELER:
        raise LabelSetError(f"labeler must be a name of 1-{MAX_LABELER} characters")
    try:
        datetime.fromisoformat(str(row["time"]).replace("Z", "+00:00"))
    except ValueError:
        raise LabelSetError(f"time {row['time']!r} is not an ISO 8601 time") from None
    if root is not None and not (Path(root) / row["file"]).is_file():
        raise LabelSetError(f"no photo {row['file']!r} in {root}")
    clean = {name: row[name] for name in FIELDS}
    clean["box"] = [round(float(v), 1) for v in box]
    clean["labeler"] = labeler.strip()
    return clean


def face_key(row: dict) -> tuple[str, tuple[int, ...]]:
    """What makes a face: its photo and its box (to the pixel)."""
    return row["file"], tuple(int(round(v)) for v in row["box"])


def read_rows(path: str | os.PathLike, root: Path | None = None) -> tuple[list[dict], list[str]]:
    """The valid rows of a JSON-lines file, and an error per line left out (``line N: why``).

    An unfinished last line (a file still being written) is left out
    without an error: it is read in full next time.
    """
    data = Path(path).read_bytes()
    rows, errors = [], []
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError:
            if number == len(lines):  # no newline after it yet
                continue
            errors.append(f"line {number}: not JSON")
            continue
        try:
            rows.append(check_row(row, root))
        except LabelSetError as err:
            errors.append(f"line {number}: {err}")
    return rows, errors


def _time(row: dict) -> datetime:
    return datetime.fromisoformat(str(row["time"]).replace("Z", "+00:00"))


@dataclass
class Merge:
    """What :meth:`LabelSet.merge` did."""

    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    older: int = 0
    """Rows left out because the dataset holds a newer label of the same face."""


@dataclass
class LabelSet:
    """The rows of one labels dataset folder; :meth:`save` writes them and the card."""

    folder: Path
    rows: list[dict] = field(default_factory=list)

    @classmethod
    def load(cls, folder: str | os.PathLike = DEFAULT_DATASET) -> LabelSet:
        """The dataset in ``folder`` (empty when it has no rows yet). Raises :class:`LabelSetError` on a bad row."""
        folder = Path(folder)
        rows = []
        for split in SPLITS:
            path = folder / f"{split}.jsonl"
            if path.is_file():
                found, errors = read_rows(path)
                if errors:
                    raise LabelSetError(f"{path}: {errors[0]}")
                rows += found
        return cls(folder, rows)

    def merge(self, rows: Iterable[dict]) -> Merge:
        """Add checked ``rows``; a row for a face already here replaces it when it is newer or equally new."""
        index = {face_key(row): i for i, row in enumerate(self.rows)}
        report = Merge()
        for row in rows:
            key = face_key(row)
            if key not in index:
                index[key] = len(self.rows)
                self.rows.append(row)
                report.added += 1
            elif self.rows[index[key]] == row:
                report.unchanged += 1
            elif _time(row) >= _time(self.rows[index[key]]):
                self.rows[index[key]] = row
                report.replaced += 1
            else:
                report.older += 1
        return report

    def split(self, name: str) -> list[dict]:
        return [row for row in self.rows if row["split"] == name]

    def save(self) -> Path:
        """Write ``train.jsonl``, ``test.jsonl`` (sorted by face) and the card, each file all or nothing."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for split in SPLITS:
            rows = sorted(self.split(split), key=face_key)
            _write_atomic(self.folder / f"{split}.jsonl", "".join(json.dumps(row) + "\n" for row in rows))
        method = self.folder / METHOD
        _write_atomic(self.folder / CARD, card(self.rows, method.read_text().strip() if method.is_file() else ""))
        return self.folder


def stats(rows: list[dict]) -> dict:
    """Counts per split, mask folder and label; unsure count; the share of shown suggestions overturned."""
    counts: dict = {}
    for row in rows:
        part = counts.setdefault(row["split"], {}).setdefault(row["mask_folder"], Counter())
        part[row["label"]] += 1
    judged = [row for row in rows if row["label"] != "unsure" and row["suggestion"] is not None]
    overturned = sum(row["label"] != row["suggestion"] for row in judged)
    return {
        "faces": len(rows),
        "counts": {s: {m: dict(sorted(c.items())) for m, c in sorted(p.items())} for s, p in sorted(counts.items())},
        "unsure": sum(row["label"] == "unsure" for row in rows),
        "undetected": sum(not row["detected"] for row in rows),
        "photos": len({row["file"] for row in rows}),
        "suggestions_judged": len(judged),
        "suggestions_overturned": overturned,
        "overturned_share": round(overturned / len(judged), 4) if judged else None,
    }


CARD_TEMPLATE = """---
license: mit
pretty_name: maskface gender labels of real masked faces
task_categories:
- image-classification
tags:
- maskface
- gender
- face-masks
configs:
- config_name: default
  data_files:
  - split: train
    path: train.jsonl
  - split: test
    path: test.jsonl
---

# gender-real: gender labels of real masked faces (GENDER-R)

The gender of every face of `../shared/data/mask` ({photos} photos, real masks: surgical, cloth,
N95, printed; many young and East Asian faces, phone and web photos) that the labelers could
see: {faces} faces. No image is copied here: each row names its photo (`file`, relative to
`../shared/data`) and the face's box in it (`box`, x y w h in pixels), as the face detector finds
it when `python -m maskface predict` runs on the photo (`detected: false`: it found none, and the
whole photo is the face).

## How the labels were made

Each `label` is a labeler's judgement from looking at the face (labelers: {labelers}), or
`unsure` when it cannot be told; a model's answer is never a label. `suggestion` and
`suggestion_score` are the model answer shown to the labeler next to the face (the shipped
`gender-mobilenetv2` before it was retrained on these labels), so the share the labelers
overturned is known. `time` is when the label was given.

{method}

| split | faces | photos' mask folder | female | male | unsure |
|---|---|---|---|---|---|
{table}

- Unsure: **{unsure}** of {faces} faces ({unsure_share}); training and evaluation leave them out.
- Suggestions overturned: **{overturned}** of the {judged} faces given a gender ({overturned_share}):
  the shown model answer was wrong that often.
- Faces the detector did not find (whole photo used): {undetected}.

## Use

```python
import datasets
labels = datasets.load_dataset("data/labels/gender-real")      # train and test splits
```

`python -m training train --task gender ... --labels data/labels/gender-real` trains on the
`train` split (minus its validation part, chosen by photo) with the crops cut from the shared
photos; the `test` split is the GENDER-R test set, never trained or selected on (see the
README's GENDER-R protocol). `python -m maskface labels import FILE.jsonl` adds labels (a newer
label of the same face replaces the older one); the counts above are rewritten on every import.

The photos are those of the public Face-Mask-Detection set (see `../shared/data/README.md`);
these labels are the maskface project's (MIT).
"""


def card(rows: list[dict], method: str = "") -> str:
    """The dataset card of ``rows``, counts included; ``method`` says how they were made (Markdown)."""
    s = stats(rows)
    table = []
    for split in SPLITS:
        for folder in MASK_FOLDERS:
            c = s["counts"].get(split, {}).get(folder, {})
            n = sum(c.values())
            table.append(f"| {split} | {n} | {folder} | {c.get('female', 0)} | {c.get('male', 0)} | {c.get('unsure', 0)} |")
    labelers = sorted({row["labeler"] for row in rows})

    def share(k: int, n: int) -> str:
        return f"{k / n:.1%}" if n else "n/a"

    return CARD_TEMPLATE.format(
        photos=s["photos"],
        faces=s["faces"],
        labelers=", ".join(f"`{name}`" for name in labelers) or "no labels yet",
        table="\n".join(table),
        unsure=s["unsure"],
        unsure_share=share(s["unsure"], s["faces"]),
        overturned=s["suggestions_overturned"],
        judged=s["suggestions_judged"],
        overturned_share=share(s["suggestions_overturned"], s["suggestions_judged"]),
        undetected=s["undetected"],
        method=method,
    )


def rows_from_store(records: Iterable[dict], labeler: str | None = None) -> tuple[list[dict], int]:
    """Rows of this dataset from the app's gender labels that name a shared photo and box (labels of faces
    of a server folder); returns them and how many gender labels did not (uploads: only their crop is kept).

    Each row keeps its label's time and the suggestion shown; its labeler is
    ``labeler`` when given (the app's labeler names are optional and
    unverified), else the label's labeler name, else its labeler id.
    """
    rows, other = [], 0
    for record in records:
        if record.get("task") != "gender":
            continue
        source, box = record.get("source_file"), record.get("box")
        match = FILE.fullmatch(str(source)) if source else None
        if not match or not box:
            other += 1
            continue
        rows.append(
            check_row(
                {
                    "file": source,
                    "split": match.group(1),
                    "mask_folder": match.group(2),
                    "box": list(box),
                    "detected": True,
                    "label": record["label"],
                    "suggestion": record.get("predicted_label"),
                    "suggestion_score": record.get("predicted_score"),
                    "labeler": labeler or record.get("labeler_name") or record["labeler_id"],
                    "time": record["created_at"],
                }
            )
        )
    return rows, other


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}")
    tmp.write_text(text)
    tmp.replace(path)
