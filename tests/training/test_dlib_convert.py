"""Reading dlib's network file: a file written in dlib's format with known weights comes back folded."""

import numpy as np
import pytest

from training.architectures import build_dlib_resnet
from training import dlib_convert as C


def dlib_int(value: int) -> bytes:
    """dlib's compact integer: a byte with the count (and the sign bit), then little-endian bytes."""
    size = max(1, (abs(value).bit_length() + 7) // 8)
    return bytes([size | (0x80 if value < 0 else 0)]) + abs(value).to_bytes(size, "little")


def dlib_tensor(values: np.ndarray) -> bytes:
    return dlib_int(2) + b"".join(dlib_int(n) for n in (values.size, 1, 1, 1)) + values.astype("<f4").tobytes()


def dlib_name(name: str) -> bytes:
    return dlib_int(len(name)) + name.encode()


def write_dlib_file(path, rng):
    """A file laid out like dlib's (other layers' records between ours), and the weights written into it."""
    model = build_dlib_resnet()
    convs = [l for part in ("stem", "head") for l in model.get_layer(part).layers if l.__class__.__name__ == "Conv2D"]
    chunks, written = [dlib_int(1) + dlib_name("loss_metric_2") + b"\x01\x02" * 10, dlib_name("input_rgb_image_sized")], []
    for layer in convs:
        rows, cols = layer.kernel_size
        inputs = layer.input.shape[-1]
        weights = rng.normal(size=(layer.filters, inputs, rows, cols)).astype(np.float32)
        bias, gamma, beta = (rng.normal(size=layer.filters).astype(np.float32) for _ in range(3))
        padding = 0 if layer.padding == "valid" else rows // 2
        shape = (layer.filters, rows, cols, layer.strides[0], layer.strides[0], padding, padding)
        chunks.append(dlib_name("con_4") + dlib_tensor(np.concatenate([weights.ravel(), bias])) + b"".join(map(dlib_int, shape)))
        chunks.append(dlib_name("affine_") + dlib_tensor(np.concatenate([gamma, beta])) + dlib_name("relu_"))
        written.append((weights, bias, gamma, beta))
    fc = rng.normal(size=(256, 128)).astype(np.float32)
    chunks.append(dlib_name("fc_2") + dlib_int(128) + dlib_int(256) + dlib_tensor(fc.ravel()))
    path.write_bytes(b"".join(chunks))
    return written, fc


def test_the_weights_come_back_with_each_affine_folded_into_its_convolution(tmp_path):
    written, fc = write_dlib_file(tmp_path / "net.dat", np.random.default_rng(0))
    model = C.convert(tmp_path / "net.dat")
    convs = [l for part in ("stem", "head") for l in model.get_layer(part).layers if l.__class__.__name__ == "Conv2D"]
    for layer, (weights, bias, gamma, beta) in zip(convs, written):
        kernel, folded_bias = layer.get_weights()
        np.testing.assert_allclose(kernel, weights.transpose(2, 3, 1, 0) * gamma, rtol=1e-6)
        np.testing.assert_allclose(folded_bias, bias * gamma + beta, rtol=1e-5, atol=1e-6)
    projection, centring = model.get_layer("head").get_layer("projection").get_weights()
    np.testing.assert_array_equal(projection, fc)
    assert not centring.any()


def test_a_file_of_another_network_is_refused(tmp_path):
    (tmp_path / "other.dat").write_bytes(dlib_name("con_4") + dlib_tensor(np.zeros(9 * 3 * 2 + 2)) + b"".join(map(dlib_int, (2, 3, 3, 1, 1, 1, 1))))
    with pytest.raises(ValueError, match="not dlib's face-recognition ResNet"):
        C.convert(tmp_path / "other.dat")
