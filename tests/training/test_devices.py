"""Strategies and precision on CPU: mirrored replicas, mixed float16, and a two-worker cluster on localhost.

No GPU here: these check the GPU code paths as far as CPU devices allow
(MirroredStrategy over one or two CPU devices, mixed_float16 on CPU,
MultiWorkerMirroredStrategy over two local processes).
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from maskface.store import load_model, read_spec
from training import devices
from training.train import HELD_OUT, TrainConfig, train

REPO = Path(__file__).resolve().parents[2]


def test_mixed_precision_is_on_by_default_only_on_gpus_with_tensor_cores(monkeypatch):
    monkeypatch.setattr(devices, "gpus", lambda: [])
    assert devices.use_mixed_precision("auto") is False
    assert devices.use_mixed_precision("on") is True and devices.use_mixed_precision("off") is False
    monkeypatch.setattr(devices, "gpus", lambda: ["gpu0", "gpu1"])
    for capabilities, expected in (({"gpu0": (8, 0), "gpu1": (7, 5)}, True), ({"gpu0": (8, 0), "gpu1": (6, 1)}, False)):
        details = lambda gpu, c=capabilities: {"compute_capability": c[gpu]}  # noqa: E731
        monkeypatch.setattr(tf.config.experimental, "get_device_details", details)
        assert devices.use_mixed_precision("auto") is expected
    with pytest.raises(ValueError, match="auto, on, off"):
        devices.use_mixed_precision("fp16")


def test_strategies_on_a_cpu(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.setattr(devices, "gpus", lambda: [])
    assert devices.make_strategy("auto") is tf.distribute.get_strategy()
    mirrored = devices.make_strategy("mirrored")
    assert isinstance(mirrored, tf.distribute.MirroredStrategy) and mirrored.num_replicas_in_sync == 1
    assert devices.worker_id(mirrored) is None
    with pytest.raises(ValueError, match="unknown strategy"):
        devices.make_strategy("tpu")


def test_dtype_policy_is_restored():
    with devices.dtype_policy("mixed_float16"):
        assert keras.config.dtype_policy().name == "mixed_float16"
    assert keras.config.dtype_policy().name == "float32"


def test_mirrored_mixed_precision_training_with_augmentation_on_the_model(
    toy_imagefolder, label_store, make_face, tmp_path
):
    store, me = label_store
    rng = np.random.default_rng(7)
    for i in range(10):
        label = ("with_mask", "without_mask")[i % 2]
        store.add(make_face(rng, label), "mask", label, labeler_id=me, consent=True)
    out = train(
        TrainConfig(
            task="mask", arch="cnn", data=str(toy_imagefolder), out=str(tmp_path / "m"), epochs=2, batch_size=8,
            input_size=32, cache_dir=str(tmp_path / "cache"), labels=str(store.folder),
            mixed_precision="on", strategy="mirrored", augment_on="model",
        )
    )
    training = read_spec(out).training
    assert training["strategy"] == "MirroredStrategy" and training["replicas"] == 1
    assert training["global_batch_size"] == 8 and training["mixed_precision"] is True
    assert training["augment_on"] == "model" and training["labels_data"]["held_out"] == {"with_mask": 1, "without_mask": 1}
    # the saved model is float32 whatever it was trained in
    assert "float16" not in (out / "config.json").read_text()
    stored = load_model(out)
    assert np.asarray(stored.model(np.zeros((1, 32, 32, 3), np.float32))).dtype == np.float32
    held = read_spec(out).metrics[HELD_OUT]
    assert held["n"] == 2 and held["split"] == "held-out" and (out / "confusion_labels_heldout.png").is_file()
    assert keras.config.dtype_policy().name == "float32"


def train_command(data: Path, out: Path, cache: Path) -> list[str]:
    return ["train", "--task", "mask", "--arch", "cnn", "--data", str(data), "--out", str(out), "--epochs", "1",
            "--input-size", "32", "--batch-size", "4", "--limit", "16", "--cache-dir", str(cache), "--no-evaluate"]


def env() -> dict[str, str]:
    return os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}


def test_the_global_batch_is_the_per_replica_batch_times_the_replicas(toy_imagefolder, tmp_path):
    # two logical CPU devices stand in for two GPUs; they must be made before TensorFlow starts
    code = (
        "import sys, tensorflow as tf\n"
        "cpu = tf.config.list_physical_devices('CPU')[0]\n"
        "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)\n"
        "from training.__main__ import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    out = tmp_path / "two"
    args = [*train_command(toy_imagefolder, out, tmp_path / "cache"), "--strategy", "mirrored"]
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, env=env(), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    training = read_spec(out).training
    assert training["replicas"] == 2 and training["global_batch_size"] == 8 and training["batch_size"] == 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_workers_from_tf_config_train_together_and_the_chief_saves(toy_imagefolder, tmp_path):
    out = tmp_path / "cluster"
    workers = [f"localhost:{free_port()}", f"localhost:{free_port()}"]
    command = [sys.executable, "-m", "training", *train_command(toy_imagefolder, out, tmp_path / "cache")]
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen(command, cwd=REPO, env=env() | {"TF_CONFIG": tf_config},
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    logs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(log[-3000:] for log in logs)
    training = read_spec(out).training
    assert training["strategy"] == "CollectiveAllReduceStrategy" and training["replicas"] == 2
    assert training["global_batch_size"] == 8
    assert "worker 1 done: the chief saves the model" in logs[1]
    # both workers saw the same synchronised epoch figures
    epoch_lines = [[line.split("INFO ")[1] for line in log.splitlines() if "scratch epoch 1/1:" in line] for log in logs]
    strip = [[line.split(", ")[0] for line in lines] for lines in epoch_lines]
    assert strip[0] == strip[1] and len(strip[0]) == 1
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []
