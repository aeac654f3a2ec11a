"""Distillation of the identity embedding: the student's data, batches and a tiny end-to-end run."""

from pathlib import Path

import numpy as np
import pytest

from training import distill as D
from training.__main__ import main


def test_teacher_parts_join_by_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    vectors = np.eye(4, 128, dtype=np.float32)
    np.savez(tmp_path / "a.npz", files=np.array(["x/one.jpg", "x/two.jpg"]), descriptors=vectors[:2], hog=np.ones(2, bool))
    np.savez(tmp_path / "b.npz", files=np.array(["x/three.jpg"]), descriptors=vectors[2:3], hog=np.ones(1, bool))
    teacher = D.load_teacher([str(tmp_path / "a.npz"), str(tmp_path / "b.npz")])
    assert set(teacher) == {str(tmp_path / "x" / name) for name in ("one.jpg", "two.jpg", "three.jpg")}
    np.testing.assert_array_equal(teacher[str(tmp_path / "x" / "three.jpg")], vectors[2])


def crops_and_targets(n: int = 10, versions: int = 4, size: int = 36):
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (n, versions, size, size, 3), dtype=np.uint8)
    return crops, rng.normal(size=(n, 8)).astype(np.float32)


def test_training_batches_are_input_sized_and_keep_each_face_with_its_target():
    crops, targets = crops_and_targets()
    batches = D.DistillBatches(crops, targets, size=32, batch_size=4, bare_fraction=0.3, train=True, seed=0)
    seen = []
    for i in range(len(batches)):
        images, wanted = batches[i]
        assert images.shape[1:] == (32, 32, 3) and images.dtype == np.float32
        assert 0 <= images.min() and images.max() <= 255
        seen += [np.flatnonzero((targets == row).all(axis=1))[0] for row in wanted]
    assert sorted(seen) == list(range(10)) and len(batches) == 3


def test_validation_shows_the_first_masked_version_centred_and_unaltered():
    crops, targets = crops_and_targets()
    images, wanted = D.DistillBatches(crops, targets, 32, 4, 0.3, train=False, seed=0)[0]
    np.testing.assert_array_equal(images, crops[:4, 1, 2:34, 2:34].astype(np.float32))
    np.testing.assert_array_equal(wanted, targets[:4])


def test_resizing_keeps_the_layout():
    crops, _ = crops_and_targets(n=3, versions=2, size=36)
    out = D.resized(crops, 18)
    assert out.shape == (3, 2, 18, 18, 3) and out.dtype == np.uint8
    assert abs(float(out.mean()) - float(crops.mean())) < 2


def test_the_contrastive_term_rewards_telling_faces_apart_not_just_closeness():
    import keras

    targets = keras.ops.convert_to_tensor(np.eye(4, 8, dtype=np.float32))
    # each student output near its own target, or equally near its own and the next face's
    own = np.eye(4, 8) * 0.9 + 0.1 / np.sqrt(8)
    blurred = (np.eye(4, 8) + np.roll(np.eye(4, 8), 1, axis=0)) / np.sqrt(2)
    own, blurred = (keras.ops.convert_to_tensor((v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)) for v in (own, blurred))
    cosine_only, contrastive = D.distill_loss(0.0, 0.05), D.distill_loss(2.0, 0.05)
    # an answer torn between two faces costs the contrastive term about weight x ln 2 more
    gap_cosine = float(keras.ops.mean(cosine_only(targets, blurred)) - keras.ops.mean(cosine_only(targets, own)))
    gap_contrastive = float(keras.ops.mean(contrastive(targets, blurred)) - keras.ops.mean(contrastive(targets, own)))
    assert gap_cosine > 0
    assert gap_contrastive - gap_cosine == pytest.approx(2.0 * np.log(2), abs=0.05)
    np.testing.assert_allclose(cosine_only(targets, targets), 0, atol=1e-6)


def test_train_task_identity_distils_a_model_the_gallery_can_use(shared_data, tmp_path, monkeypatch):
    """``python -m training train --task identity``, on six LFW faces and a random teacher."""
    from maskface.gallery import ModelEmbedder
    from maskface.store import load_model

    people = sorted((shared_data / "lfw" / "images").iterdir())[:6]
    files = [str(sorted(person.iterdir())[0].resolve()) for person in people]
    monkeypatch.setattr(D, "training_images", lambda lfw, bare: files)
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "teacher.npz", files=np.array(files), descriptors=rng.normal(size=(6, 16)).astype(np.float32),
        hog=np.ones(6, bool),
    )
    out = tmp_path / "student"
    code = main(
        ["train", "--task", "identity", "--teacher", str(tmp_path / "teacher.npz"), "--out", str(out),
         "--input-size", "32", "--epochs", "1", "--batch-size", "4", "--masked-variants", "1", "--weights", "none",
         "--val-fraction", "0.3", "--cache-dir", str(tmp_path / "cache"), "--no-evaluate"]
    )
    assert code == 0
    stored = load_model(out)
    assert stored.spec.task == "identity" and stored.spec.crop.size == 32
    assert stored.spec.training["embedding_id"].startswith("mobilenetv2-distilled-")
    embedder = ModelEmbedder(stored)
    rows = embedder.embed(np.zeros((3, 32, 32, 3), np.uint8))
    assert rows.shape == (3, 16) and np.allclose(np.linalg.norm(rows, axis=1), 1, atol=1e-5)
    assert list(Path(tmp_path / "cache").glob("distill-*.npz")), "faces are cached for the next run"


def test_a_tiny_dlib_resnet_fine_tune_keeps_the_teacher_for_bare_faces(shared_data, tmp_path, monkeypatch):
    from maskface.gallery import ModelEmbedder
    from maskface.store import load_model
    from training.architectures import build_dlib_resnet

    people = sorted((shared_data / "lfw" / "images").iterdir())[:6]
    monkeypatch.setattr(D, "training_images", lambda *_: [str(sorted(p.iterdir())[0].resolve()) for p in people])
    teacher = build_dlib_resnet()
    teacher.save_weights(str(tmp_path / "teacher.weights.h5"))
    out = D.distill(
        D.DistillConfig(
            teacher=[str(tmp_path / "teacher.weights.h5")], out=str(tmp_path / "pair"), arch="dlib-resnet",
            epochs=1, batch_size=4, masked_variants=1, val_fraction=0.3, cache_dir=str(tmp_path / "cache"),
        )
    )
    stored = load_model(out)
    assert stored.spec.arch == "dlib-resnet" and stored.spec.crop.keypoints is not None
    assert stored.spec.training["embedding_id"].startswith("dlib-resnet-pair-")
    embedder = ModelEmbedder(stored, mirror=False)
    assert set(embedder.networks) == {"bare", "masked"}
    crops = np.random.default_rng(0).integers(0, 256, (2, 150, 150, 3), dtype=np.uint8)
    # the bare network is the teacher, its descriptors moved by the training faces' mean
    centred = stored.model.get_layer("bare").get_layer("head").get_layer("projection").get_weights()[1]
    assert np.abs(centred).max() > 0
    teacher.get_layer("head").get_layer("projection").set_weights(
        [teacher.get_layer("head").get_layer("projection").get_weights()[0], centred]
    )
    np.testing.assert_allclose(embedder.embed(crops), np.asarray(teacher(crops.astype(np.float32))), atol=1e-4)
    assert embedder.embed(crops, np.array([True, False])).shape == (2, 128)
    assert list(Path(tmp_path / "cache").glob("distill-stem-*.npy")), "stem features are cached for the next run"
