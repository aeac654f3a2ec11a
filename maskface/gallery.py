"""Enrolled people, for open-set identification: which enrolled person is this face, or nobody we know?

The product enrols a new person from a few photos without retraining, so
identification is a nearest-neighbour search: a face's embedding is compared
(cosine) with every enrolled embedding, and the best person is named only when
the score reaches the gallery's threshold; otherwise the face is ``unknown``.
The scoring rule is :mod:`maskface.matching`'s, the one every ID-M figure is
measured with.

A gallery keeps, per person, a generated id, the name as given and
L2-normalised embeddings - nothing else, no images. Names are data: stored and
returned verbatim, never part of a path. Embeddings of different models live
in different spaces, so a gallery records its model's id and refuses another's.

On disk a gallery is one folder:

* ``gallery.json``: format, model id, the thresholds for bare and for masked
  faces, the people (id, name, number
  of embeddings) and the name of the current embeddings file;
* ``embeddings-<hex>.npy``: every embedding, float32 (N, D), the people's rows
  in the order of ``gallery.json``;
* ``gallery.lock``: held (``flock``) while the folder is read or changed.

A change re-reads the folder under the lock, writes a new embeddings
file, replaces ``gallery.json`` (``os.replace``: the commit point) and deletes
the old file, so processes enrolling at the same time lose nothing and a crash
leaves the previous state readable. Listing and identifying first check
whether ``gallery.json`` was replaced since it was last read (one ``stat``)
and re-read it if so, so a person removed by another process (the CLI, a
second app) is gone at the next call.

>>> import numpy as np, tempfile
>>> gallery = Gallery.open(tempfile.mkdtemp(), model_id="example-2d", threshold=0.8)
>>> gallery.enroll("Ada Lovelace", np.array([[1.0, 0.0], [0.9, 0.1]]))  # doctest: +ELLIPSIS
'...'
>>> [p.label for p in gallery.identify(np.array([[0.95, 0.05], [0.0, 1.0]]))]
['Ada Lovelace', 'unknown']
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import tempfile
import unicodedata
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

import numpy as np

from .crops import CropSpec
from .face import Prediction
from .matching import DEFAULT_RULE, normalise, person_scores

if TYPE_CHECKING:
    from .store import StoredModel

log = logging.getLogger(__name__)

INDEX = "gallery.json"
LOCK = "gallery.lock"
FORMAT = 2
#: Earlier formats still read: 1 had one ``threshold`` for every face.
READABLE_FORMATS = (1, 2)
EMBEDDINGS_FILE = re.compile(r"embeddings-[0-9a-f]{32}\.npy")
TMP_PREFIX = ".tmp-"
UNKNOWN = "unknown"
BARE, MASKED = "bare", "masked"
#: The kinds of face a gallery has a threshold for (the mask model says which a face is).
KINDS = (BARE, MASKED)
MAX_NAME_LENGTH = 200
#: Threshold of a new gallery when none is given; calibrate it per model with
#: ``training.protocols`` (the ID-M threshold at FAR 1%).
DEFAULT_THRESHOLD = 0.5

T = TypeVar("T")


class GalleryError(ValueError):
    """A gallery that cannot be used as asked; the message says why and what to do."""


class NameTaken(GalleryError):
    """Enrolling a name that is already enrolled, without saying it is the same person."""


class Embedder(Protocol):
    """A face-embedding model: crops framed by ``crop`` in, unit-norm (N, D) float32 rows out.

    ``model_id`` names the embedding space; galleries record it.
    """

    model_id: str
    crop: CropSpec

    def embed(self, crops: np.ndarray) -> np.ndarray: ...


class ModelEmbedder:
    """A trained ``identity`` model (see ``training.distill``) as an :class:`Embedder`.

    Its ``model_id`` is the id written into the model when it was trained, so
    a retrained model never silently matches against another's gallery.

    A model of two networks (``bare`` and ``masked``, one embedding space; see
    :func:`training.architectures.build_identity_pair`) embeds each face with
    the network of its kind: the masked one learnt to put a masked face where
    the bare network puts the same face bare. A model of one network embeds
    every face with it.

    Each face is embedded as the mean of its crop's and its mirror image's
    embeddings (``mirror``, one batch through the network): on ID-M that lifted
    the shipped two-network model's masked rank-1 from 85.9% to 88.0% and bare
    from 97.7% to 98.6% (README, "Recognition"), for twice the network time.
    """

    def __init__(self, stored: StoredModel, batch_size: int = 64, mirror: bool = True) -> None:
        if stored.spec.task != "identity":
            raise ValueError(f"model {stored.source!r} is a {stored.spec.task} model, not an identity model")
        self.stored = stored
        self.crop = stored.spec.crop
        self.model_id = str(stored.spec.training.get("embedding_id") or f"{stored.spec.arch}-{self.crop.size}px")
        self.batch_size = batch_size
        names = {layer.name for layer in stored.model.layers}
        pair = {kind: stored.model.get_layer(kind) for kind in KINDS} if set(KINDS) <= names else {}
        self.networks = pair or {kind: stored.model for kind in KINDS}
        self.mirror = mirror

    @property
    def thresholds(self) -> dict[str, float] | None:
        """The model's ID-M thresholds at FAR 1% for bare and masked faces, if it was evaluated."""
        figures = self.stored.spec.metrics.get("ID-M", {})
        single = figures.get("unknown_threshold")
        found = {kind: figures.get(f"unknown_threshold {kind}", single) for kind in KINDS}
        return None if None in found.values() else {kind: float(value) for kind, value in found.items()}

    def embed(self, crops: np.ndarray, masked: np.ndarray | None = None) -> np.ndarray:
        """Unit-norm embeddings (N, D) of uint8 RGB crops (N, size, size, 3); ``masked`` (N,) says which
        faces wear a mask (default: none)."""
        pixels = np.asarray(crops, dtype=np.float32)
        flags = np.zeros(len(pixels), bool) if masked is None else np.asarray(masked, bool)
        out = np.zeros((len(pixels), self.networks["bare"].output_shape[-1]), np.float32)
        for kind in KINDS:
            rows = np.flatnonzero(flags == (kind == MASKED))
            for i in range(0, len(rows), self.batch_size):
                batch = pixels[rows[i : i + self.batch_size]]
                out[rows[i : i + self.batch_size]] = self._run(self.networks[kind], batch)
        return out if not len(out) else normalise(out)

    def _run(self, network, batch: np.ndarray) -> np.ndarray:
        from .inference import predictor_for

        predict = predictor_for(network)
        if not self.mirror:
            return normalise(predict(batch))
        both = predict(np.concatenate([batch, batch[:, :, ::-1]]))
        return normalise(normalise(both[: len(batch)]) + normalise(both[len(batch) :]))


