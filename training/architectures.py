"""Every model architecture, built in one place.

All models take RGB pixels in [0, 255] and do their own preprocessing inside
the graph, so a saved model needs nothing but a crop of the right size.

- ``cnn``: the first paper's small CNN trained from scratch (3x3 conv + ReLU +
  2x2 max-pool blocks, a wide fully-connected ReLU layer, softmax), with
  BatchNorm added to each block.
- ``mobilenetv2``: ImageNet MobileNetV2 + global average pooling + dense head.
- ``vgg16``: the second paper's recognition model: ImageNet VGG16 with blocks
  4-5 trainable and a GAP, BatchNorm, Dense 1024 + Dropout 0.5,
  3 x (Dense 512 + Dropout 0.4), softmax head.
- ``mobilenetv2-face``: the identity model's MobileNetV2 (distilled from dlib's
  face descriptor, which maps a masked face to its bare face's descriptor:
  ``training.distill``) with its 128-D unit embedding, then a fixed
  standardisation and a softmax head. Faces, not ImageNet objects, are what its features know: on
  GENDER-R validation a linear head on this embedding beat one on the
  LFW-trained gender MobileNetV2's features by 15 points on masked faces
  (``python -m training.candidates screen``).
- ``dlib-resnet``: dlib's face-recognition ResNet (29 conv layers, 150 px
  aligned faces, 128-D), layer for layer, so ``training.dlib_convert`` can
  load its published weights and ``training.distill`` can fine-tune them.

Backbone weights are ``"imagenet"`` (Keras downloads them), a local
``.weights.h5`` path (for machines without network), or ``None``; for
``mobilenetv2-face``, an identity model (shipped name, folder or ``hf://``).
"""

from __future__ import annotations

from pathlib import Path

import keras
from keras import layers

from maskface.layers import CaffePreprocess, ZeroPadAdd

ARCHITECTURES = ("cnn", "mobilenetv2", "vgg16", "mobilenetv2-face")
DEFAULT_INPUT_SIZE = {"cnn": 120, "mobilenetv2": 160, "vgg16": 160, "mobilenetv2-face": 112}
#: The identity model whose trunk ``mobilenetv2-face`` starts from: the MobileNetV2 student shipped until
#: ``identity-dlib-resnet`` replaced it (no longer in ``models/``: give its folder, README "Gender").
FACE_TRUNK = "identity-mobilenetv2"
#: Its layers that ``mobilenetv2-face`` takes over (the rest is the new head).
FACE_TRUNK_LAYERS = ("backbone", "projection")
BACKBONE = "backbone"

# Where the MobileNetV2 ImageNet weights lie when the shared folder is beside the checkout.
SHARED_WEIGHTS = Path(__file__).resolve().parents[2] / "shared" / "weights"
MOBILENETV2_NO_TOP = "mobilenet_v2_1.0_imagenet_no_top.weights.h5"


def default_backbone_weights(arch: str) -> str | None:
    """The local ImageNet file for ``arch`` when it exists, else ``"imagenet"`` (the download path)."""
    if arch == "mobilenetv2-face":
        return FACE_TRUNK
    if arch == "mobilenetv2" and (SHARED_WEIGHTS / MOBILENETV2_NO_TOP).is_file():
        return str(SHARED_WEIGHTS / MOBILENETV2_NO_TOP)
    return "imagenet" if arch != "cnn" else None


