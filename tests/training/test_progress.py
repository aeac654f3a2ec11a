"""Progress lines, epoch records, and resuming a run stopped with Ctrl-C (SIGINT) mid-epoch."""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from maskface.store import read_spec
from training.progress import AtomicBackupAndRestore, EpochLog, KeepBest, RunFolder, duration

REPO = Path(__file__).resolve().parents[2]


def test_durations_are_short():
    assert [duration(s) for s in (4.4, 95, 3725)] == ["4s", "1m35s", "1h02m"]


def test_run_folder_refuses_to_resume_with_other_settings(tmp_path):
    RunFolder(tmp_path, {"epochs": 3, "arch": "cnn"})
    assert RunFolder(tmp_path, {"epochs": 3, "arch": "cnn"}).resumed
    with pytest.raises(ValueError, match=r"other settings \(epochs\).*delete"):
        RunFolder(tmp_path, {"epochs": 5, "arch": "cnn"})


def test_epoch_records_keep_the_last_run_of_each_epoch_in_phase_order(tmp_path):
    run = RunFolder(tmp_path, {})
    lines = [("head", 1, 0.5), ("head", 2, 0.6), ("head", 2, 0.7), ("fine-tune", 1, 0.8)]
    records = "".join(json.dumps({"phase": p, "epoch": e, "val_accuracy": a}) + "\n" for p, e, a in lines)
    run.history_file.write_text(records + '{"phase": "fine-tune", "ep')  # a line cut short by a stop
    assert [(r["phase"], r["epoch"], r["val_accuracy"]) for r in run.history()] == [
        ("head", 1, 0.5), ("head", 2, 0.7), ("fine-tune", 1, 0.8)
    ]


def test_epoch_log_records_epochs_logs_batches_and_keeps_the_best_weights(tmp_path, caplog):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = np.random.default_rng(0).normal(size=(12, 4)), np.array([0, 1] * 6)
    run = RunFolder(tmp_path, {})
    callbacks = [EpochLog(run, "scratch", 12, remaining_after=2, batch_lines=True, every_s=0), KeepBest(run, model)]
    with caplog.at_level(logging.INFO, logger="training.progress"):
        model.fit(x, y, validation_data=(x, y), epochs=2, batch_size=4, verbose=0, callbacks=callbacks)
    records = run.history()
    assert [r["epoch"] for r in records] == [1, 2] and records[0]["images_per_second"] > 0
    assert "scratch epoch 1/2 batch 3/3" in caplog.text
    assert "scratch epoch 1/2: accuracy" in caplog.text and "ETA" in caplog.text
    assert "scratch epoch 2/2" in caplog.text and "ETA" in caplog.text.splitlines()[-1]  # two more epochs follow
    assert run.best() == max(r["val_accuracy"] for r in records)
    assert len(run.weights("best")) == len(model.get_weights())


# The signal is sent once two epochs are recorded: the run is still going whatever the machine.
EPOCHS = 12


def _sigint_as_at_a_terminal() -> None:
    """Let the child take Ctrl-C: a test run started in the background (``cmd &``, ``nohup``)
    inherits SIGINT ignored, and Python then never raises KeyboardInterrupt, so the run
    would finish as if the signal had come too late."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_a_run_interrupted_mid_epoch_resumes_where_it_stopped(toy_imagefolder, tmp_path):
    out = tmp_path / "run"
    command = [
        sys.executable, "-m", "training", "train", "--task", "mask", "--arch", "cnn", "--data", str(toy_imagefolder),
        "--out", str(out), "--epochs", str(EPOCHS), "--input-size", "32", "--batch-size", "2",
        "--cache-dir", str(tmp_path / "cache"), "--no-evaluate",
    ]
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    epochs_done = out / ".run" / "history.jsonl"
    backup = out / ".run" / "backup-scratch" / "training_metadata.json"
    first = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=_sigint_as_at_a_terminal,
    )
    deadline = time.monotonic() + 240
    while not (epochs_done.is_file() and epochs_done.read_text().count("\n") >= 2):
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()[0][-3000:]
        time.sleep(0.05)
    first.send_signal(signal.SIGINT)
    log = first.communicate(timeout=120)[0]
    assert first.returncode == 130, log[-3000:]
    assert "interrupted: run the same command again to resume" in log
    stopped_at = json.loads(backup.read_text())["epoch"]  # the last epoch backed up before the interruption
    assert 1 <= stopped_at < EPOCHS and not (out / "maskface.json").exists()
    before = [json.loads(line) for line in epochs_done.read_text().splitlines()][:stopped_at]

    second = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"resuming phase scratch at epoch {stopped_at + 1}/{EPOCHS}" in second.stderr
    history = json.loads((out / "history.json").read_text())
    assert [r["epoch"] for r in history] == list(range(1, EPOCHS + 1))
    assert not (out / ".run").exists()
    assert history[:stopped_at] == before  # the epochs done before the stop are kept, not trained again
    # The best epoch is chosen over the whole run, the part before the stop included. (Whether the toy
    # classes are learned is not asserted: with six validation images and batches of two it varies
    # from run to run even without a stop.)
    assert read_spec(out).training["best_val_accuracy"] == max(r["val_accuracy"] for r in history)


def test_a_backup_cut_short_while_being_written_starts_its_phase_over(tmp_path):
    run = RunFolder(tmp_path, {})
    run.backup_dir("head").mkdir()
    (run.backup_dir("head") / "training_metadata.json").write_text('{"epoch": 3, "batch": 0}')
    assert run.resume_epoch("head") == 3
    (run.backup_dir("head") / "training_metadata.json").write_text("")
    assert run.resume_epoch("head") == 0 and not run.backup_dir("head").exists()


def test_a_stop_while_the_backup_is_written_keeps_the_previous_one(tmp_path):
    def compiled():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.optimizer.build(model.trainable_variables)
        return model

    model = compiled()
    backup = AtomicBackupAndRestore(str(tmp_path / "backup"))
    backup.set_model(model)
    backup.on_epoch_end(0)
    kept = [w.copy() for w in model.get_weights()]

    def stopped_midway(filepath, overwrite=True):
        Path(filepath).write_bytes(b"half a weights file")
        raise KeyboardInterrupt

    model.save_weights = stopped_midway
    with pytest.raises(KeyboardInterrupt):
        backup.on_epoch_end(1)
    fresh = compiled()
    restore = AtomicBackupAndRestore(str(tmp_path / "backup"))
    restore.set_model(fresh)
    restore.on_train_begin()
    assert fresh._initial_epoch == 1
    for a, b in zip(kept, fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
