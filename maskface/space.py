"""The Hugging Face Space's README front matter, rendered from ``space.yaml`` so the two never drift.

A Space reads its settings from the YAML block between ``---`` lines at the top
of ``README.md``. ``space.yaml`` holds that block's keys (``front_matter``) and
the Space's variables; the rendered block adds, as ``models`` and
``datasets``, the Hub repos those variables name, so the Space's page links
to what it serves.

>>> print(render_front_matter(load_space("space.yaml")))
---
title: maskface
...
---
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from .hub import split_revision
from .store import HF_PREFIX

FENCE = "---\n"
MODEL_VARIABLES = ("MASKFACE_MASK_MODEL", "MASKFACE_GENDER_MODEL", "MASKFACE_IDENTITY_MODEL")
DATASET_VARIABLES = ("MASKFACE_LABELS_REPO",)


def load_space(path: str | os.PathLike) -> dict:
    """``space.yaml`` as a mapping; raises ``ValueError`` when its ``front_matter`` is missing."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data.get("front_matter"), dict):
        raise ValueError(f"{path} has no front_matter mapping")
    return data


def hub_repos(variables: dict[str, str]) -> tuple[list[str], list[str]]:
    """The model repos (from ``hf://`` sources, comma-separated) and dataset repos the variables name."""
    models = []
    for name in MODEL_VARIABLES:
        for source in str(variables.get(name) or "").split(","):
            source = source.strip()
            if source.startswith(HF_PREFIX):
                repo = split_revision(source[len(HF_PREFIX) :])[0]
                models += [repo] if repo not in models else []
    datasets = [str(variables[name]).strip() for name in DATASET_VARIABLES if str(variables.get(name) or "").strip()]
    return models, datasets


def render_front_matter(space: dict) -> str:
    """The README's front matter block, ``---`` lines included."""
    models, datasets = hub_repos(space.get("variables") or {})
    matter = {**space["front_matter"], "models": models, "datasets": datasets}
    return FENCE + yaml.safe_dump(matter, sort_keys=False, allow_unicode=True, width=1000) + FENCE


def split_front_matter(text: str) -> tuple[str, str]:
    """``(front matter block, rest)`` of a README; the block is empty when there is none."""
    if text.startswith(FENCE):
        end = text.find("\n" + FENCE, len(FENCE) - 1)
        if end >= 0:
            cut = end + 1 + len(FENCE)
            return text[:cut], text[cut:]
    return "", text


def write_front_matter(readme: str | os.PathLike, block: str) -> bool:
    """Put ``block`` at the top of ``readme`` in place of its front matter; returns whether it changed."""
    path = Path(readme)
    text = path.read_text(encoding="utf-8")
    current, rest = split_front_matter(text)
    if current == block:
        return False
    path.write_text(block + (rest if current else "\n" + text), encoding="utf-8")
    return True