@dataclass
class _Person:
    id: str
    name: str
    embeddings: np.ndarray  # (n, D) float32, unit rows


Thresholds = float | Mapping[str, float]


def as_thresholds(value: Thresholds) -> dict[str, float]:
    """One threshold per kind of :data:`KINDS` from one number for all, or a mapping of every kind."""
    if isinstance(value, Mapping):
        missing = [kind for kind in KINDS if kind not in value]
        if missing:
            raise GalleryError(f"thresholds are missing for {', '.join(missing)} faces")
        return {kind: float(value[kind]) for kind in KINDS}
    return {kind: float(value) for kind in KINDS}


def check_name(name: str) -> None:
    """Raise ``ValueError``, saying why, when ``name`` cannot be enrolled.

    Refused: empty or whitespace-only names, names over
    :data:`MAX_NAME_LENGTH` characters, control characters (NUL included),
    lone surrogates, and :data:`UNKNOWN`, the label of a face nobody matches.
    """
    if not isinstance(name, str):
        raise TypeError(f"a name is a string, got {type(name).__name__}")
    if not name.strip():
        raise ValueError("a name must not be empty or only whitespace")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"a name must be at most {MAX_NAME_LENGTH} characters, got {len(name)}")
    for char in name:
        if unicodedata.category(char) in ("Cc", "Cs"):
            raise ValueError(f"a name must not contain control characters, found {ascii(char)}")
    if name == UNKNOWN:
        raise ValueError(f"{UNKNOWN!r} is the label of faces that match nobody and cannot be a name")


