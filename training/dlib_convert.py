"""dlib's face-recognition ResNet as a Keras model: its published weights, read from dlib's own file.

dlib's descriptor (``dlib_face_recognition_resnet_model_v1.dat``, released into
the public domain by its author; redistributed by the ``face-recognition-models``
package) recognises bare faces far better than anything we can train on two CPU
cores (ID-M bare rank-1 98%), but dlib runs it at a quarter of a second per
face on this machine. Converted layer for layer into
:func:`training.architectures.build_dlib_resnet`, it runs on TFLite like our other
models, gives dlib's descriptors within 1e-6, and can be fine-tuned
(``training.distill``). Reading the file needs neither dlib nor its models
package: only this parser and the file.

dlib serialises the network from the input layer outwards; each layer starts
with its name and version (``con_4``, ``affine_``, ``fc_2``, ...), integers are
written as a length byte (low nibble: byte count, high bit: sign) followed by
little-endian bytes, and a tensor as version 2, its four dimensions and raw
little-endian float32 values.

    python -m training convert-dlib --dat PATH/dlib_face_recognition_resnet_model_v1.dat --out runs/dlib-resnet.weights.h5
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from .architectures import build_dlib_resnet

log = logging.getLogger(__name__)

DAT_NAME = "dlib_face_recognition_resnet_model_v1.dat"
#: Where our detector's five keypoints (eyes, nose tip, mouth corners) lie in dlib's 150 px face chip:
#: the mean, over 1,500 LFW ``split=train`` faces, of the keypoints mapped into the chip that dlib's own
#: alignment cuts (its 5-point shape predictor on our detector's box, ``get_face_chip`` with padding
#: 0.25). Measured by ``training/dlib_template.py`` (on every sixth of the first 9,000 training faces);
#: spread 2.5 px (eyes) to 8 px (nose, turned heads).
CHIP_KEYPOINTS = ((47.29, 46.27), (101.98, 46.57), (73.97, 77.98), (50.95, 104.83), (98.62, 105.04))
# The parameterised layers' names as dlib writes them, each after its length byte.
LAYER_NAMES = re.compile(rb"\x01(\x05con_4|\x07affine_|\x04fc_2)")


@dataclass
class DlibLayer:
    """One parameterised layer of the file: ``kind`` (con, affine, fc), its flat parameters and shape."""

    kind: str
    params: np.ndarray
    shape: tuple[int, ...] = ()


class _Reader:
    """dlib's serialisation: compact integers and float32 tensors, read from ``pos`` on."""

    def __init__(self, data: bytes, pos: int) -> None:
        self.data, self.pos = data, pos

    def integer(self) -> int:
        head = self.data[self.pos]
        size = head & 0x0F
        value = int.from_bytes(self.data[self.pos + 1 : self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if head & 0x80 else value

    def tensor(self) -> np.ndarray:
        version = self.integer()
        if version != 2:
            raise ValueError(f"unsupported dlib tensor version {version} at byte {self.pos}")
        count = int(np.prod([self.integer() for _ in range(4)]))
        values = np.frombuffer(self.data, "<f4", count, self.pos).astype(np.float32)
        self.pos += 4 * count
        return values


def read_layers(path: str | Path) -> list[DlibLayer]:
    """The convolutions (filters, rows, columns, stride, padding), affines and the final fc, input side first."""
    data = Path(path).read_bytes()
    found = []
    for match in LAYER_NAMES.finditer(data):
        kind = match.group(1)[1:].decode().rstrip("_0123456789")
        reader = _Reader(data, match.end())
        if kind == "con":
            params = reader.tensor()
            filters, rows, cols, stride, _, padding, _ = (reader.integer() for _ in range(7))
            found.append(DlibLayer(kind, params, (filters, rows, cols, stride, padding)))
        elif kind == "affine":
            found.append(DlibLayer(kind, reader.tensor()))
        else:
            outputs, inputs = reader.integer(), reader.integer()
            found.append(DlibLayer(kind, reader.tensor(), (inputs, outputs)))
    return found


def convert(path: str | Path) -> keras.Model:
    """:func:`build_dlib_resnet` with the weights of dlib's file; each affine folded into its convolution."""
    model = build_dlib_resnet()
    parts = [model.get_layer("stem"), model.get_layer("head")]
    convs = [layer for part in parts for layer in part.layers if isinstance(layer, keras.layers.Conv2D)]
    dlib_layers = read_layers(path)
    pairs = list(zip(dlib_layers[0:-1:2], dlib_layers[1:-1:2]))
    if len(pairs) != len(convs) or any(c.kind != "con" or a.kind != "affine" for c, a in pairs):
        raise ValueError(f"{path} is not dlib's face-recognition ResNet: {len(dlib_layers)} parameterised layers")
    for layer, (con, affine) in zip(convs, pairs):
        filters, rows, cols, stride, padding = con.shape
        expected = (layer.filters, *layer.kernel_size, layer.strides[0], 0 if layer.padding == "valid" else rows // 2)
        if (filters, rows, cols, stride, padding) != expected:
            raise ValueError(f"layer {layer.name}: dlib has {con.shape}, the Keras model {expected}")
        inputs = (con.params.size - filters) // (filters * rows * cols)
        weights = con.params[: filters * inputs * rows * cols].reshape(filters, inputs, rows, cols)
        gamma, beta = affine.params[:filters], affine.params[filters:]
        # dlib: (out, in, rows, cols); Keras: (rows, cols, in, out). affine(conv(x)) = conv'(x).
        layer.set_weights([weights.transpose(2, 3, 1, 0) * gamma, con.params[-filters:] * gamma + beta])
    fc = dlib_layers[-1]
    if fc.kind != "fc":
        raise ValueError(f"{path} does not end in dlib's fc layer")
    model.get_layer("head").get_layer("projection").set_weights([fc.params.reshape(fc.shape), np.zeros(fc.shape[1], np.float32)])
    return model


def load_dlib_resnet(path: str | Path) -> keras.Model:
    """dlib's network from its ``.dat`` file, or from ``.weights.h5`` written by this module."""
    if str(path).endswith(".dat"):
        return convert(path)
    model = build_dlib_resnet()
    model.load_weights(str(path))
    return model


def export_faces(out: str | Path, count: int, lfw: str | Path, seed: int = 0) -> Path:
    """Our detector's face (box, keypoints) in ``count`` LFW ``split=train`` photos, for ``training/dlib_template.py``."""
    from maskface.crops import locate_face
    from maskface.detect import make_detector
    from maskface.image import load_image

    from .distill import training_images

    files = training_images(Path(lfw), ())
    chosen = sorted(np.random.default_rng(seed).permutation(len(files))[:count])
    detector = make_detector("auto")
    kept, boxes, keypoints = [], [], []
    for i in chosen:
        face = locate_face(load_image(files[i]), detector)
        if face.detected:
            kept.append(files[i])
            boxes.append(face.box)
            keypoints.append(face.keypoints)
    np.savez(out, files=np.array(kept), boxes=np.array(boxes, np.float32), keypoints=np.array(keypoints, np.float32))
    log.info("wrote %s: %d faces", out, len(kept))
    return Path(out)


def default_dat() -> Path | None:
    """dlib's file from the ``face_recognition_models`` package, when it is installed here."""
    try:
        import face_recognition_models
    except ImportError:
        return None
    return Path(face_recognition_models.face_recognition_model_location())
