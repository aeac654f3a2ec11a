import keras
import numpy as np
import pytest

from training.architectures import BACKBONE, build_model, set_backbone_trainable


@pytest.mark.parametrize("arch", ["cnn", "mobilenetv2", "vgg16", "mobilenetv2-face"])
def test_each_architecture_outputs_class_probabilities(arch):
    model = build_model(arch, 3, 32, weights=None)
    probs = np.asarray(model(np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")))
    assert probs.shape == (2, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_cnn_follows_the_paper_layout():
    model = build_model("cnn", 2, 120, weights=None)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Conv2D") == kinds.count("MaxPooling2D") >= 3
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert all(layer.kernel_size == (3, 3) for layer in convs)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert dense[0].units >= 512 and dense[-1].activation.__name__ == "softmax"


def test_vgg16_head_and_trainable_blocks():
    model = build_model("vgg16", 5, 32, weights=None)
    backbone = model.get_layer(BACKBONE)
    trainable = {layer.name for layer in backbone.layers if layer.trainable and layer.weights}
    assert trainable and all(name.startswith(("block4", "block5")) for name in trainable)
    units = [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert units == [1024, 512, 512, 512, 5]
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)


def test_set_backbone_trainable_unfreezes_top_but_not_batchnorm():
    model = build_model("mobilenetv2", 2, 32, weights=None)
    set_backbone_trainable(model, None)
    assert not model.get_layer(BACKBONE).trainable
    set_backbone_trainable(model, "block_13")
    layers = model.get_layer(BACKBONE).layers
    assert not layers[1].trainable
    top = [layer for layer in layers if layer.name.startswith("block_16")]
    assert any(layer.trainable for layer in top)
    assert not any(layer.trainable for layer in layers if isinstance(layer, keras.layers.BatchNormalization))


def test_local_weights_file_is_loaded(tmp_path):
    source = build_model("mobilenetv2", 2, 32, weights=None).get_layer(BACKBONE)
    path = tmp_path / "backbone.weights.h5"
    source.save_weights(path)
    loaded = build_model("mobilenetv2", 2, 32, weights=str(path)).get_layer(BACKBONE)
    np.testing.assert_array_equal(loaded.weights[0].numpy(), source.weights[0].numpy())


def test_unknown_architecture_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model("resnet", 2)


def test_offline_imagenet_download_says_what_to_do(monkeypatch):
    def no_network(*args, **kwargs):
        raise Exception("URL fetch failure: no network")

    monkeypatch.setattr(keras.utils, "get_file", no_network)
    monkeypatch.setattr("keras.src.utils.file_utils.get_file", no_network, raising=False)
    monkeypatch.setattr("keras.src.applications.vgg16.file_utils.get_file", no_network, raising=False)
    with pytest.raises(RuntimeError, match="--weights PATH"):
        build_model("vgg16", 2, 32, weights="imagenet")


def test_the_face_trunk_starts_from_an_identity_models_embedding(tmp_path, tiny_gender_model):
    from maskface.crops import CropSpec
    from maskface.store import ModelSpec, save_model
    from training.architectures import build_embedder

    keras.utils.set_random_seed(1)
    identity = save_model(
        build_embedder("mobilenetv2", 128, 32, weights=None),
        ModelSpec("identity", "mobilenetv2", [], CropSpec(32, 1.2)),
        tmp_path / "identity",
    )
    model = build_model("mobilenetv2-face", 2, 32, weights=str(identity))
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    embedding = keras.Model(model.inputs, model.get_layer("embedding").output)
    from maskface.store import load_model

    np.testing.assert_allclose(embedding(pixels), load_model(identity).model(pixels), atol=1e-6)
    with pytest.raises(ValueError, match="starts from an identity model"):
        build_model("mobilenetv2-face", 2, 32, weights=str(tiny_gender_model))


def test_dlib_resnet_has_dlibs_layout_and_a_unit_output():
    from training.architectures import build_dlib_resnet

    model = build_dlib_resnet()
    assert model.get_layer("stem").output_shape[1:] == (17, 17, 64)
    convs = [l for part in ("stem", "head") for l in model.get_layer(part).layers if isinstance(l, keras.layers.Conv2D)]
    assert len(convs) == 29 and model.count_params() == 5_607_488 + 128  # dlib's weights plus our centring bias
    out = np.asarray(model(np.random.default_rng(0).uniform(0, 255, (2, 150, 150, 3)).astype("float32")))
    assert out.shape == (2, 128)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)


def test_zero_pad_add_pads_the_smaller_map_at_the_bottom_right_and_in_channels():
    from maskface.layers import ZeroPadAdd

    a = np.ones((1, 3, 3, 2), np.float32)
    b = np.full((1, 4, 4, 1), 10, np.float32)
    out = np.asarray(ZeroPadAdd()([a, b]))
    assert out.shape == (1, 4, 4, 2)
    assert out[0, 0, 0].tolist() == [11, 1] and out[0, 3, 3].tolist() == [10, 0]


def test_an_identity_pair_answers_with_both_networks():
    from training.architectures import build_dlib_resnet, build_identity_pair

    pair = build_identity_pair(build_dlib_resnet(), build_dlib_resnet())
    x = np.random.default_rng(1).uniform(0, 255, (1, 150, 150, 3)).astype("float32")
    out = pair(x)
    assert set(out) == {"bare", "masked"}
    np.testing.assert_allclose(out["masked"], pair.get_layer("masked")(x), atol=1e-6)
