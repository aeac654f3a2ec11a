"""Fast CPU inference for the Keras models: LiteRT (TFLite, XNNPACK), converted once and cached on disk.

Why: on a 2-core CPU one MobileNetV2 at 160 px costs about 170 ms as an eager
Keras call, 14 ms as a compiled ``tf.function`` and 3 ms in the TFLite
interpreter, whose outputs match Keras's within 1e-6 (``bench/speed.py``
measures it, ``tests/test_inference.py`` holds it to 1e-3). Converting takes
about 9 s per MobileNetV2, too long for a cold start, so:

* the converted model is cached in the ``cache_dir`` setting
  (``MASKFACE_CACHE_DIR``, default ``~/.cache/maskface``), under a key made of the model's architecture, its
  weights and the TensorFlow version, and loaded from there in milliseconds;
* until it exists, the model answers through a compiled ``tf.function``
  while a background thread converts it and then swaps it in. Python waits
  for that thread at exit, so a first short run on a new machine ends a few
  seconds later than its last answer, once.

``MASKFACE_TFLITE=0`` keeps every model on the ``tf.function`` path.
Only the models' own weights are written to the cache, never an input.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import warnings
import weakref
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from .config import settings

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """Where converted models are kept: the ``cache_dir`` setting's ``litert/``."""
    return settings().cache_dir / "litert"


def model_key(model: keras.Model) -> str:
    """A digest of what determines the converted model: architecture, weights, TensorFlow's version."""
    digest = hashlib.sha256(f"{tf.__version__}\n{keras.__version__}\n{model.to_json()}".encode())
    for weights in model.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()[:32]


class _Interpreter:
    """A TFLite interpreter fed one face at a time: on XNNPACK a batch costs the same per face as single
    calls (bench/speed.py), and a fixed input shape never re-plans its memory."""

    def __init__(self, path: Path, threads: int) -> None:
        with warnings.catch_warnings():  # tf.lite.Interpreter's notice that LiteRT moves to its own package
            warnings.simplefilter("ignore")
            self._interpreter = tf.lite.Interpreter(model_path=str(path), num_threads=threads)
        (inp,), (out,) = self._interpreter.get_input_details(), self._interpreter.get_output_details()
        self._interpreter.resize_tensor_input(inp["index"], [1, *inp["shape_signature"][1:]])
        self._interpreter.allocate_tensors()
        self._input, self._output = inp["index"], out["index"]
        self._lock = threading.Lock()  # one interpreter, one call at a time

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        rows = []
        with self._lock:
            for row in batch:
                self._interpreter.set_tensor(self._input, row[None])
                self._interpreter.invoke()
                rows.append(self._interpreter.get_tensor(self._output)[0].copy())
        return np.stack(rows)


class Predictor:
    """One model's fast forward pass: ``predictor(batch)`` equals ``model(batch, training=False)`` within 1e-3.

    ``backend`` says which path answers now (``"tflite"`` or ``"tf.function"``).
    """

    def __init__(self, model: keras.Model, convert: bool | None = None) -> None:
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise ValueError("a Predictor runs single-input, single-output models")
        # A weak reference: predictor_for's registry must not keep its models alive.
        self._model, self._name = weakref.ref(model), model.name
        input_shape = (None, *model.inputs[0].shape[1:])
        self._graph = tf.function(
            lambda x: self._model()(x, training=False), input_signature=[tf.TensorSpec(input_shape, tf.float32)]
        )
        self._output_shape = tuple(model.outputs[0].shape[1:])
        self._tflite: _Interpreter | None = None
        self._thread: threading.Thread | None = None
        if settings().tflite if convert is None else convert:
            self._path = cache_dir() / f"{model_key(model)}.tflite"
            if not self._open():
                self._thread = threading.Thread(target=self._convert, name=f"litert-{model.name}")
                self._thread.start()

    @property
    def backend(self) -> str:
        return "tflite" if self._tflite is not None else "tf.function"

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch, dtype=np.float32)
        if len(batch) == 0:
            return np.zeros((0, *self._output_shape), np.float32)
        tflite = self._tflite
        return tflite(batch) if tflite is not None else np.asarray(self._graph(batch))

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a conversion in progress; True when none is left running."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self._thread is None or not self._thread.is_alive()

    def _open(self) -> bool:
        """Load the cached conversion; False when there is none or it is unreadable (then it is removed)."""
        if not self._path.is_file():
            return False
        try:
            self._tflite = _Interpreter(self._path, threads=len(os.sched_getaffinity(0)))
        except (RuntimeError, ValueError) as err:
            log.warning("removing unreadable converted model %s: %s", self._path, err)
            self._path.unlink(missing_ok=True)
            return False
        log.info("%s runs on TFLite (%s)", self._name, self._path)
        return True

    def _convert(self) -> None:
        """Convert (one conversion at a time in the process), cache the file atomically, swap it in."""
        try:
            with _one_conversion_at_a_time:
                model = self._model()
                if model is None:  # dropped before its turn came
                    return
                if not self._path.is_file():  # another Predictor of the same weights may have just written it
                    self._export(model)
                del model
            self._open()
        except Exception:  # noqa: BLE001 - the model keeps answering on tf.function; say why once
            log.warning("TFLite conversion of %s failed; it stays on tf.function", self._name, exc_info=True)

    def _export(self, model: keras.Model) -> None:
        """Write the TFLite file of a copy of ``model``, so the model itself keeps answering meanwhile."""
        twin = keras.models.clone_model(model)
        twin.set_weights(model.get_weights())
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self._path.parent, prefix=".tmp-") as tmp:
            converted = Path(tmp) / "model.tflite"
            twin.export(str(converted), format="litert", verbose=False)
            os.replace(converted, self._path)


# Conversions run one after the other: together they took both cores (and their memory peaks added up)
# from the requests being answered meanwhile.
_one_conversion_at_a_time = threading.Lock()
_predictors: weakref.WeakKeyDictionary[keras.Model, Predictor] = weakref.WeakKeyDictionary()
_predictors_lock = threading.Lock()


def predictor_for(model: keras.Model) -> Predictor:
    """The model's :class:`Predictor`, made on first use and shared while the model lives."""
    with _predictors_lock:
        if model not in _predictors:
            _predictors[model] = Predictor(model)
        return _predictors[model]


def wait_for_conversions(timeout: float | None = None) -> bool:
    """Wait until every conversion started in this process is done (benchmarks time the steady state)."""
    with _predictors_lock:
        predictors = list(_predictors.values())
    return all(p.wait(timeout) for p in predictors)
