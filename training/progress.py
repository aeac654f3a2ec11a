"""Where a training run stands: shown while it runs, kept so an interrupted run resumes.

- :class:`EpochLog` records every finished epoch (metrics, seconds, images per
  second) and logs a concise line with the run's ETA; when the output is not a
  terminal (Keras' progress bar is off) it also logs the batch it is at, now and then.
- :class:`RunFolder` is ``OUT/.run``: the settings of the run, the epoch
  records, the weights after each finished phase, the best weights and one
  ``keras.callbacks.BackupAndRestore`` folder per phase (written whole by
  :class:`AtomicBackupAndRestore`). ``train`` on the same ``--out`` picks it
  up; a finished run removes it.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import keras
import numpy as np

log = logging.getLogger(__name__)


def duration(seconds: float) -> str:
    """``3725`` -> ``"1h02m"``, ``95`` -> ``"1m35s"``: short enough for a log line."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class RunFolder:
    """``OUT/.run``: what an interrupted ``train`` resumes from."""

    def __init__(self, out: Path, settings: dict):
        self.path = out / ".run"
        self.settings = json.loads(json.dumps(settings))
        config = self.path / "config.json"
        self.resumed = config.is_file()
        if self.resumed:
            saved = json.loads(config.read_text())
            changed = sorted(k for k in saved.keys() | self.settings.keys() if saved.get(k) != self.settings.get(k))
            if changed:
                raise ValueError(
                    f"{out} holds an interrupted run with other settings ({', '.join(changed)}): rerun it with "
                    f"the same settings to resume, or delete {self.path} to start over"
                )
            log.info("resuming the interrupted run in %s", self.path)
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            config.write_text(json.dumps(self.settings, indent=1, sort_keys=True) + "\n")

    @property
    def history_file(self) -> Path:
        return self.path / "history.jsonl"

    def backup_dir(self, phase: str) -> Path:
        return self.path / f"backup-{phase}"

    def resume_epoch(self, phase: str) -> int:
        """The epoch (0-based) a phase's ``BackupAndRestore`` will restart at; 0 when it has no backup.

        Keras writes the backup's metadata in place: a run stopped while writing
        it leaves it unreadable, and that backup is dropped (the phase starts over).
        """
        meta = self.backup_dir(phase) / "training_metadata.json"
        if not meta.is_file():
            return 0
        try:
            return int(json.loads(meta.read_text())["epoch"])
        except (ValueError, KeyError):
            log.warning("the backup of phase %s was cut short while being written: the phase starts over", phase)
            shutil.rmtree(self.backup_dir(phase))
            return 0

    def history(self) -> list[dict]:
        """The finished epochs, each once (a re-run epoch replaces its earlier record), in order."""
        if not self.history_file.is_file():
            return []
        records: dict[tuple[str, int], dict] = {}
        for line in self.history_file.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:  # blank, or cut short by a stop while it was written: that epoch is run again
                continue
            records[(record["phase"], record["epoch"])] = record
        order = {name: i for i, name in enumerate(dict.fromkeys(phase for phase, _ in records))}
        return [records[key] for key in sorted(records, key=lambda k: (order[k[0]], k[1]))]

    def _weights_file(self, name: str) -> Path:
        return self.path / f"{name}.npz"

    def save_weights(self, name: str, weights: list[np.ndarray], score: float | None = None) -> None:
        """Keep a model's weights (no optimizer state) under ``name``, written atomically."""
        tmp = self.path / f"{name}.tmp.npz"
        np.savez(tmp, *weights, score=np.nan if score is None else score)
        tmp.replace(self._weights_file(name))

    def weights(self, name: str) -> list[np.ndarray]:
        with np.load(self._weights_file(name)) as saved:
            return [saved[f"arr_{i}"] for i in range(len(saved.files) - 1)]

    def finish_phase(self, phase: str, weights: list[np.ndarray]) -> None:
        """Keep the weights ``phase`` ends with (the next phase starts from them), then drop its backup."""
        self.save_weights(f"after-{phase}", weights)
        shutil.rmtree(self.backup_dir(phase), ignore_errors=True)

    def phase_done(self, phase: str) -> bool:
        """Whether ``phase`` finished: its last weights are kept as ``after-PHASE``."""
        return self._weights_file(f"after-{phase}").is_file()

    def best(self) -> float:
        """The validation accuracy of the weights kept as ``best``; -1 before the first epoch."""
        if not self._weights_file("best").is_file():
            return -1.0
        with np.load(self._weights_file("best")) as saved:
            return float(saved["score"])

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` whose backup is replaced whole: a run stopped while saving keeps the previous one.

    Keras writes the weights file in place, so a Ctrl-C or a kill during the
    save leaves a file that cannot be restored. Here both files are written
    beside the old ones and renamed over them, weights first (a stop between
    the two renames repeats one epoch rather than skipping one).
    """

    def _save_model(self):
        Path(self.backup_dir).mkdir(parents=True, exist_ok=True)
        weights = Path(self._weights_path)
        tmp_weights = weights.with_name(".tmp-" + weights.name)
        self.model.save_weights(str(tmp_weights), overwrite=True)
        meta = Path(self._training_metadata_path)
        tmp_meta = meta.with_name(".tmp-" + meta.name)
        tmp_meta.write_text(json.dumps({"epoch": self._current_epoch, "batch": self._last_batch_seen}))
        tmp_weights.replace(weights)
        tmp_meta.replace(meta)


class EpochLog(keras.callbacks.Callback):
    """Record each epoch to ``run.history_file`` and log progress with the ETA of the whole run.

    ``remaining_after`` is the number of epochs of the phases still to come,
    so the ETA covers the run, not just this phase.
    """

    def __init__(
        self,
        run: RunFolder,
        phase: str,
        train_images: int,
        remaining_after: int,
        batch_lines: bool,
        every_s: float = 60.0,
    ):
        super().__init__()
        self.run, self.phase, self.train_images = run, phase, train_images
        self.remaining_after, self.batch_lines, self.every_s = remaining_after, batch_lines, every_s
        self.epoch_seconds: list[float] = []
        self.started: float | None = None
        self.train_seconds: float | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.started = self.last_line = time.monotonic()
        self.train_seconds = None

    def on_train_batch_end(self, batch, logs=None):
        now = time.monotonic()
        if not self.batch_lines or now - self.last_line < self.every_s:
            return
        self.last_line = now
        steps = self.params.get("steps") or 0
        left = (now - self.started) / (batch + 1) * (steps - batch - 1) if steps else 0
        metrics = " ".join(f"{k} {float(v):.4f}" for k, v in (logs or {}).items())
        log.info(
            "%s epoch %d/%d batch %d/%s %s, epoch ends in %s",
            self.phase,
            self.epoch + 1,
            self.params["epochs"],
            batch + 1,
            steps or "?",
            metrics,
            duration(left),
        )

    def on_test_begin(self, logs=None):
        if self.train_seconds is None and self.started is not None:  # validation starts: the training part ends
            self.train_seconds = time.monotonic() - self.started

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.monotonic() - self.started
        train_seconds = self.train_seconds or seconds
        self.epoch_seconds.append(seconds)
        record = {
            "phase": self.phase,
            "epoch": epoch + 1,
            **{k: float(v) for k, v in (logs or {}).items()},
            "seconds": round(seconds, 2),
            "images_per_second": round(self.train_images / train_seconds, 1),
        }
        with self.run.history_file.open("a") as f:
            f.write(json.dumps(record) + "\n")
        left = self.params["epochs"] - epoch - 1 + self.remaining_after
        eta = float(np.mean(self.epoch_seconds)) * left
        metrics = " ".join(f"{k} {float(v):.4f}" for k, v in (logs or {}).items() if k != "learning_rate")
        log.info(
            "%s epoch %d/%d: %s, %s (%.1f img/s), %s",
            self.phase,
            epoch + 1,
            self.params["epochs"],
            metrics,
            duration(seconds),
            record["images_per_second"],
            f"ETA {duration(eta)}" if left else "done",
        )


class KeepBest(keras.callbacks.Callback):
    """Keep ``model``'s weights whenever validation accuracy beats the best so far (kept across resumptions).

    ``model`` is the network that is saved, which may sit inside the model
    being fitted (with augmentation in front); no optimizer state is kept.
    """

    def __init__(self, run: RunFolder, model: keras.Model):
        super().__init__()
        self.run, self.network, self.best = run, model, run.best()

    def on_epoch_end(self, epoch, logs=None):
        score = float((logs or {}).get("val_accuracy", -1.0))
        if score > self.best:
            self.best = score
            self.run.save_weights("best", self.network.get_weights(), score)
