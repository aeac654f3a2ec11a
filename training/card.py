"""Model cards in the Hugging Face format, with the measured figures in ``model-index``.

The card is rendered from the model's :class:`~maskface.store.ModelSpec`, so
the figures in it are always the ones stored with the weights; the training
curves are drawn from the ``history.json`` saved beside them.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from huggingface_hub import EvalResult, ModelCard, ModelCardData  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from maskface.analyzer import DEFAULT_MODELS  # noqa: E402
from maskface.store import ModelSpec  # noqa: E402

DATASETS = {
    "MASK": "mask (shared/data/mask)",
    "GENDER-M": "LFW (shared/data/lfw) with simulated masks",
    "GENDER-R": "real masked faces (shared/data/mask) with gender labels (data/labels/gender-real)",
    "LABELS": "labels collected with the app (held-out part)",
    "ID-M": "LFW (shared/data/lfw) split=test people, masked probes",
    "ID-M-1": "LFW (shared/data/lfw) split=test people enrolled from one photo",
    "ID-CLOSED": "LFW (shared/data/lfw) split=train, 30 people",
}
CLASSIFIER_USE = """```bash
python -m maskface predict --{task}-model {name} photo.jpg
```

```python
from maskface import Analyzer
result = Analyzer(models={models}).analyze("photo.jpg")   # result[0]["{task}"].label, .score
result.save("annotated.jpg", "{task}")
```"""
EMBEDDER_USE = """```bash
python -m maskface enroll --gallery people/ --identity-model {name} --name "Ada Lovelace" ada1.jpg ada2.jpg
python -m maskface predict --gallery people/ --identity-model {name} photo.jpg
```

```python
from maskface import Analyzer
from maskface.enrolment import enroll
from maskface.gallery import Gallery
analyzer = Analyzer(models={{"identity": "{name}"}})
gallery = Gallery.for_model("people/", analyzer.embedder)
enroll(analyzer, gallery, "Ada Lovelace", ["ada1.jpg", "ada2.jpg"])
result = analyzer.analyze("photo.jpg", gallery=gallery)   # result[0]["identity"].label, .score, .candidates
```"""
CURVES_PNG = "curves.png"
HISTORY_FILE = "history.json"

TEMPLATE = """---
{{ card_data }}
---

# {{ model_name }}

{{ summary }}

## Use

{{ use }}

Input: RGB face crops, {{ size }}x{{ size }} pixels, values 0-255 (preprocessing is inside the
model). {{ framing }} {{ outputs }}

## Evaluation

{{ results_table }}

Reproduce: `{{ reproduce }}`

{{ calibration }}

## Training

Trained on {{ date }}.

{{ data_used }}

{{ curves }}

Settings:

{{ training }}

## Limitations

Trained on a few thousand public web photos. Figures on other cameras, lighting, mask styles
and people can be lower; check the benchmark report before relying on a prediction. Faces are
biometric data: the app stores nothing from its inference tabs.
"""


def confusion_png(protocol: str) -> str:
    """File name of a protocol's confusion-matrix picture, beside the weights."""
    return "confusion_" + protocol.lower().replace(" ", "_").replace("-", "") + ".png"


def plot_curves(history: list[dict], path: Path) -> bool:
    """Save accuracy and loss per epoch (training and validation) as one PNG, phases marked; False if nothing to plot."""
    shown = [m for m in ("accuracy", "loss") if any(m in record for record in history)]
    if not shown:
        return False
    epochs = range(1, len(history) + 1)
    fig, axes = plt.subplots(1, len(shown), figsize=(4 * len(shown), 3.2), dpi=100, squeeze=False)
    for ax, metric in zip(axes[0], shown):
        for key, style in ((metric, "-"), (f"val_{metric}", "--")):
            if any(key in record for record in history):
                ax.plot(epochs, [record.get(key, float("nan")) for record in history], style, label=key)
        for i in range(1, len(history)):
            if history[i].get("phase") != history[i - 1].get("phase"):
                ax.axvline(i + 0.5, color="grey", linewidth=0.8)
                ax.text(i + 0.6, ax.get_ylim()[1], history[i].get("phase", ""), va="top", fontsize=8, color="grey")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(metric)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def _counts(counts: dict | None) -> str:
    return ", ".join(f"{value} {key}" for key, value in (counts or {}).items()) or "none"


