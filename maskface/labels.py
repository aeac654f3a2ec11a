"""Labelled face crops: a dataset folder that ``datasets`` loads as is, and the queue of faces to label.

Volunteers label faces in the app; each answer is kept with its crop, who gave
it and when, so the models can be retrained on it. Losing acknowledged labels
loses volunteers, so :meth:`LabelStore.add` returns only once the label is on
disk, and processes or threads adding at once never overwrite each other.

The folder is ``datasets``' imagefolder layout with metadata (hidden files are
ignored by ``datasets`` and by the Hub sync)::

    <folder>/metadata.jsonl        one JSON object per label (fields below)
    <folder>/crops/<id>.png        the face crop of each label; <id> is random
    <folder>/.lock                 held (flock) while the folder changes
    <folder>/.sync-state.json      what the Hub repo holds (maskface.sync)

A record: ``file_name`` ("crops/<id>.png"), ``id``, ``task`` ("mask",
"gender" or "identity"), ``label``, ``usable`` (False for gender "unsure":
training skips it), ``labeler_id`` (random, one per browser session),
``labeler_name`` (optional, free text), ``consent`` (always true),
``created_at`` (UTC, ISO 8601), ``predicted_label`` and ``predicted_score``
(the model answer the form was pre-filled with, or null) and ``crop_sha256``
(of the crop's RGB pixels, to de-duplicate). Names and labels are data: they
are never part of a path.

Writing a label: the PNG goes to a temporary file, is fsynced and renamed into
``crops/``; then one line is appended to ``metadata.jsonl`` with a single
write and fsynced - all under the folder's exclusive lock. Removing labels
rewrites ``metadata.jsonl`` (temporary file + rename) under the lock, then
deletes the crops. Opening a store repairs what a crash can leave: a partial
last line, temporary files, crops without a line.

>>> import tempfile
>>> from maskface import Analyzer
>>> store = LabelStore(tempfile.mkdtemp())     # the app's: maskface.sync.label_store() (settings, Hub sync)
>>> me = new_labeler_id()                      # once per browser session
>>> queue = build_queue(["examples/collage-two-faces.jpg"], Analyzer({"mask": "mask-mobilenetv2"}), "mask")
>>> len(queue.items), queue.items[0].crop.shape   # least confident first
(2, (224, 224, 3))
>>> item = queue.items[0]
>>> record_id = store.add(item.crop, "mask", "without_mask", labeler_id=me, consent=True,
...                       labeler_name="Ada", prediction=item.predictions.get("mask"))
>>> store.count(me), store.sync_status()
(1, 'local only (no Hub repo configured)')
>>> import datasets
>>> datasets.load_dataset("imagefolder", data_dir=str(store.folder))["train"][0]["label"]
'without_mask'
>>> store.undo(record_id, me)["label"]
'without_mask'
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import io
import json
import logging
import os
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from .crops import CropSpec, crop_square
from .face import Prediction
from .gallery import check_name
from .config import settings
from .image import ImageError, ImageSource, load_image
from .tasks import TASKS

if TYPE_CHECKING:
    from .analyzer import Analyzer
    from .gallery import Gallery
    from .sync import HubSync

log = logging.getLogger(__name__)

METADATA = "metadata.jsonl"
CROPS = "crops"
LOCK = ".lock"
TMP_PREFIX = ".tmp-"
UNSURE = "unsure"
#: The answers each task accepts; identity takes a person's name (see :func:`maskface.gallery.check_name`).
TASK_LABELS: dict[str, tuple[str, ...] | None] = {
    "mask": TASKS["mask"].labels,
    "gender": (*TASKS["gender"].labels, UNSURE),
    "identity": None,
}
#: How queue crops are framed: the shipped models' box scale, at a resolution above any model's input.
LABEL_CROP = CropSpec(size=224, scale=1.2)
#: Larger crops handed to :meth:`LabelStore.add` are downscaled to this longer side.
MAX_CROP_SIDE = 512
MAX_NAME_LENGTH = 200
LABELER_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
CROP_FILE = re.compile(rf"{CROPS}/([0-9a-f]{{32}})\.png")
RECORD_FIELDS = frozenset(
    ("file_name", "id", "task", "label", "usable", "labeler_id", "labeler_name", "consent", "created_at",
     "predicted_label", "predicted_score", "crop_sha256")
)


class LabelError(ValueError):
    """A label that cannot be stored or changed as asked; the message is meant for users as is."""


def new_labeler_id() -> str:
    """A random labeler id, one per browser session or contributor."""
    return uuid.uuid4().hex


class LabelStore:
    """The labels in one folder; safe to share between threads and processes.

    ``sync``, when given, pushes the folder to a Hub dataset repo in the
    background (:class:`maskface.sync.HubSync`); labelling never waits for it.
    """

    def __init__(
        self, folder: str | os.PathLike, sync: HubSync | None = None, *, local_reason: str | None = None
    ) -> None:
        self.folder = Path(folder)
        (self.folder / CROPS).mkdir(parents=True, exist_ok=True)
        self._metadata = self.folder / METADATA
        with self._lock():
            self._recover()
        self.sync = sync
        self._local_reason = local_reason or "no Hub repo configured"
        if sync is not None:
            sync.attach(self)

    # ----------------------------------------------------------------------
    # Labels.

    def add(
        self,
        crop: ImageSource,
        task: str,
        label: str,
        *,
        labeler_id: str,
        consent: bool,
        labeler_name: str | None = None,
        prediction: Prediction | None = None,
    ) -> str:
        """Store one labelled face crop; return its record id once it is safely on disk.

        ``crop`` is anything :func:`maskface.image.load_image` reads. Raises
        :class:`LabelError` without consent, for an unknown task or label, a
        malformed labeler id or name, or a crop that is not an image.
        """
        if consent is not True:
            raise LabelError("labels are stored only with the contributor's consent: tick the consent box first")
        _check_label(task, label)
        _check_labeler_id(labeler_id)
        name = _clean_labeler_name(labeler_name)
        try:
            pixels = load_image(crop, dataclasses.replace(settings().limits, max_side=MAX_CROP_SIDE))
        except ImageError as err:
            raise LabelError(f"the face crop is not usable: {err}") from err
        record_id = uuid.uuid4().hex
        record = {
            "file_name": f"{CROPS}/{record_id}.png",
            "id": record_id,
            "task": task,
            "label": label,
            "usable": label != UNSURE,
            "labeler_id": labeler_id,
            "labeler_name": name,
            "consent": True,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "predicted_label": prediction.label if prediction else None,
            "predicted_score": float(prediction.score) if prediction else None,
            "crop_sha256": crop_digest(pixels),
        }
        png = io.BytesIO()
        Image.fromarray(pixels).save(png, "PNG")
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock():
            _write_atomic(self.folder / record["file_name"], png.getvalue())
            self._append(line)
        log.info("%s label %s stored", task, record_id)  # never the label or name: they may name people
        return record_id

    def undo(self, record_id: str, labeler_id: str) -> dict:
        """Remove one of your own labels; return its record. Raises :class:`LabelError` otherwise."""
        removed = self._remove(lambda r: r["id"] == record_id and r["labeler_id"] == labeler_id)
        if not removed:
            raise LabelError(f"no label {record_id!r} by this labeler to undo")
        return removed[0]

    def records(self) -> list[dict]:
        """Every stored record, oldest first."""
        with self._lock(shared=True):
            return [record for _, record in self._read()]

    def labelers_by_face(self, task: str) -> dict[str, dict[str, str]]:
        """Each labelled face of ``task`` (its crop digest) with its labels by labeler (the latest one each)."""
        from .agreement import by_item

        return by_item((r["crop_sha256"], r["labeler_id"], r["label"]) for r in self.records() if r["task"] == task)

    def count(self, labeler_id: str) -> int:
        """How many stored labels this labeler has given."""
        return sum(record["labeler_id"] == labeler_id for record in self.records())

    def delete_contributions(self, *, labeler_id: str | None = None, labeler_name: str | None = None) -> int:
        """Remove every label by this labeler id and/or under this exact name; return how many went.

        Crops and lines are removed here at once; a synced Hub repo loses them
        at the next push (see :mod:`maskface.sync`).
        """
        if not labeler_id and not labeler_name:
            raise LabelError("say whose contributions to delete: a labeler id or a labeler name")

        def theirs(record: dict) -> bool:
            return (bool(labeler_id) and record["labeler_id"] == labeler_id) or (
                bool(labeler_name) and record["labeler_name"] == labeler_name
            )

        removed = self._remove(theirs)
        log.info("deleted %d contributions", len(removed))
        if self.sync is not None:
            self.sync.forget(theirs)
        return len(removed)

    def sync_status(self) -> str:
        """One line for users: local only, synced, or how many labels wait to sync and why."""
        if self.sync is None:
            return f"local only ({self._local_reason})"
        return self.sync.status()

    def snapshot(self) -> tuple[bytes, list[str]]:
        """The metadata file's bytes and the crops it names, read together (what a Hub push sends)."""
        with self._lock(shared=True):
            data = self._metadata.read_bytes() if self._metadata.exists() else b""
        return data, [record["file_name"] for record in _parse(data)]

    def merge(self, source: Path, skip: Callable[[dict], bool] = lambda record: False) -> int:
        """Add the records of another copy of this dataset (its folder) that this store lacks; return how many.

        Only well-formed records (``crops/<32 hex>.png`` matching the id) whose
        crop is there are taken; ``skip`` leaves out others (deleted contributions).
        """
        data = (source / METADATA).read_bytes() if (source / METADATA).exists() else b""
        added = 0
        with self._lock():
            known = {record["id"] for _, record in self._read()}
            for raw, record in zip(data.splitlines(keepends=True), _parse(data)):
                if not is_stored_record(record) or not (source / record["file_name"]).is_file():
                    log.warning("not merging a malformed record from %s", source)
                    continue
                if record["id"] in known or skip(record):
                    continue
                _write_atomic(self.folder / record["file_name"], (source / record["file_name"]).read_bytes())
                self._append(raw if raw.endswith(b"\n") else raw + b"\n")
                known.add(record["id"])
                added += 1
        return added

    def close(self, flush_seconds: float = 0.0) -> None:
        """Stop the background sync, if any, first pushing what is pending for at most ``flush_seconds``.

        Labels that could not be pushed stay in the folder and are pushed after a restart (when the folder survives).
        """
        if self.sync is not None:
            if flush_seconds > 0:
                self.sync.flush(flush_seconds)
            self.sync.stop()

    # ----------------------------------------------------------------------
    # Storage.

    @contextmanager
    def _lock(self, shared: bool = False) -> Iterator[None]:
        """Hold the folder's lock; each holder opens the file, so threads exclude each other too."""
        fd = os.open(self.folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _read(self) -> list[tuple[bytes, dict]]:
        data = self._metadata.read_bytes() if self._metadata.exists() else b""
        return list(zip(data.splitlines(keepends=True), _parse(data)))

    def _append(self, line: bytes) -> None:
        """Append one line with one write + fsync, first cutting a partial line a crashed writer left."""
        fd = os.open(self._metadata, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            _cut_partial_line(fd)
            if os.write(fd, line) != len(line):  # a full disk: the partial line is cut before the next append
                raise OSError(f"short write to {self._metadata}: the label was not stored")
            os.fsync(fd)
        finally:
            os.close(fd)

    def _remove(self, doomed: Callable[[dict], bool]) -> list[dict]:
        with self._lock():
            lines = self._read()
            removed = [record for _, record in lines if doomed(record)]
            if removed:
                _write_atomic(self._metadata, b"".join(raw for raw, record in lines if not doomed(record)))
                for record in removed:
                    (self.folder / record["file_name"]).unlink(missing_ok=True)
        return removed

    def _recover(self) -> None:
        """Undo what a crash mid-write leaves: a partial last line, temporary files, crops without a line."""
        if self._metadata.exists():
            fd = os.open(self._metadata, os.O_RDWR)
            try:
                _cut_partial_line(fd)
            finally:
                os.close(fd)
        known = {Path(record["file_name"]).name for _, record in self._read()}
        for folder in (self.folder, self.folder / CROPS):
            for path in folder.iterdir():
                orphan = folder.name == CROPS and path.suffix == ".png" and path.name not in known
                if path.is_file() and (path.name.startswith(TMP_PREFIX) or orphan):
                    log.warning("removing %s left by an interrupted write", path)
                    path.unlink()


def is_stored_record(record: object) -> bool:
    """Whether ``record`` has every field and names its crop the way this store does (``crops/<id>.png``)."""
    if not isinstance(record, dict) or not RECORD_FIELDS <= record.keys():
        return False
    match = CROP_FILE.fullmatch(str(record["file_name"]))
    return match is not None and match.group(1) == record["id"]


def _parse(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.splitlines()]


def _cut_partial_line(fd: int) -> None:
    """Truncate the file after its last newline (a no-op for a well-formed file)."""
    size = os.fstat(fd).st_size
    if not size or os.pread(fd, 1, size - 1) == b"\n":
        return
    tail = 1 << 16
    end = size
    while end > 0:
        start = max(0, end - tail)
        cut = os.pread(fd, end - start, start).rfind(b"\n")
        if cut >= 0:
            end = start + cut + 1
            break
        end = start
    log.warning("dropping %d bytes of a label line a crashed writer left unfinished", size - end)
    os.ftruncate(fd, end)
    os.fsync(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` all or nothing: temporary file, fsync, rename, fsync of the folder."""
    tmp = path.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb", closefd=False) as file:
            file.write(data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _check_label(task: str, label: str) -> None:
    if task not in TASK_LABELS:
        raise LabelError(f"unknown task {task!r}; choose one of {', '.join(TASK_LABELS)}")
    allowed = TASK_LABELS[task]
    if allowed is None:
        try:
            check_name(label)
        except (TypeError, ValueError) as err:
            raise LabelError(f"not a usable name for the identity label: {err}") from None
    elif label not in allowed:
        raise LabelError(f"{label!r} is not a {task} label; choose one of {', '.join(allowed)}")


def _check_labeler_id(labeler_id: str) -> None:
    if not isinstance(labeler_id, str) or not LABELER_ID.fullmatch(labeler_id):
        raise LabelError("the labeler id must be 8-64 letters, digits, '-' or '_' (make one with new_labeler_id())")


def _clean_labeler_name(name: str | None) -> str | None:
    """The optional labeler name, stripped; None when blank. Control characters and overlong names are refused."""
    if name is None:
        return None
    if not isinstance(name, str):
        raise LabelError(f"a labeler name is text, got {type(name).__name__}")
    name = name.strip()
    if not name:
        return None
    if len(name) > MAX_NAME_LENGTH:
        raise LabelError(f"a labeler name must be at most {MAX_NAME_LENGTH} characters, got {len(name)}")
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in name):
        raise LabelError("a labeler name must not contain control characters")
    return name


# --------------------------------------------------------------------------
# The queue of faces to label.


@dataclass
class QueueItem:
    """One face to label: its crop (framed by :data:`LABEL_CROP`), what each model said, and where it is in its photo."""

    crop: np.ndarray
    source: str
    """The input it came from, for display only."""
    box: tuple[float, float, float, float]
    predictions: dict[str, Prediction]
    digest: str = ""
    """The crop's :func:`crop_digest`: the face's key among labels (``crop_sha256``)."""
    context: np.ndarray | None = None
    """A small copy of the whole photo (shared by the photo's faces), to show where the face is."""
    context_scale: float = 1.0
    """``context``'s size over the photo's: the box times this is the face in ``context``."""


@dataclass
class LabelQueue:
    """Faces to label, least confident first, and the inputs that could not be read.

    ``complete`` is False when the queue stopped at its ``max_faces`` and left faces out.
    """

    task: str
    items: list[QueueItem]
    errors: list[str]
    complete: bool = True
    left_out: dict[str, int] = dataclasses.field(default_factory=dict)
    """Faces not queued, by reason: ``small`` (under ``min_face`` pixels), ``done`` (``skip`` said so)."""


def crop_digest(pixels: np.ndarray) -> str:
    """The key of a face crop among labels: the SHA-256 of its RGB pixels (a record's ``crop_sha256``)."""
    return hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest()


#: The longer side of the photo thumbnail kept with each queued face, to show where the face is.
CONTEXT_SIDE = 320


def build_queue(
    images: Iterable[ImageSource],
    analyzer: Analyzer,
    task: str,
    *,
    gallery: Gallery | None = None,
    assume_face: bool = False,
    crop: CropSpec = LABEL_CROP,
    max_faces: int | None = None,
    min_face: float = 0,
    skip: Callable[[str, str], bool] | None = None,
    first: Callable[[str], bool] | None = None,
) -> LabelQueue:
    """Detect and analyze every face of ``images``; queue their crops, least confident about ``task`` first.

    Faces whose models gave no answer for ``task`` (no such model loaded) come
    first; a ``gallery`` gives identity suggestions. ``assume_face``: each
    image already is one face crop. Faces narrower than ``min_face`` pixels are
    too small to judge and left out, as are those that ``skip`` refuses, given
    their crop digest and source (already labelled by this labeler, or by enough others); those that
    ``first`` picks (labelers disagree on them) come before all others. With
    ``max_faces``, reading stops once that many faces are queued, and the
    crops share one array allocated up front, so releasing the queue gives all
    their memory back at once (many small arrays would leave the heap
    fragmented).
    """
    if task not in TASK_LABELS:
        raise LabelError(f"unknown task {task!r}; choose one of {', '.join(TASK_LABELS)}")
    items: list[QueueItem] = []
    errors: list[str] = []
    left_out: dict[str, int] = {}
    block = None if max_faces is None else np.empty((max_faces, crop.size, crop.size, 3), np.uint8)
    complete = True
    for number, image in enumerate(images, start=1):
        if max_faces is not None and len(items) >= max_faces:
            complete = False
            break
        source = os.fspath(image) if isinstance(image, (str, os.PathLike)) else f"image {number}"
        try:
            result = analyzer.analyze(image, assume_face=assume_face, gallery=gallery)
        except ImageError as err:
            errors.append(str(err))
            continue
        scale = 1.0 if assume_face else crop.scale
        context, context_scale = photo_thumbnail(result.image)
        for face in result:
            if block is not None and len(items) >= len(block):
                complete = False
                break
            if face.box[2] < min_face:
                left_out["small"] = left_out.get("small", 0) + 1
                continue
            face_crop = crop_square(result.image, face.box, crop.size, scale)
            digest = crop_digest(face_crop)
            if skip is not None and skip(digest, str(source)):
                left_out["done"] = left_out.get("done", 0) + 1
                continue
            if block is not None:
                block[len(items)] = face_crop
                face_crop = block[len(items)]
            items.append(
                QueueItem(face_crop, str(source), tuple(face.box), dict(face.results), digest, context, context_scale)
            )
        del result
    items.sort(
        key=lambda item: (
            not (first is not None and first(item.digest)),
            item.predictions[task].score if task in item.predictions else float("-inf"),
        )
    )
    return LabelQueue(task, items, errors, complete, left_out)


def photo_thumbnail(pixels: np.ndarray) -> tuple[np.ndarray, float]:
    """A copy of ``pixels`` at most :data:`CONTEXT_SIDE` on its longer side, and its scale."""
    scale = min(1.0, CONTEXT_SIDE / max(pixels.shape[:2]))
    if scale == 1.0:
        return pixels.copy(), 1.0
    size = (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale)))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR)), scale
