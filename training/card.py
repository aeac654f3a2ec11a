"""Model cards in the Hugging Face format, with the measured figures in ``model-index``.

The card is rendered from the model's :class:`~maskface.store.ModelSpec`, so
the figures in it are always the ones stored with the weights.
"""

from __future__ import annotations

import json
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from maskface.store import ModelSpec
from maskface.tasks import get_task

DATASETS = {"MASK": "mask (shared/data/mask)", "GENDER-M": "LFW (shared/data/lfw) with simulated masks"}

TEMPLATE = """---
{{ card_data }}
---

# {{ model_name }}

{{ summary }}

## Use

```bash
python -m maskface predict --{{ task }}-model {{ name }} photo.jpg
```

```python
from maskface import Analyzer
faces = Analyzer(models={"{{ task }}": "{{ name }}"}).analyze("photo.jpg")
```

Input: RGB face crops, {{ size }}x{{ size }} pixels, values 0-255 (preprocessing is inside the
model). Detector boxes are enlarged {{ scale }}x and squared; face photos given with
`--assume-face` are padded to a square with grey. Labels: {{ labels }}.

## Evaluation

{{ results_table }}

Reproduce: `{{ reproduce }}`

## Training

{{ training }}

## Limitations

Trained on a few thousand public web photos. Figures on other cameras, lighting, mask styles
and people can be lower; check the benchmark report before relying on a prediction. Faces are
biometric data: the app stores nothing from its inference tabs.
"""


def confusion_png(protocol: str) -> str:
    """File name of a protocol's confusion-matrix picture, beside the weights."""
    return "confusion_" + protocol.lower().replace(" ", "_").replace("-", "") + ".png"


def write_card(folder: str | Path, spec: ModelSpec) -> Path:
    """Render ``README.md`` for the model saved in ``folder``."""
    folder = Path(folder)
    name = folder.name
    eval_results = []
    rows = ["| protocol | split | images | accuracy | balanced accuracy | ROC AUC |", "|---|---|---|---|---|---|"]
    for protocol, m in spec.metrics.items():
        base = protocol.split()[0]
        rows.append(
            f"| {protocol} | {m['split']} | {m['n']} | {m['accuracy']:.4f} | {m['balanced_accuracy']:.4f} "
            f"| {m['roc_auc']:.4f} |"
        )
        for metric in ("accuracy", "balanced_accuracy", "roc_auc"):
            eval_results.append(
                EvalResult(
                    task_type="image-classification",
                    dataset_type=base.lower(),
                    dataset_name=DATASETS.get(base, base),
                    dataset_config=protocol,
                    dataset_split=m["split"],
                    metric_type=metric,
                    metric_value=m[metric],
                )
            )
    data = ModelCardData(
        library_name="keras",
        license="mit",
        model_name=name,
        pipeline_tag="image-classification",
        tags=["maskface", spec.task, spec.arch, "face"],
        eval_results=eval_results or None,
    )
    data_dir = {"MASK": "mask", "GENDER-M": "lfw"}.get(get_task(spec.task).protocol, spec.task)
    card = ModelCard.from_template(
        data,
        template_str=TEMPLATE,
        model_name=name,
        name=name,
        task=spec.task,
        summary=f"`{spec.arch}` classifier for the **{spec.task}** task of maskface.",
        size=spec.crop.size,
        scale=spec.crop.scale,
        labels=", ".join(f"`{label}`" for label in spec.labels),
        results_table="\n".join(rows)
        + "\n\n"
        + " ".join(f"![{protocol} confusion matrix]({confusion_png(protocol)})" for protocol in spec.metrics)
        if spec.metrics
        else "Not evaluated yet.",
        reproduce=f"python -m training evaluate --model models/{name} --data ../shared/data/{data_dir} --split test",
        training="```json\n" + json.dumps(spec.training, indent=1, sort_keys=True) + "\n```",
    )
    path = folder / "README.md"
    card.save(path)
    return path