def build_model(
    arch: str,
    num_classes: int,
    input_size: int | None = None,
    weights: str | None = "imagenet",
    dropout: float = 0.3,
) -> keras.Model:
    """Build ``arch`` for ``num_classes`` classes on ``input_size`` x ``input_size`` RGB crops."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    if num_classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {num_classes}")
    size = input_size or DEFAULT_INPUT_SIZE[arch]
    inputs = keras.Input((size, size, 3), name="pixels")
    if arch == "cnn":
        outputs = _cnn(inputs, num_classes)
    elif arch == "mobilenetv2":
        outputs = _mobilenetv2(inputs, num_classes, weights, dropout)
    elif arch == "mobilenetv2-face":
        return _mobilenetv2_face(inputs, num_classes, weights)
    else:
        outputs = _vgg16(inputs, num_classes, weights)
    return keras.Model(inputs, outputs, name=arch)


def _mobilenetv2_face(inputs, num_classes: int, trunk: str | None) -> keras.Model:
    """The identity embedder's graph (as :func:`build_embedder` makes it, without its training dropout, which
    moves the embedding too much for a head on it) + a frozen BatchNorm (a fixed standardisation) + softmax;
    the backbone and projection weights are copied from the identity model ``trunk`` (None: left random)."""
    x = layers.Dense(128, name="projection")(_mobilenetv2_features(inputs, None))
    x = layers.UnitNormalization(name="embedding")(x)
    # a fixed standardisation of the embedding (frozen: batch statistics would shake a head fitted on it)
    x = layers.BatchNormalization(name="embedding_norm", trainable=False)(x)
    model = keras.Model(inputs, layers.Dense(num_classes, activation="softmax", name="probs")(x), name="mobilenetv2-face")
    if trunk is not None:
        from maskface.store import load_model

        source = load_model(trunk)
        if source.spec.task != "identity":
            raise ValueError(f"mobilenetv2-face starts from an identity model, and {trunk!r} is a {source.spec.task} model")
        for name in FACE_TRUNK_LAYERS:
            model.get_layer(name).set_weights(source.model.get_layer(name).get_weights())
    return model


def _cnn(inputs, num_classes: int):
    x = layers.Rescaling(1 / 255.0)(inputs)
    for filters in (32, 64, 128, 128):
        # BatchNorm is our addition to the paper's blocks: from scratch on 3k images it trains faster and higher.
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(512, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    return layers.Dense(num_classes, activation="softmax", name="probs")(x)


def _mobilenetv2(inputs, num_classes: int, weights: str | None, dropout: float):
    x = layers.Dropout(dropout)(_mobilenetv2_features(inputs, weights))
    return layers.Dense(num_classes, activation="softmax", name="probs")(x)


def _mobilenetv2_features(inputs, weights: str | None):
    """ImageNet MobileNetV2's globally pooled 1280 features of [0, 255] pixels."""
    x = layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    backbone = _pretrained(
        keras.applications.MobileNetV2,
        weights,
        input_shape=tuple(inputs.shape[1:]),
        alpha=1.0,
        include_top=False,
        pooling="avg",
    )
    return backbone(x)


def _pretrained(factory, weights: str | None, **kwargs) -> keras.Model:
    """Build a ``keras.applications`` backbone named :data:`BACKBONE`, with a clear error when offline."""
    try:
        backbone = factory(weights=weights, **kwargs)
    except Exception as err:
        if weights != "imagenet":
            raise
        raise RuntimeError(
            f"could not download the ImageNet weights for {factory.__name__} ({err}); without network, "
            "pass a local .weights.h5 file (--weights PATH) or train from scratch (--weights none)"
        ) from err
    backbone.name = BACKBONE
    return backbone


def _vgg16(inputs, num_classes: int, weights: str | None):
    x = _vgg16_features(inputs, weights)
    for _ in range(3):
        x = layers.Dense(512, activation="relu")(x)
        x = layers.Dropout(0.4)(x)
    return layers.Dense(num_classes, activation="softmax", name="probs")(x)


def _vgg16_features(inputs, weights: str | None):
    """The second paper's VGG16 trunk: blocks 4-5 trainable, GAP, BatchNorm, Dense 1024 + Dropout 0.5."""
    x = CaffePreprocess()(inputs)
    backbone = _pretrained(keras.applications.VGG16, weights, input_shape=tuple(inputs.shape[1:]), include_top=False)
    for layer in backbone.layers:
        layer.trainable = layer.name.startswith(("block4", "block5"))
    x = backbone(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.BatchNormalization()(x)
    x = layers.Dense(1024, activation="relu")(x)
    return layers.Dropout(0.5)(x)


def build_embedder(
    arch: str, dim: int = 128, input_size: int | None = None, weights: str | None = "imagenet", dropout: float = 0.2
) -> keras.Model:
    """A face-embedding model: ``arch``'s features, a linear ``dim``-D projection, unit length.

    For open-set recognition: faces are compared by cosine similarity of
    these outputs, so people never seen in training can be enrolled.
    """
    if arch not in ("mobilenetv2", "vgg16"):
        raise ValueError(f"embedding models are built on mobilenetv2 or vgg16, not {arch!r}")
    size = input_size or DEFAULT_INPUT_SIZE[arch]
    inputs = keras.Input((size, size, 3), name="pixels")
    if arch == "mobilenetv2":
        x = layers.Dropout(dropout)(_mobilenetv2_features(inputs, weights))
    else:
        x = _vgg16_features(inputs, weights)
    x = layers.Dense(dim, name="projection")(x)
    outputs = layers.UnitNormalization(name="embedding")(x)
    return keras.Model(inputs, outputs, name=f"{arch}-embedder")


def set_backbone_trainable(model: keras.Model, from_layer: str | None) -> None:
    """Freeze the backbone, or unfreeze it from the layer whose name starts with ``from_layer`` on.

    BatchNorm layers stay frozen either way: with small batches on small data,
    updating their statistics hurts more than it helps.
    """
    try:
        backbone = model.get_layer(BACKBONE)
    except ValueError:
        return
    backbone.trainable = from_layer is not None
    if from_layer is None:
        return
    unfrozen = False
    for layer in backbone.layers:
        unfrozen = unfrozen or layer.name.startswith(from_layer)
        layer.trainable = unfrozen and not isinstance(layer, layers.BatchNormalization)


DLIB_RESNET = "dlib-resnet"
#: dlib's ResNet: (filters, residual blocks, first block halves the size) per level, input side outward.
DLIB_RESNET_LEVELS = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))
DLIB_RESNET_SIZE = 150
#: dlib's ``input_rgb_image``: pixel minus this mean, divided by 256.
DLIB_RGB_MEAN = (122.782, 117.001, 104.298)