def data_used(training: dict) -> str:
    """The data a model was trained on, in words, from its training settings."""
    lines = [f"- Base data: `{training['data']}`" if training.get("data") else "- Base data: not recorded"]
    if training.get("train_counts"):
        lines[0] += (
            f" (training and labels' training part: {_counts(training['train_counts'])}; "
            f"validation: {_counts(training.get('val_counts'))})"
        )
    labels = training.get("labels_data")
    if labels:
        # a labels dataset of shared photos (GENDER-R) was labelled by looking, not collected in the app, and its
        # held-out part is the protocol's validation part, where the best epoch and the temperature were chosen
        real = labels.get("protocol") == "GENDER-R"
        source = "GENDER-R labels of real masked faces, given by people looking at them" if real else "Labels collected with the app"
        held_out = "validation part (best epoch, calibration)" if real else "held out for evaluation"
        lines.append(
            f"- {source}: `{labels['source']}`, {labels['used']} of {labels['rows']} records "
            f"used; training: {_counts(labels.get('train'))}; {held_out}: {_counts(labels.get('held_out'))}; "
            f"left out: {_counts(labels.get('skipped'))}"
        )
    return "\n".join(lines)


def results(metrics: dict[str, dict]) -> tuple[list[EvalResult], str]:
    """The model-index entries and the Markdown of a spec's figures.

    Classifier protocols (MASK, GENDER-M, the labels' held-out part) get a
    table row and a confusion-matrix picture; other protocols (ID-M) list
    their numeric figures.
    """
    eval_results = []
    rows = ["| protocol | split | images | accuracy | balanced accuracy | ROC AUC |", "|---|---|---|---|---|---|"]
    other = []
    for protocol, m in metrics.items():
        base = protocol.split()[0]
        numbers = {k: v for k, v in m.items() if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "n"}
        for metric, value in numbers.items():
            eval_results.append(
                EvalResult(
                    task_type="image-classification",
                    dataset_type=base.lower(),
                    dataset_name=DATASETS.get(base, base),
                    dataset_config=protocol,
                    dataset_split=m.get("split", "test"),
                    metric_type=metric,
                    metric_value=value,
                )
            )
        if "confusion_matrix" in m:
            rows.append(
                f"| {protocol} | {m['split']} | {m['n']} | {m['accuracy']:.4f} | {m['balanced_accuracy']:.4f} "
                f"| {m['roc_auc']:.4f} |"
            )
        else:
            other.append(f"- {protocol}: " + ", ".join(f"{k} {v:.4f}" for k, v in numbers.items()))
    classified = [p for p, m in metrics.items() if "confusion_matrix" in m]
    parts = []
    if classified:
        parts.append("\n".join(rows))
        parts.append(" ".join(f"![{p} confusion matrix]({confusion_png(p)})" for p in classified))
    if other:
        parts.append("\n".join(other))
    return eval_results, "\n\n".join(parts) or "Not evaluated yet."


def calibration_text(calibration: dict, metrics: dict, labels: list[str]) -> str:
    """The card's calibration paragraph: the temperature and offsets, what they were fitted on, ECE before and after."""
    if not calibration:
        return ""
    bias = calibration.get("bias")
    how = (
        f"bias-corrected temperature scaling: T = {calibration['temperature']} and offsets "
        + ", ".join(f"{label} {offset:+g}" for label, offset in zip(labels, bias))
        + " (the logits are divided by T and the offsets added, which undoes a lean towards one label and can "
        "change an answer near the boundary)"
        if bias
        else f"temperature scaling: T = {calibration['temperature']} (the logits are divided by T; answers do not change)"
    )
    lines = [
        f"Confidence calibrated by {how}, fitted by likelihood on {calibration['fitted_on']} ({calibration['faces']} faces), "
        f"where the expected calibration error (15 bins) went from {calibration['ece_before']:.3f} to "
        f"{calibration['ece_after']:.3f}."
    ]
    for protocol, m in metrics.items():
        if "ece" in m and "ece_uncalibrated" in m:
            lines.append(f"{protocol} ({m['split']}): ECE {m['ece_uncalibrated']:.3f} uncalibrated, {m['ece']:.3f} calibrated.")
    return " ".join(lines)


