"""The Space's README front matter is rendered from space.yaml, and README.md carries exactly that."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from maskface import cli
from maskface.space import hub_repos, load_space, render_front_matter, split_front_matter, write_front_matter

ROOT = Path(__file__).resolve().parents[1]


def test_readme_front_matter_is_the_rendering_of_space_yaml():
    block, _ = split_front_matter((ROOT / "README.md").read_text(encoding="utf-8"))
    assert block == render_front_matter(load_space(ROOT / "space.yaml")), (
        "README.md drifted from space.yaml: run `python -m maskface space-readme --write`"
    )


def test_the_front_matter_has_what_a_gradio_space_needs():
    matter = yaml.safe_load(render_front_matter(load_space(ROOT / "space.yaml")).strip("-\n"))
    assert matter["sdk"] == "gradio" and matter["app_file"] == "app.py"
    assert matter["python_version"] == "3.11"
    requirements = (ROOT / "requirements.txt").read_text()
    assert f"gradio=={matter['sdk_version']}" in requirements
    assert len(matter["short_description"]) <= 60


def test_hub_repos_come_from_the_variables():
    variables = {
        "MASKFACE_MASK_MODEL": "hf://org/mask@v2, mask-cnn",
        "MASKFACE_GENDER_MODEL": "hf://org/gender,hf://org/mask",
        "MASKFACE_IDENTITY_MODEL": "identity-mobilenetv2",
        "MASKFACE_LABELS_REPO": "org/labels",
    }
    assert hub_repos(variables) == (["org/mask", "org/gender"], ["org/labels"])
    assert hub_repos({}) == ([], [])


def space_file(tmp_path: Path, mask_model: str) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(
        f"front_matter:\n  title: t\n  emoji: 😷\n  sdk: gradio\nvariables:\n  MASKFACE_MASK_MODEL: {mask_model}\n",
        encoding="utf-8",
    )
    return path


def test_rendering_keeps_key_order_and_unicode(tmp_path):
    block = render_front_matter(load_space(space_file(tmp_path, "hf://org/m@abc")))
    assert block == "---\ntitle: t\nemoji: 😷\nsdk: gradio\nmodels:\n- org/m\ndatasets: []\n---\n"


def test_write_puts_the_block_on_top_and_replaces_an_old_one(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n\ntext\n", encoding="utf-8")
    assert write_front_matter(readme, "---\na: 1\n---\n")
    assert readme.read_text(encoding="utf-8") == "---\na: 1\n---\n\n# Title\n\ntext\n"
    assert write_front_matter(readme, "---\na: 2\n---\n")
    assert readme.read_text(encoding="utf-8") == "---\na: 2\n---\n\n# Title\n\ntext\n"
    assert not write_front_matter(readme, "---\na: 2\n---\n")


def test_cli_writes_then_checks(tmp_path, capsys):
    space, readme = space_file(tmp_path, "mask-mobilenetv2"), tmp_path / "README.md"
    readme.write_text("# Title\n", encoding="utf-8")
    paths = ["--space", str(space), "--readme", str(readme)]
    assert cli.main(["space-readme", *paths, "--check"]) == 1
    assert "space-readme --write" in capsys.readouterr().err
    assert cli.main(["space-readme", *paths, "--write"]) == 0
    assert cli.main(["space-readme", *paths, "--check"]) == 0
    assert cli.main(["space-readme", *paths]) == 0
    assert capsys.readouterr().out == split_front_matter(readme.read_text(encoding="utf-8"))[0]


def test_a_space_file_without_front_matter_is_refused(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("variables: {}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="front_matter"):
        load_space(path)