class Gallery:
    """The people enrolled in one gallery folder, for one embedding model.

    ``people`` and ``identify`` use the state read at :meth:`open` or left by
    this object's last change; every change re-reads the folder first, so it
    merges with what other processes enrolled meanwhile.
    """

    def __init__(self, path: Path, model_id: str, thresholds: Thresholds) -> None:
        self.path = path
        self.model_id = model_id
        self.thresholds = as_thresholds(thresholds)
        self._people: list[_Person] = []
        self._stamp: tuple[int, int, int] | None = None  # gallery.json as last read or written

    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        model_id: str,
        create: bool = True,
        threshold: Thresholds | None = None,
        default_threshold: Thresholds | None = None,
    ) -> Gallery:
        """Open the gallery in folder ``path`` for embeddings of ``model_id``.

        A missing gallery is created (folder included) unless ``create`` is
        False. ``threshold`` (one number for every face, or one per kind of
        :data:`KINDS`), when given, becomes the gallery's stored thresholds; a
        new gallery otherwise gets ``default_threshold`` (the model's
        calibrated ones) or else :data:`DEFAULT_THRESHOLD`.
        Raises :class:`GalleryError` when the gallery belongs to another model.
        """
        folder = Path(path)
        if not (folder / INDEX).is_file():
            if not create:
                raise FileNotFoundError(f"no gallery at {folder} (no {INDEX} there)")
            folder.mkdir(parents=True, exist_ok=True)
        initial = threshold if threshold is not None else default_threshold
        gallery = cls(folder, model_id, DEFAULT_THRESHOLD if initial is None else initial)
        with gallery._lock():
            if not (folder / INDEX).is_file():
                gallery._write()
            else:
                gallery._read()
                if threshold is not None and as_thresholds(threshold) != gallery.thresholds:
                    gallery.thresholds = as_thresholds(threshold)
                    gallery._write()
        log.info("gallery %s: %d people, model %s", folder, len(gallery._people), model_id)
        return gallery

    @classmethod
    def for_model(cls, path: str | os.PathLike, embedder: Embedder, create: bool = True) -> Gallery:
        """Open the gallery at ``path`` for ``embedder``'s embeddings (e.g. ``analyzer.embedder``).

        A new gallery starts at the model's calibrated thresholds (its ID-M
        thresholds at FAR 1% for bare and for masked faces) when it has them.
        """
        thresholds = getattr(embedder, "thresholds", None)
        return cls.open(path, embedder.model_id, create=create, default_threshold=thresholds)

    def enroll(
        self, name: str, embeddings: np.ndarray, *, add_to_existing: bool = True, max_people: int | None = None
    ) -> str:
        """Add embeddings (D,) or (N, D) of ``name``; return the person's id.

        A person with exactly this name gets the embeddings added when
        ``add_to_existing`` (they are the same person), else :class:`NameTaken`
        is raised; otherwise a new person (new id) is enrolled, unless the
        gallery already holds ``max_people``. See :func:`check_name` for names.
        """
        check_name(name)
        rows = normalise(embeddings)

        def change() -> str:
            self._check_dim(rows)
            person = next((p for p in self._people if p.name == name), None)
            if person is not None and not add_to_existing:
                raise NameTaken(
                    f"{name!r} is already enrolled: if these photos show the same person, say so to add them; "
                    "otherwise choose another name (add an initial, say)"
                )
            if person is None:
                if max_people is not None and len(self._people) >= max_people:
                    raise GalleryError(
                        f"this gallery holds {len(self._people)} people, its limit: remove someone first"
                    )
                person = _Person(uuid.uuid4().hex, name, rows[:0])
                self._people.append(person)
            person.embeddings = np.concatenate([person.embeddings, rows])
            return person.id

        return self._update(change)

    def remove(self, name_or_id: str) -> int:
        """Remove the person with this id, or else with this name; return how many embeddings went."""

        def change() -> int:
            matches = [p for p in self._people if p.id == name_or_id] or [
                p for p in self._people if p.name == name_or_id
            ]
            if not matches:
                raise GalleryError(f"nobody with the name or id {name_or_id!r} is enrolled in {self.path}")
            self._people = [p for p in self._people if p not in matches]
            return sum(len(p.embeddings) for p in matches)

        return self._update(change)

    def people(self) -> list[dict]:
        """The enrolled people: ``[{"id", "name", "embeddings": count}]`` in enrolment order."""
        self.refresh()
        return [{"id": p.id, "name": p.name, "embeddings": len(p.embeddings)} for p in self._people]

    def refresh(self) -> bool:
        """Re-read the folder if another process (or object) changed it since; whether it did."""
        if _stamp(self.path / INDEX) == self._stamp:
            return False
        with self._lock():
            self._read()
        return True

    def identify(self, embeddings: np.ndarray, top_k: int = 5, masked: np.ndarray | None = None) -> list[Prediction]:
        """One :class:`Prediction` per embedding row: the best person's name, or :data:`UNKNOWN`.

        The score is the best person's cosine score (the rule of
        :mod:`maskface.matching`), also when it falls below the threshold and
        the label is ``unknown``; the threshold is the gallery's one for the
        face's kind (``masked``, one flag per row; default: bare) and comes
        with the prediction; ``candidates`` are the ``top_k`` people, best
        first. An empty gallery answers ``unknown``, score 0, no candidates.
        """
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        probes = normalise(embeddings)
        flags = np.zeros(len(probes), bool) if masked is None else np.asarray(masked, bool)
        self.refresh()
        people, thresholds = self._people, self.thresholds  # one state for the whole call
        limits = [thresholds[MASKED if flag else BARE] for flag in flags]
        if not people:
            return [Prediction(UNKNOWN, 0.0, threshold=limit) for limit in limits]
        self._check_dim(probes)
        rows = np.concatenate([p.embeddings for p in people])
        owners = np.repeat(np.arange(len(people)), [len(p.embeddings) for p in people])
        scores = person_scores(probes, rows, owners, len(people), DEFAULT_RULE)
        results = []
        for row, limit in zip(scores, limits):
            best = np.argsort(-row, kind="stable")[:top_k]
            candidates = tuple((people[k].name, float(row[k])) for k in best)
            name, score = candidates[0]
            results.append(Prediction(name if score >= limit else UNKNOWN, score, candidates, limit))
        return results

    # ----------------------------------------------------------------------
    # Storage.

    def _check_dim(self, rows: np.ndarray) -> None:
        if self._people and rows.shape[1] != self._people[0].embeddings.shape[1]:
            raise GalleryError(
                f"embeddings have {rows.shape[1]} dimensions but the gallery at {self.path} holds "
                f"{self._people[0].embeddings.shape[1]}-dimensional ones"
            )

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """Hold the folder's exclusive lock; closing the file releases it."""
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _update(self, change: Callable[[], T]) -> T:
        """Apply ``change`` to the freshly re-read state and write it, all under the lock."""
        with self._lock():
            self._read()
            result = change()
            self._write()
        return result

    def _read(self) -> None:
        stamp = _stamp(self.path / INDEX)
        try:
            index = json.loads((self.path / INDEX).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise GalleryError(f"cannot read the gallery at {self.path}: {err}") from None
        if index.get("format") not in READABLE_FORMATS:
            raise GalleryError(f"{self.path / INDEX} has format {index.get('format')!r}, expected {FORMAT}")
        if index["model_id"] != self.model_id:
            raise GalleryError(
                f"the gallery at {self.path} holds embeddings of model {index['model_id']!r}, not of "
                f"{self.model_id!r}; embeddings of different models cannot be compared: enrol the people "
                "again into a new gallery with this model"
            )
        self.thresholds = as_thresholds(index["thresholds"] if "thresholds" in index else index["threshold"])
        entries = index["people"]
        self._stamp = stamp
        if not entries:
            self._people = []
            return
        if not EMBEDDINGS_FILE.fullmatch(str(index["embeddings"])):
            raise GalleryError(f"{self.path / INDEX} names an invalid embeddings file {index['embeddings']!r}")
        rows = np.load(self.path / index["embeddings"], allow_pickle=False)
        counts = [int(entry["embeddings"]) for entry in entries]
        if rows.ndim != 2 or len(rows) != sum(counts):
            raise GalleryError(f"the embeddings of the gallery at {self.path} do not match {INDEX}")
        parts = np.split(rows.astype(np.float32), np.cumsum(counts)[:-1])
        self._people = [_Person(e["id"], e["name"], part) for e, part in zip(entries, parts)]

    def _write(self) -> None:
        """Write the state (the caller holds the lock) and delete files no longer used."""
        embeddings = None
        if self._people:
            embeddings = f"embeddings-{uuid.uuid4().hex}.npy"
            rows = np.concatenate([p.embeddings for p in self._people]).astype(np.float32)
            self._atomic_write(embeddings, lambda f: np.save(f, rows, allow_pickle=False))
        index = {
            "format": FORMAT,
            "model_id": self.model_id,
            "thresholds": self.thresholds,
            "embeddings": embeddings,
            "people": [{"id": p.id, "name": p.name, "embeddings": len(p.embeddings)} for p in self._people],
        }
        text = json.dumps(index, ensure_ascii=False, indent=2) + "\n"
        self._atomic_write(INDEX, lambda f: f.write(text.encode("utf-8")))
        self._stamp = _stamp(self.path / INDEX)
        for entry in self.path.iterdir():
            stale = EMBEDDINGS_FILE.fullmatch(entry.name) or entry.name.startswith(TMP_PREFIX)
            if stale and entry.name != embeddings:
                entry.unlink()

    def _atomic_write(self, name: str, write: Callable) -> None:
        """Write ``path/name`` through a synced temporary file and ``os.replace``."""
        with tempfile.NamedTemporaryFile(dir=self.path, prefix=TMP_PREFIX, delete=False) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(f.name, self.path / name)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """What tells one version of a file from the next: each write replaces it, so its inode changes."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size