def embedding_head_text(head: dict) -> str:
    """The card's sentence on a head read from the identity embedding (:mod:`maskface.embedding_head`)."""
    if not head:
        return ""
    return (
        f"The answer mixes the network's logit (weight {head['mix']:g}) with a logistic regression (C {head['C']:g}) "
        f"on the identity embedding of `{head['identity_model']}` (weight {1 - head['mix']:g}), fitted on "
        f"{head['fitted_on']} (`python -m training embedding-head`); the app computes that embedding once per "
        "face, with the identity network the mask model picks, and the calibration below is fitted on the mixed answer."
    )


def _use_models(spec: ModelSpec, name: str) -> str:
    """The card's ``Analyzer`` models: a model with an embedding head beside the mask model, as ``predict``
    runs it (the mask answer picks the identity network the head reads)."""
    if spec.embedding_head:
        return f'{{"mask": "{DEFAULT_MODELS["mask"]}", "{spec.task}": "{name}"}}'
    return f'{{"{spec.task}": "{name}"}}'


def framing(spec: ModelSpec) -> str:
    """How faces are cut out for the model, in words."""
    if spec.crop.keypoints is not None:
        return (
            "Each face is rotated, scaled and shifted so that the detector's five keypoints (eyes, nose tip, "
            "mouth corners) land where the model expects them; face photos given with `--assume-face` get "
            "the keypoints' usual place in a face box."
        )
    return (
        f"Detector boxes are enlarged {spec.crop.scale:g}x and squared; face photos given with "
        "`--assume-face` are padded to a square with grey."
    )


def write_card(folder: str | Path, spec: ModelSpec) -> Path:
    """Render ``README.md`` for the model saved in ``folder``."""
    folder = Path(folder)
    name = folder.name
    eval_results, results_markdown = results(spec.metrics)
    embedder = spec.task == "identity"
    if embedder:
        summary = (
            f"`{spec.arch}` face-embedding model of maskface: people are enrolled from a few photos and "
            "recognised, masked or not, by the cosine similarity of these embeddings."
        )
        outputs = (
            "Output: a unit-length embedding; a gallery made with this model names a face when its best "
            "person's score reaches the gallery's threshold for its kind of face, bare or masked (new "
            "galleries start at the ID-M thresholds at FAR 1% below)."
        )
        if spec.training.get("method"):
            summary += f" Method: {spec.training['method']}."
    else:
        summary = f"`{spec.arch}` classifier for the **{spec.task}** task of maskface."
        outputs = "Labels: " + ", ".join(f"`{label}`" for label in spec.labels) + "."
    data = ModelCardData(
        library_name="keras",
        license="mit",
        model_name=name,
        pipeline_tag="image-feature-extraction" if embedder else "image-classification",
        tags=["maskface", spec.task, spec.arch, "face"],
        eval_results=eval_results or None,
    )
    data_dir = "mask" if spec.task == "mask" else "lfw"
    curves = ""
    history = folder / HISTORY_FILE
    if history.is_file() and plot_curves(json.loads(history.read_text()), folder / CURVES_PNG):
        curves = f"![accuracy and loss per epoch]({CURVES_PNG})"
    card = ModelCard.from_template(
        data,
        template_str=TEMPLATE,
        model_name=name,
        name=name,
        use=(EMBEDDER_USE if embedder else CLASSIFIER_USE).format(task=spec.task, name=name, models=_use_models(spec, name)),
        summary=summary,
        size=spec.crop.size,
        framing=framing(spec),
        outputs=outputs,
        results_table=results_markdown,
        reproduce=f"python -m training evaluate --model models/{name} --data ../shared/data/{data_dir}"
        + ("" if embedder else " --split test")
        + (" --labels data/labels/gender-real" if any(p.startswith("GENDER-R") for p in spec.metrics) else ""),
        calibration="\n\n".join(
            filter(None, [embedding_head_text(spec.embedding_head), calibration_text(spec.calibration, spec.metrics, spec.labels)])
        ),
        date=spec.training.get("trained_at", "an unrecorded date"),
        data_used=data_used(spec.training),
        curves=curves,
        training="```json\n" + json.dumps(spec.training, indent=1, sort_keys=True) + "\n```",
    )
    path = folder / "README.md"
    card.save(path)
    return path
