"""The Hugging Face Space's README front matter, rendered from ``space.yaml`` so the two never drift.

A Space reads its settings from the YAML block between ``---`` lines at the top
of ``README.md``. ``space.yaml`` holds that block's keys (``front_matter``) and
the Space's variables; the rendered block adds, as ``models`` and
``datasets``, the Hub repos those variables name, so the Space's page links
to what it serves.

>>> print(render_front_matter(load_space("space.yaml")))  # doctest: +ELLIPSIS
---
title: maskface
...
---
<BLANKLINE>
"""

from __future__ import annotations

import os
import shutil
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import config
from .hub import HF_PREFIX, deploy_space, split_revision

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


# --------------------------------------------------------------------------
# Deploying the Space: `python -m maskface space deploy --to ORG/NAME [--dry-run]`.

#: Files of the checkout's root that a Space needs beside the package (README.md goes up rendered).
ROOT_FILES = ("app.py", "requirements.txt", "SECURITY.md")
README = "README.md"


def package_files(root: str | os.PathLike) -> dict[str, Path]:
    """The package's files exactly as its wheel holds them (``pyproject.toml``): modules and package data.

    The shipped models and example photos come in through the package's links
    to ``models/`` and ``examples/``, under the paths the app finds them at.
    """
    root = Path(root)
    tool = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    files: dict[str, Path] = {}
    for package in tool["packages"]:
        folder = root.joinpath(*package.split("."))
        for pattern in ["*.py", *tool.get("package-data", {}).get(package, [])]:
            files.update({p.relative_to(root).as_posix(): p for p in sorted(folder.glob(pattern)) if p.is_file()})
    return dict(sorted(files.items()))


@dataclass
class Deployment:
    """What ``space deploy`` sends: the files (by their path in the Space), the README, variables and secrets.

    ``variables`` maps each name to its value and where the value comes
    from; ``secrets`` maps each name to its value, or ``None`` when it is not
    set here (it is then left as it is on the Space).
    """

    repo: str
    files: dict[str, Path]
    readme: str
    variables: dict[str, tuple[str, str]]
    secrets: dict[str, str | None] = field(repr=False)

    def describe(self) -> list[str]:
        """Lines for people: every file with its size, every variable and secret (never a secret's value)."""
        lines = [f"Space {self.repo}: {len(self.files) + 1} files"]
        lines += [f"  {README} ({len(self.readme.encode()):,} bytes, front matter rendered from space.yaml)"]
        lines += [f"  {name} ({path.stat().st_size:,} bytes)" for name, path in self.files.items()]
        lines.append(f"variables: {len(self.variables)}")
        lines += [f"  {name}={value} (from {origin})" for name, (value, origin) in self.variables.items()]
        lines.append(f"secrets: {len(self.secrets)}")
        lines += [
            f"  {name}: " + ("set from the environment" if value else "not set here: set it in the Space's settings")
            for name, value in self.secrets.items()
        ]
        return lines

    def stage(self, folder: Path) -> Path:
        """Copy the files into ``folder`` (links resolved), with the rendered README; returns ``folder``."""
        for name, path in self.files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, folder / name)
        (folder / README).write_text(self.readme, encoding="utf-8")
        return folder


def plan_deployment(
    root: str | os.PathLike, repo: str, space_file: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None
) -> Deployment:
    """The deployment of the checkout at ``root`` to the Space ``repo``, as ``space.yaml`` describes it.

    Each variable of ``space.yaml`` takes the value of the same-named
    variable of the environment when that is set, else the file's (empty
    values are left unset); each secret comes from the environment. The
    README's front matter is rendered from those values, so the Space's page
    links to the Hub repos it really uses.
    """
    root = Path(root)
    space = load_space(space_file or root / "space.yaml")
    declared = {name: str(value) for name, value in (space.get("variables") or {}).items()}
    names = [*declared, *(space.get("secrets") or [])]
    found = config.environment(names, environ)
    variables = {
        name: (found[name], "the environment") if name in found else (value, "space.yaml")
        for name, value in declared.items()
        if found.get(name, value).strip()
    }
    rendered = render_front_matter({**space, "variables": {name: value for name, (value, _) in variables.items()}})
    readme = rendered + split_front_matter((root / README).read_text(encoding="utf-8"))[1]
    files = {name: root / name for name in ROOT_FILES} | package_files(root)
    missing = [name for name, path in files.items() if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"{root} is not a complete maskface checkout: missing {', '.join(missing)}")
    secrets = {name: found.get(name) for name in space.get("secrets") or []}
    return Deployment(repo, files, readme, variables, secrets)


def deploy(deployment: Deployment, message: str = "Deploy maskface") -> str:
    """Create or update the Space with exactly the deployment's files, variables and secrets; returns its URL."""
    with tempfile.TemporaryDirectory(prefix="maskface-space-") as tmp:
        staged = deployment.stage(Path(tmp))
        secrets = {name: value for name, value in deployment.secrets.items() if value}
        variables = {name: value for name, (value, _) in deployment.variables.items()}
        return deploy_space(staged, deployment.repo, variables, secrets, message)
