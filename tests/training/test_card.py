"""Model cards: figures in model-index, the data used, the date, curves and confusion pictures."""

import json

from PIL import Image

from maskface.crops import CropSpec
from maskface.store import ModelSpec
from training.card import write_card

LABELS_DATA = {
    "source": "labels/", "rows": 14, "used": 10, "train": {"with_mask": 4, "without_mask": 4},
    "held_out": {"with_mask": 1, "without_mask": 1}, "skipped": {"other_task": 2, "duplicate": 2},
}


def spec(metrics: dict, task: str = "mask") -> ModelSpec:
    training = {"data": "../shared/data/mask", "train_counts": {"with_mask": 20, "without_mask": 10},
                "val_counts": {"with_mask": 2, "without_mask": 1}, "labels_data": LABELS_DATA, "trained_at": "2026-11-23"}
    return ModelSpec(task, "mobilenetv2", ["with_mask", "without_mask"], CropSpec(160, 1.2), metrics, training)


def classifier_figures(split: str, accuracy: float) -> dict:
    return {"split": split, "n": 10, "accuracy": accuracy, "balanced_accuracy": 0.9, "roc_auc": 0.95,
            "confusion_matrix": [[5, 0], [1, 4]]}


def test_card_shows_figures_data_date_and_curves(tmp_path):
    history = [{"phase": "head", "accuracy": 0.7 + i / 20, "loss": 1 - i / 10, "val_accuracy": 0.8, "val_loss": 0.5}
               for i in range(3)] + [{"phase": "fine-tune", "accuracy": 0.9, "loss": 0.2, "val_accuracy": 0.9}]
    (tmp_path / "history.json").write_text(json.dumps(history))
    metrics = {"MASK": classifier_figures("test", 0.97), "LABELS held-out": classifier_figures("held-out", 0.8)}
    card = write_card(tmp_path, spec(metrics)).read_text()
    assert "config: LABELS held-out" in card and "split: held-out" in card and "value: 0.8" in card
    assert "| MASK | test | 10 | 0.9700 |" in card and "![LABELS held-out confusion matrix](confusion_labels_heldout.png)" in card
    assert "Trained on 2026-11-23." in card
    assert "`labels/`, 10 of 14 records used; training: 4 with_mask, 4 without_mask" in card
    assert "left out: 2 other_task, 2 duplicate" in card
    assert "![accuracy and loss per epoch](curves.png)" in card
    width, height = Image.open(tmp_path / "curves.png").size
    assert width > 2 * height  # accuracy and loss side by side


def test_card_of_a_model_without_classifier_figures_or_history(tmp_path):
    metrics = {"ID-M": {"unknown_threshold": 0.41, "masked rank1": 0.83, "masked_copies_per_gallery_image": 2}}
    card = write_card(tmp_path, spec(metrics, task="identity")).read_text()
    assert "- ID-M: unknown_threshold 0.4100, masked rank1 0.8300" in card and "value: 0.83" in card
    assert "curves.png" not in card and not (tmp_path / "curves.png").exists()


def test_an_identity_card_shows_enrolment_use_and_the_id_m_figures(tmp_path):
    metrics = {"ID-M": {"unknown_threshold": 0.41, "masked rank1": 0.9, "unmasked rank1": 0.95}}
    identity = ModelSpec("identity", "mobilenetv2", [], CropSpec(112, 1.2), metrics, {"trained_at": "2026-11-23"})
    text = write_card(tmp_path, identity).read_text()
    assert "pipeline_tag: image-feature-extraction" in text
    assert "enroll --gallery" in text and "predict --gallery" in text and "Labels:" not in text
    assert "masked rank1 0.9000" in text and "unknown_threshold 0.4100" in text
    assert "--data ../shared/data/lfw`" in text


def test_a_card_trained_on_gender_r_labels_says_they_were_labelled_by_people(tmp_path):
    training = spec({}).training | {"labels_data": {
        "source": "data/labels/gender-real", "protocol": "GENDER-R", "rows": 3995, "used": 2848,
        "train": {"female": 1242, "male": 1173}, "held_out": {"female": 234, "male": 199},
        "skipped": {"test split": 593, "unsure": 662},
    }}
    card = write_card(tmp_path, ModelSpec("gender", "cnn", ["female", "male"], CropSpec(120, 1.2), {}, training)).read_text()
    assert "- GENDER-R labels of real masked faces, given by people looking at them: `data/labels/gender-real`" in card
    assert "validation part (best epoch, calibration): 234 female, 199 male" in card
    assert "collected with the app" not in card and "held out for evaluation" not in card


def test_a_gender_card_says_how_its_head_reads_the_identity_embedding(tmp_path):
    gender = ModelSpec("gender", "cnn", ["female", "male"], CropSpec(120, 1.2), {}, {"trained_at": "2026-12-02"})
    gender.embedding_head = {"identity_model": "identity-dlib-resnet", "embedding_id": "x", "label": "female", "C": 0.1,
                             "mix": 0.5, "weights": [0.0] * 128, "bias": 0.0, "fitted_on": "LFW split=train (9 faces)"}
    card = write_card(tmp_path / "gender-x", gender).read_text()
    assert "logistic regression (C 0.1) on the identity embedding of `identity-dlib-resnet` (weight 0.5)" in card
    assert "fitted on LFW split=train (9 faces)" in card
    assert 'Analyzer(models={"mask": "mask-mobilenetv2", "gender": "gender-x"})' in card
