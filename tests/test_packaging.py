"""The package's declared dependencies: requirements.txt (what a Space installs) is the core plus the app extra."""

from __future__ import annotations

import re
import subprocess
import sys
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


#: Modules that only the extras install (and their dependencies the core must not need either).
EXTRAS_MODULES = ("scipy", "sklearn", "gradio", "av", "datasets", "statsmodels", "matplotlib", "keras_cv", "imblearn",
                  "crowdkit")


def test_the_core_library_imports_without_any_extra():
    """What `pip install .` gives (the `maskface` command, the analyzer, galleries) imports with every extra
    module made unimportable: a core module importing one at its top fails `.ci/wheel-check` only."""
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {EXTRAS_MODULES!r}:\n"
        "            raise ImportError(f'{name} is not part of the core install')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import maskface.cli, maskface.analyzer, maskface.gallery, maskface.enrolment, maskface.calibration\n"
    )
    done = subprocess.run([sys.executable, "-c", blocker], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
