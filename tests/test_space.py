"""The Space: README front matter rendered from space.yaml (README.md carries exactly that), and its deploy."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from maskface import cli
from maskface.space import (
    README,
    deploy,
    hub_repos,
    load_space,
    package_files,
    plan_deployment,
    render_front_matter,
    split_front_matter,
    write_front_matter,
)

ROOT = Path(__file__).resolve().parents[1]


def test_readme_front_matter_is_the_rendering_of_space_yaml():
    block, _ = split_front_matter((ROOT / "README.md").read_text(encoding="utf-8"))
    assert block == render_front_matter(load_space(ROOT / "space.yaml")), (
        "README.md drifted from space.yaml: run `python -m maskface space readme --write`"
    )


def test_the_front_matter_has_what_a_gradio_space_needs():
    matter = yaml.safe_load(render_front_matter(load_space(ROOT / "space.yaml")).strip("-\n"))
    assert matter["sdk"] == "gradio" and matter["app_file"] == "app.py"
    assert matter["python_version"] == "3.11"
    requirements = (ROOT / "requirements.txt").read_text()
    assert f"gradio[oauth]=={matter['sdk_version']}" in requirements  # the extra: Space OAuth's libraries
    assert len(matter["short_description"]) <= 60
    # Sign-in with Hugging Face, asking for the username only
    assert matter["hf_oauth"] is True and set(matter["hf_oauth_scopes"]) == {"openid", "profile"}


def test_hub_repos_come_from_the_variables():
    variables = {
        "MASKFACE_MASK_MODEL": "hf://org/mask@v2, mask-cnn",
        "MASKFACE_GENDER_MODEL": "hf://org/gender,hf://org/mask",
        "MASKFACE_IDENTITY_MODEL": "identity-dlib-resnet",
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
    assert cli.main(["space", "readme", *paths, "--check"]) == 1
    assert "space readme --write" in capsys.readouterr().err
    assert cli.main(["space", "readme", *paths, "--write"]) == 0
    assert cli.main(["space", "readme", *paths, "--check"]) == 0
    assert cli.main(["space", "readme", *paths]) == 0
    assert capsys.readouterr().out == split_front_matter(readme.read_text(encoding="utf-8"))[0]


def test_a_space_file_without_front_matter_is_refused(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("variables: {}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="front_matter"):
        load_space(path)


# --- deploy ------------------------------------------------------------------------------------


def test_a_space_gets_the_app_its_requirements_and_the_package_with_its_models():
    files = plan_deployment(ROOT, "org/maskface", environ={}).files
    assert {"app.py", "requirements.txt", "maskface/app/keys.js", "maskface/assets/retinaface_mnet025.onnx"} <= set(files)
    assert "maskface/models/mask-mobilenetv2/model.weights.h5" in files
    assert "maskface/app/examples/astronaut.jpg" in files
    assert not [name for name in files if name.startswith(("tests/", "training/", "bench/", "models/")) or ".pyc" in name]
    assert set(package_files(ROOT)) <= set(files)


def test_variables_come_from_space_yaml_or_the_environment_and_secrets_from_the_environment():
    space = load_space(ROOT / "space.yaml")
    plan = plan_deployment(ROOT, "org/maskface", environ={"MASKFACE_LABELS_REPO": "org/labels", "HF_TOKEN": "hf_x"})
    assert plan.variables["MASKFACE_LABELS_REPO"] == ("org/labels", "the environment")
    assert plan.variables["MASKFACE_MASK_MODEL"] == (space["variables"]["MASKFACE_MASK_MODEL"], "space.yaml")
    assert plan.secrets == {"HF_TOKEN": "hf_x"}
    assert "datasets:\n- org/labels\n" in split_front_matter(plan.readme)[0]
    described = "\n".join(plan.describe())
    assert "HF_TOKEN: set from the environment" in described and "hf_x" not in described
    bare = plan_deployment(ROOT, "org/maskface", environ={})
    assert "MASKFACE_LABELS_REPO" not in bare.variables  # empty in space.yaml: left unset
    assert bare.secrets == {"HF_TOKEN": None}


def test_deploying_to_the_hub_stand_in_creates_the_space(tmp_path, configure):
    import json

    configure(hub_mirror=tmp_path / "hub")
    plan = plan_deployment(ROOT, "org/maskface", environ={"HF_TOKEN": "hf_secret"})
    url = deploy(plan)
    space = tmp_path / "hub" / "spaces" / "org" / "maskface"
    assert url == space.as_uri()
    version = space / "commits" / (space / "refs" / "main").read_text().strip()
    held = {p.relative_to(version).as_posix() for p in version.rglob("*") if p.is_file()}
    assert held == set(plan.files) | {README}
    assert (version / "maskface/models/mask-mobilenetv2/model.weights.h5").read_bytes() == (
        ROOT / "models/mask-mobilenetv2/model.weights.h5"
    ).read_bytes()
    front_matter = split_front_matter((version / README).read_text(encoding="utf-8"))[0]
    assert front_matter == render_front_matter(load_space(ROOT / "space.yaml"))
    settings = json.loads((space / "settings.json").read_text())
    assert settings["sdk"] == "gradio"
    assert settings["variables"] == {name: value for name, (value, _) in plan.variables.items()}
    assert list(settings["secrets"]) == ["HF_TOKEN"] and "hf_secret" not in (space / "settings.json").read_text()


def test_cli_dry_run_lists_files_and_settings_and_sends_nothing(tmp_path, configure, monkeypatch, capsys):
    configure(hub_mirror=tmp_path / "hub")
    monkeypatch.chdir(ROOT)
    assert cli.main(["space", "deploy", "--to", "org/maskface", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "  app.py (" in out and "  maskface/models/mask-mobilenetv2/model.weights.h5 (" in out
    assert "MASKFACE_MASK_MODEL=" in out and "HF_TOKEN: " in out
    assert out.rstrip().endswith("dry run: nothing sent to org/maskface")
    assert not (tmp_path / "hub").exists()


def test_cli_deploy_prints_the_spaces_url(tmp_path, configure, capsys):
    configure(hub_mirror=tmp_path / "hub")
    assert cli.main(["space", "deploy", "--to", "org/maskface", "--from", str(ROOT)]) == 0
    assert capsys.readouterr().out.strip() == (tmp_path / "hub" / "spaces" / "org" / "maskface").as_uri()
