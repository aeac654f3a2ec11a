"""The CLI contract: one JSON line per input, errors per line, exit code 2 when any input failed."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from maskface import cli

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def run(capsys, tiny_mask_model, tiny_gender_model):
    """Run ``predict`` in-process on the tiny models and the given args; return (exit code, JSON lines)."""

    def _run(*args: str, assume_face: bool = True) -> tuple[int, list[dict]]:
        models = ["--mask-model", str(tiny_mask_model), "--gender-model", str(tiny_gender_model)]
        argv = ["predict", *models, *(["--assume-face"] if assume_face else []), *args]
        code = cli.main(argv)
        lines = capsys.readouterr().out.splitlines()
        return code, [json.loads(line) for line in lines]

    return _run


def save(path: Path, image: Image.Image, **kwargs) -> str:
    image.save(path, **kwargs)
    return str(path)


def photo(mode: str = "RGB", size=(40, 60)) -> Image.Image:
    y, x = np.mgrid[0 : size[1], 0 : size[0]]
    rgb = np.stack([x * 6, y * 4, (x + y) * 2], axis=-1).astype(np.uint8)
    return Image.fromarray(rgb).convert(mode)


def test_assume_face_json_shape(run, tmp_path):
    code, (line,) = run(save(tmp_path / "a.jpg", photo()))
    assert code == 0 and line["error"] is None and line["image"].endswith("a.jpg")
    (face,) = line["faces"]
    assert face["box"] == [0, 0, 40, 60] and face["detected"] is False
    assert face["mask"]["label"] in ("with_mask", "without_mask") and 0.5 <= face["mask"]["score"] <= 1
    assert face["gender"]["label"] in ("female", "male") and 0.5 <= face["gender"]["score"] <= 1


def test_directory_is_read_recursively_and_errors_do_not_stop_the_run(run, tmp_path):
    (tmp_path / "sub").mkdir()
    save(tmp_path / "sub" / "b.png", photo())
    save(tmp_path / "a.jpg", photo())
    (tmp_path / "notes.txt").write_text("ignored: not an image extension")
    (tmp_path / "text.jpg").write_text("hello")
    (tmp_path / "empty.png").write_bytes(b"")
    good = tmp_path / "good.jpg"
    save(good, photo())
    (tmp_path / "corrupt.jpg").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    code, lines = run(str(tmp_path))
    by_name = {Path(line["image"]).name: line for line in lines}
    assert code == 2
    assert set(by_name) == {"a.jpg", "b.png", "good.jpg", "text.jpg", "empty.png", "corrupt.jpg"}
    for name in ("text.jpg", "empty.png", "corrupt.jpg"):
        assert by_name[name]["faces"] == [] and by_name[name]["error"], name
    for name in ("a.jpg", "b.png", "good.jpg"):
        assert by_name[name]["error"] is None and len(by_name[name]["faces"]) == 1


def test_missing_file_is_an_error_line(run, tmp_path):
    code, (line,) = run(str(tmp_path / "nope.jpg"))
    assert code == 2 and "not found" in line["error"]


def test_huge_image_gets_a_clear_message(run, tmp_path):
    path = save(tmp_path / "huge.jpg", Image.new("RGB", (10000, 10000), (90, 120, 150)), quality=50)
    code, (line,) = run(path)
    assert code == 2 and "too large" in line["error"] and "MASKFACE_MAX_PIXELS" in line["error"]


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK"])
def test_colour_modes_are_analyzed(run, tmp_path, mode):
    fmt = "JPEG" if mode in ("L", "CMYK") else "PNG"
    code, (line,) = run(save(tmp_path / f"x.{fmt.lower()}", photo(mode), format=fmt))
    assert code == 0 and len(line["faces"]) == 1


def test_exif_rotation_is_applied_before_analysis(run, tmp_path):
    image = photo(size=(40, 60))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    code, (line,) = run(save(tmp_path / "rot.jpg", image, exif=exif))
    assert code == 0 and line["faces"][0]["box"] == [0, 0, 60, 40]


def test_no_face_found_is_not_an_error(run, tmp_path):
    code, (line,) = run(save(tmp_path / "flat.png", Image.new("RGB", (64, 64), (127, 127, 127))), assume_face=False)
    assert code == 0 and line == {"image": line["image"], "faces": [], "error": None}


def test_unknown_model_is_a_clear_error(capsys):
    assert cli.main(["predict", "--mask-model", "no-such-model", "x.jpg"]) == 1
    assert "no model at 'no-such-model'" in capsys.readouterr().err


def test_subprocess_stdout_holds_only_json_lines(tiny_mask_model, tiny_gender_model, tmp_path):
    path = save(tmp_path / "a.png", photo())
    models = ["--mask-model", str(tiny_mask_model), "--gender-model", str(tiny_gender_model)]
    proc = subprocess.run(
        [sys.executable, "-m", "maskface", "predict", "--assume-face", *models, path, path],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and all(json.loads(line)["error"] is None for line in lines)


def test_gender_model_adds_a_gender_result_per_face(capsys, tiny_mask_model, tiny_gender_model, tmp_path):
    path = save(tmp_path / "a.png", photo())
    argv = ["predict", "--assume-face", "--mask-model", str(tiny_mask_model), "--gender-model", str(tiny_gender_model)]
    assert cli.main([*argv, path]) == 0
    (face,) = json.loads(capsys.readouterr().out)["faces"]
    assert face["gender"]["label"] in ("female", "male") and face["mask"]["label"] in ("with_mask", "without_mask")


# --- gallery verbs ------------------------------------------------------------------------------


@pytest.fixture()
def people_dir(shared_data, tmp_path) -> Path:
    """DATA_DIR for ``gallery build``: two LFW people, two photos each, a photo of two people, a blank photo."""
    import shutil

    root = tmp_path / "people"
    for person in ("Hugo_Chavez", "Serena_Williams"):
        (root / person).mkdir(parents=True)
        for photo_file in sorted((shared_data / "lfw" / "images" / person).iterdir())[:2]:
            shutil.copy(photo_file, root / person / photo_file.name)
    (root / "nobody").mkdir()
    Image.new("RGB", (80, 80), (120, 120, 120)).save(root / "nobody" / "blank.png")
    (root / "two_people").mkdir()
    shutil.copy(shared_data / "lfw" / "images" / "Tony_Blair" / "Tony_Blair_0001.jpg", root / "two_people")
    return root


def gallery_cli(capsys, *argv: str) -> tuple[int, list[dict], str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines()], captured.err


def test_gallery_build_list_predict_remove(people_dir, tiny_identity_model, tiny_mask_model, tmp_path, capsys):
    gallery = str(tmp_path / "gallery")
    common = ["--gallery", gallery, "--identity-model", str(tiny_identity_model)]
    code, built, err = gallery_cli(capsys, "gallery", "build", str(people_dir), *common)
    assert code == 0 and sorted(p["name"] for p in built) == ["Hugo_Chavez", "Serena_Williams"]
    assert "skipped 'nobody': enrolment photo 1 shows no face" in err
    assert "skipped 'two_people': enrolment photo 1 shows 2 faces" in err

    code, listed, _ = gallery_cli(capsys, "gallery", "list", *common)
    assert [p["name"] for p in listed] == [p["name"] for p in built]
    assert all(p["embeddings"] == 2 * 3 for p in listed)  # each photo bare + 2 simulated masks

    probe = sorted((people_dir / "Hugo_Chavez").iterdir())[0]
    code, lines, _ = gallery_cli(capsys, "predict", "--mask-model", str(tiny_mask_model), *common, str(probe))
    identity = lines[0]["faces"][0]["identity"]
    assert identity["candidates"][0] == {"label": "Hugo_Chavez", "score": pytest.approx(1.0, abs=1e-5)}
    assert {c["label"] for c in identity["candidates"]} == {"Hugo_Chavez", "Serena_Williams"}

    code, removed, _ = gallery_cli(capsys, "gallery", "remove", "Hugo_Chavez", *common)
    assert code == 0 and removed == [{"removed": "Hugo_Chavez", "embeddings": 6}]
    assert [p["name"] for p in gallery_cli(capsys, "gallery", "list", *common)[1]] == ["Serena_Williams"]


@pytest.mark.parametrize("name", ["../../etc", "Zoë <script>alert(1)</script>"])
def test_enroll_stores_hostile_names_as_data(people_dir, tiny_identity_model, tmp_path, capsys, name):
    gallery = tmp_path / "gallery"
    photos = [str(p) for p in sorted((people_dir / "Hugo_Chavez").iterdir())]
    code, lines, _ = gallery_cli(
        capsys, "enroll", "--gallery", str(gallery), "--identity-model", str(tiny_identity_model), "--name", name, *photos
    )
    assert code == 0 and lines[0]["name"] == name
    assert {p.name for p in gallery.iterdir()} <= {"gallery.json", "gallery.lock"} | {
        p.name for p in gallery.glob("embeddings-*.npy")
    }
    assert not (tmp_path / "etc").exists()


@pytest.mark.parametrize(
    ("name", "photo_of", "message"),
    [("", "Hugo_Chavez", "must not be empty"), ("X", "nobody", "no face"), ("X", "two_people", "2 faces")],
)
def test_enroll_errors_are_one_clear_line(people_dir, tiny_identity_model, tmp_path, capsys, name, photo_of, message):
    photos = [str(p) for p in sorted((people_dir / photo_of).iterdir())]
    code, lines, err = gallery_cli(
        capsys, "enroll", "--gallery", str(tmp_path / "g"), "--identity-model", str(tiny_identity_model),
        "--name", name, *photos,
    )
    assert code == 1 and lines == [] and err.startswith("error:") and message in err


def test_labels_delete_removes_one_labelers_contributions(tmp_path, capsys):
    from maskface.labels import LabelStore, new_labeler_id

    store = LabelStore(tmp_path / "labels")
    crop = np.full((32, 32, 3), 120, np.uint8)
    ada, grace = new_labeler_id(), new_labeler_id()
    for labeler, name in ((ada, "Ada"), (ada, "Ada"), (grace, "Grace")):
        store.add(crop, "mask", "with_mask", labeler_id=labeler, labeler_name=name, consent=True)
    store.close()
    assert cli.main(["labels", "delete", "--name", "Ada", "--labels-dir", str(tmp_path / "labels")]) == 0
    assert json.loads(capsys.readouterr().out) == {"deleted": 2}
    assert [r["labeler_name"] for r in LabelStore(tmp_path / "labels").records()] == ["Grace"]


def test_labels_import_merges_valid_rows_and_names_the_lines_left_out(tmp_path, capsys):
    from gender_toys import write_toy_gender_real
    from maskface.labelset import LabelSet

    root = tmp_path / "data"
    rows = write_toy_gender_real(root, per_part=2)
    lines = [json.dumps(r) for r in rows] + [json.dumps(dict(rows[0], file="mask/train/with_mask/gone.jpg"))]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    dataset = tmp_path / "gender-real"
    code = cli.main(["labels", "import", str(tmp_path / "in.jsonl"), "--dataset", str(dataset), "--root", str(root)])
    out, err = capsys.readouterr()
    assert code == 2 and json.loads(out)["added"] == len(rows) and "line 9: no photo" in err
    assert len(LabelSet.load(dataset).rows) == len(rows) and (dataset / "README.md").is_file()
    kept = {(r["file"], r["labeler"], r["time"], r["suggestion"], r["suggestion_score"]) for r in LabelSet.load(dataset).rows}
    assert kept == {(r["file"], r["labeler"], r["time"], r["suggestion"], r["suggestion_score"]) for r in rows}


def test_labels_export_writes_the_labels_of_shared_photos_as_rows(tmp_path, capsys):
    from maskface.face import Prediction
    from maskface.labels import LabelStore, new_labeler_id
    from maskface.labelset import check_row

    store, me = LabelStore(tmp_path / "labels"), new_labeler_id()
    crop = np.full((40, 40, 3), 120, np.uint8)
    store.add(crop, "gender", "female", labeler_id=me, consent=True, labeler_name="Ada", prediction=Prediction("male", 0.8),
              source_file="mask/train/without_mask/a.jpg", box=[3, 4, 30, 31])
    store.add(crop, "gender", "male", labeler_id=me, consent=True)  # an upload: no shared photo
    (record, _) = store.records()
    out = tmp_path / "rows.jsonl"
    code = cli.main(["labels", "export", "--labels-dir", str(tmp_path / "labels"), "--out", str(out)])
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert code == 0 and "1 gender label(s) of uploads" in capsys.readouterr().err
    assert row == check_row(row) and (row["file"], row["label"], row["box"]) == ("mask/train/without_mask/a.jpg", "female", [3.0, 4.0, 30.0, 31.0])
    assert (row["labeler"], row["time"], row["suggestion"], row["suggestion_score"]) == ("Ada", record["created_at"], "male", 0.8)
    cli.main(["labels", "export", "--labels-dir", str(tmp_path / "labels"), "--labeler", "maskface team", "--out", str(out)])
    assert json.loads(out.read_text())["labeler"] == "maskface team"
