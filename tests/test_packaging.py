"""The package's declared dependencies: requirements.txt (what a Space installs) is the core plus the app extra."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from maskface.app.common import EXAMPLES_DIR
from maskface.store import PACKAGED_MODELS, SPEC_FILE

ROOT = Path(__file__).resolve().parents[1]


def requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def distribution(requirement: str) -> str:
    """The distribution a requirement line names, without its extras or version: ``gradio[oauth]==6`` -> gradio."""
    return re.split(r"[\[=<>]", requirement, maxsplit=1)[0].lower()


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_the_spaces_requirements_are_the_core_and_the_app_extra():
    declared = project()
    assert requirement_lines(ROOT / "requirements.txt") == declared["dependencies"] + declared["optional-dependencies"]["app"]


def test_the_core_needs_neither_the_app_nor_the_training_stack():
    declared = project()
    core = {distribution(line) for line in declared["dependencies"]}
    extras = {name: {distribution(line) for line in lines} for name, lines in declared["optional-dependencies"].items()}
    assert not core & (extras["app"] | extras["train"])
    assert {"gradio", "av"} <= extras["app"] and {"keras-cv", "datasets", "scikit-learn", "matplotlib"} <= extras["train"]
    assert all("==" in line for lines in (declared["dependencies"], *declared["optional-dependencies"].values()) for line in lines)


def test_shipped_models_and_examples_are_found_through_the_package():
    assert {p.name for p in PACKAGED_MODELS.iterdir() if (p / SPEC_FILE).is_file()} >= {"mask-mobilenetv2", "gender-mobilenetv2"}
    assert (EXAMPLES_DIR / "astronaut.jpg").is_file() and (EXAMPLES_DIR / "SOURCES.md").is_file()