#: The levels of dlib's ResNet in its stem (the rest is its head): a student fine-tunes only the head,
#: on stem features computed once (training.distill).
DLIB_RESNET_STEM_LEVELS = 2


def build_dlib_resnet(dim: int = 128, name: str = "dlib-resnet") -> keras.Model:
    """dlib's face-recognition ResNet on 150 px aligned RGB faces in [0, 255], unit-length output.

    Two nested models: ``stem`` (the input convolution and the first two
    levels, 17x17x64 out) and ``head`` (the rest). Its affine (frozen
    batch-norm) layers are folded into the convolutions, and the final
    projection has a bias (dlib's has none), which holds the centring of the
    descriptors when a model is trained with centred targets. Convolutions
    that halve the size are unpadded, like dlib's.
    """
    size = DLIB_RESNET_SIZE
    inputs = keras.Input((size, size, 3), name="pixels")
    mean = [-m / 256 for m in DLIB_RGB_MEAN]
    x = layers.Rescaling(1 / 256, offset=mean)(inputs)
    x = layers.Conv2D(32, 7, strides=2, padding="valid", name="conv0")(x)
    x = layers.MaxPooling2D(3, 2, padding="valid")(layers.ReLU()(x))
    x = _dlib_levels(x, DLIB_RESNET_LEVELS[:DLIB_RESNET_STEM_LEVELS], first=0)
    stem = keras.Model(inputs, x, name="stem")
    features = keras.Input(stem.output_shape[1:], name="features")
    x = _dlib_levels(features, DLIB_RESNET_LEVELS[DLIB_RESNET_STEM_LEVELS:], first=DLIB_RESNET_STEM_LEVELS)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(dim, name="projection")(x)
    head = keras.Model(features, layers.UnitNormalization(name="embedding")(x), name="head")
    return keras.Model(inputs, head(stem(inputs)), name=name)


def _dlib_levels(x, levels, first: int):
    """dlib's residual blocks: conv, ReLU, conv, plus the input (average-pooled when the block halves the size)."""
    for level, (filters, blocks, halves) in enumerate(levels, start=first):
        for block in range(blocks):
            stride = 2 if halves and block == 0 else 1
            prefix = f"level{len(DLIB_RESNET_LEVELS) - 1 - level}_block{block}"
            y = layers.Conv2D(
                filters, 3, strides=stride, padding="valid" if stride == 2 else "same", name=f"{prefix}_conv1"
            )(x)
            y = layers.Conv2D(filters, 3, padding="same", name=f"{prefix}_conv2")(layers.ReLU()(y))
            shortcut = x if stride == 1 else layers.AveragePooling2D(2, 2, padding="valid")(x)
            x = layers.ReLU()(ZeroPadAdd(name=f"{prefix}_add")([y, shortcut]))
    return x


def build_identity_pair(bare: keras.Model, masked: keras.Model) -> keras.Model:
    """One identity model of two embedders of one space: ``bare`` for bare faces, ``masked`` for masked ones.

    Both see the same input; the embedder runs only the one a face needs
    (:class:`maskface.gallery.ModelEmbedder`), so it costs one network per face.
    """
    bare.name, masked.name = "bare", "masked"
    inputs = keras.Input(bare.input_shape[1:], name="pixels")
    return keras.Model(inputs, {"bare": bare(inputs), "masked": masked(inputs)}, name="identity-pair")
