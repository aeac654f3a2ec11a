"""Uploads: handed to the handlers undecoded, kept in the app's own temporary folder, deleted within minutes.

The inputs (:mod:`.inputs`) hand uploads over undecoded, as files: the
analyzer decodes each once, through :func:`maskface.image.load_image`, which
checks the byte size and the pixel count in the header first
(:func:`image_source` turns a webcam frame's data URL into bytes).

:class:`TempFolder` is the app's own temporary folder (Gradio's
``GRADIO_TEMP_DIR``): every upload and every result shown lives there and is
deleted once older than :data:`MAX_AGE` seconds, at start-up (what a crash or
restart left) and every :data:`SWEEP_EVERY` seconds; an upload refused by the
limits is deleted at once (:meth:`TempFolder.refusing`). The copies Gradio makes
of the example files while the page is built are the app's own and stay
(:meth:`TempFolder.keep_present`). It only ever cleans a folder it marked as
its own.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..config import settings
from ..image import ImageError, ImageSource
from ..video import VideoError

log = logging.getLogger(__name__)

#: Uploads and results older than this (seconds) are deleted.
MAX_AGE = 300
#: Seconds between two sweeps of the temporary folder.
SWEEP_EVERY = 60
#: An empty sub-folder goes once it has not changed for this long (Gradio may be about to move an upload in).
EMPTY_FOLDER_AGE = 60
MARKER = ".maskface-temp"


def image_source(value: str | bytes | None) -> ImageSource | None:
    """What :func:`maskface.image.load_image` reads from an :class:`ImageInput` value: a path, or a data URL's bytes.

    A data URL over the byte limit is refused before it is decoded from base64.
    """
    if not isinstance(value, str) or not value.startswith("data:"):
        return value
    _, _, encoded = value.partition(",")
    limit = settings().max_bytes
    if len(encoded) * 3 // 4 > limit:
        raise ImageError(f"image too large: more than {limit:,} bytes (set MASKFACE_MAX_BYTES to change it)")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ImageError("not an image: the webcam frame could not be read") from None


class TempFolder:
    """The app's temporary folder: created with a marker, swept of files older than ``max_age`` seconds."""

    def __init__(self, path: str | os.PathLike, max_age: float = MAX_AGE, every: float = SWEEP_EVERY) -> None:
        self.path = Path(path).resolve()
        self.max_age, self.every = max_age, every
        self._stop = threading.Event()
        self._kept: frozenset[Path] = frozenset()

    def prepare(self) -> TempFolder:
        """Create the folder (marking it as ours) and sweep what an earlier run left; refuse someone else's folder."""
        self.path.mkdir(parents=True, exist_ok=True)
        marker = self.path / MARKER
        if not marker.exists():
            if any(self.path.iterdir()):
                raise ValueError(
                    f"{self.path} is not empty and not maskface's temporary folder: set MASKFACE_TEMP_DIR to a new "
                    "or empty folder (the app deletes old files in it)"
                )
            marker.touch()
        self.sweep()
        return self

    def keep_present(self) -> None:
        """Keep the files there now for as long as this app runs: Gradio's copies of the examples, made at build."""
        self._kept = frozenset(p for p in self.path.rglob("*") if p.is_file())

    def sweep(self, now: float | None = None) -> int:
        """Delete files older than ``max_age`` (and empty folders); return how many files went."""
        now = time.time() if now is None else now
        limit = now - self.max_age
        removed = 0
        for folder, subfolders, files in os.walk(self.path, topdown=False):
            for name in files:
                path = Path(folder, name)
                if (path.parent == self.path and name == MARKER) or path in self._kept:
                    continue
                try:
                    if path.lstat().st_mtime < limit:
                        path.unlink()
                        removed += 1
                except FileNotFoundError:
                    continue
            for name in subfolders:
                try:
                    sub = Path(folder, name)
                    if sub.lstat().st_mtime < now - EMPTY_FOLDER_AGE:
                        sub.rmdir()  # only when empty
                except OSError:
                    continue
        if removed:
            log.info("deleted %d temporary file(s) older than %g s", removed, self.max_age)
        return removed

    def start(self) -> None:
        """Sweep every ``every`` seconds in a background thread until :meth:`stop`."""

        def loop() -> None:
            while not self._stop.wait(self.every):
                try:
                    self.sweep()
                except OSError as err:  # a full or read-only disk must not stop the app
                    log.warning("sweeping %s failed: %s", self.path, err)

        threading.Thread(target=loop, name="maskface-temp-sweep", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    @contextmanager
    def refusing(self, upload: str | None) -> Iterator[None]:
        """Delete ``upload`` at once when the code inside refuses it (an ``ImageError`` or ``VideoError``).

        Uploads of identical files share one path in Gradio's cache, so a request
        may find its upload already deleted by another that refused the same
        file: it is told so, not shown a path.
        """
        try:
            yield
        except ValueError as refusal:
            if not isinstance(refusal, (ImageError, VideoError)):
                raise
            if isinstance(upload, str) and self.holds(upload) and not os.path.exists(upload):
                raise type(refusal)(
                    "this upload is no longer on the server (uploads are kept 5 minutes, refused ones are deleted "
                    "at once): upload it again"
                ) from None
            self.discard(upload)
            raise

    def holds(self, path: str | os.PathLike) -> bool:
        """Whether ``path`` lies inside this folder."""
        return Path(path).resolve().is_relative_to(self.path)

    def discard(self, path: str | os.PathLike | None) -> None:
        """Delete an upload at once (refused, or read and not to be kept); only a file inside this folder, never a kept one."""
        if not isinstance(path, (str, os.PathLike)) or str(path).startswith("data:"):
            return
        resolved = Path(path).resolve()
        if self.holds(resolved) and resolved not in self._kept and resolved.is_file():
            resolved.unlink(missing_ok=True)
