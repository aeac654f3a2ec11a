"""What a training run runs on: the distribution strategy and the numeric precision.

- One device by default; ``tf.distribute.MirroredStrategy`` over every local
  GPU when there are several; ``MultiWorkerMirroredStrategy`` when
  ``TF_CONFIG`` names a cluster (every worker runs the same command).
- Mixed precision (``mixed_float16``) by default on GPUs of compute capability
  7.0 or more, whose tensor cores make float16 fast; float32 elsewhere.

Keras 3.15's ``fit`` fails under ``MultiWorkerMirroredStrategy`` with more
than one worker (keras-team/keras#20585, open): it reduces the first input
batch across workers to build the model, and reduces scalar logs along an
axis they lack. :func:`prepare_for_strategy` works around both;
``tests/training/test_devices.py`` trains on two local workers to check it
still holds after a Keras upgrade.
"""

from __future__ import annotations

import logging
import os
import types
from collections.abc import Iterator
from contextlib import contextmanager

import keras
import tensorflow as tf

log = logging.getLogger(__name__)

STRATEGIES = ("auto", "one", "mirrored", "multi-worker")
SWITCHES = ("auto", "on", "off")


def gpus() -> list:
    return tf.config.list_physical_devices("GPU")


def make_strategy(kind: str = "auto") -> tf.distribute.Strategy:
    """The distribution strategy: ``auto`` is multi-worker under ``TF_CONFIG``, mirrored on several GPUs, else one device.

    ``mirrored`` replicates over every local GPU, or every local CPU device when
    there is no GPU (one, unless the CPU was split into logical devices).
    Create it before any other TensorFlow work: a multi-worker strategy must be.
    """
    if kind == "auto":
        kind = "multi-worker" if os.environ.get("TF_CONFIG") else "mirrored" if len(gpus()) > 1 else "one"
    if kind == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if kind == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if kind == "one":
        return tf.distribute.get_strategy()
    raise ValueError(f"unknown strategy {kind!r}; choose one of {', '.join(STRATEGIES)}")


def worker_id(strategy: tf.distribute.Strategy) -> int | None:
    """This worker's index when it is not the chief of a multi-worker cluster, else ``None``."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return None
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    if resolver.task_type == "chief" or (not has_chief and resolver.task_type == "worker" and resolver.task_id == 0):
        return None
    return int(resolver.task_id)


def use_mixed_precision(choice: str) -> bool:
    """``auto``: on when there are GPUs and all have compute capability 7.0 or more; off on CPU."""
    if choice not in SWITCHES:
        raise ValueError(f"mixed precision is one of {', '.join(SWITCHES)}, not {choice!r}")
    found = gpus()
    if choice != "auto":
        if choice == "on" and not found:
            log.warning("mixed precision on CPU runs, slowly: float16 pays off on GPUs")
        return choice == "on"
    capabilities = [
        tuple(tf.config.experimental.get_device_details(g).get("compute_capability", (0, 0))) for g in found
    ]
    return bool(found) and all(c >= (7, 0) for c in capabilities)


@contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Build layers under the Keras dtype policy ``name``, then restore the previous one."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def prepare_for_strategy(model: keras.Model, strategy: tf.distribute.Strategy) -> None:
    """Let ``model.fit`` run under ``strategy``: a no-op except for multi-worker strategies (see the module's notes)."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return
    from keras.src.backend.tensorflow import trainer

    def build_from_local_batch(self, iterator=None, data_batch=None):
        # Keras reduces the first batch over all workers; building only needs this worker's.
        local = self.distribute_strategy.experimental_local_results
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(lambda v: local(v)[0], next(batches))
                break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    model._maybe_symbolic_build = types.MethodType(build_from_local_batch, model)
    if getattr(trainer.reduce_per_replica, "maskface_patched", False):
        return
    original = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        # Logs are scalars: average them over all replicas without naming an axis.
        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):
            return tf.nest.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original(values, strategy, reduction)

    reduce_per_replica.maskface_patched = True
    trainer.reduce_per_replica = reduce_per_replica
