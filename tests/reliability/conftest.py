"""Fixtures for the reliability tests: a Hub that is down, a Hub that is back (a local mirror), a label writer,
images full of faces.

The ``--run-load`` flag of the load test is declared in ``tests/conftest.py``, so it works from the repo root too.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

ROOT = Path(__file__).resolve().parents[2]
WRITER = Path(__file__).with_name("label_writer.py")


@pytest.fixture()
def offline_api(unused_port) -> HfApi:
    """A real ``HfApi`` whose endpoint is a closed local port: every Hub call fails as in an outage."""
    return HfApi(endpoint=f"http://127.0.0.1:{unused_port}", token="hf_test")


class MirrorHub:
    """Stands in for the Hub once it is back: commits to a dataset repo land in a local folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.repos: list[tuple[str, str | None, bool | None]] = []
        self.commits: list[str] = []
        self.squashes = 0
        self.downloads = 0

    def bring_back(self, api: HfApi, monkeypatch: pytest.MonkeyPatch) -> None:
        """Route ``api``'s repo, download, commit and squash calls to this mirror."""
        for name in ("create_repo", "snapshot_download", "create_commit", "super_squash_history"):
            monkeypatch.setattr(api, name, getattr(self, name))

    def create_repo(self, repo_id: str, *, repo_type=None, private=None, exist_ok=False, **_) -> types.SimpleNamespace:
        self.repos.append((repo_id, repo_type, private))
        return types.SimpleNamespace(repo_id=repo_id)

    def snapshot_download(self, repo_id: str, *, repo_type=None, local_dir=None, **_) -> str:
        assert repo_type == "dataset" and local_dir is not None
        shutil.copytree(self.folder, local_dir, dirs_exist_ok=True)
        self.downloads += 1
        return str(local_dir)

    def create_commit(self, repo_id: str, operations, *, commit_message: str, repo_type=None, **_) -> None:
        assert repo_type == "dataset"
        for op in operations:
            target = self.folder / op.path_in_repo
            if isinstance(op, CommitOperationDelete):
                target.unlink()
            else:
                assert isinstance(op, CommitOperationAdd)
                source = op.path_or_fileobj
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(source if isinstance(source, bytes) else Path(source).read_bytes())
        self.commits.append(commit_message)

    def super_squash_history(self, repo_id: str, *, repo_type=None, **_) -> None:
        self.squashes += 1

    def files(self) -> set[str]:
        return {str(p.relative_to(self.folder)) for p in self.folder.rglob("*") if p.is_file()}


@pytest.fixture()
def hub_mirror(tmp_path) -> MirrorHub:
    folder = tmp_path / "hub-mirror"
    folder.mkdir()
    return MirrorHub(folder)


@pytest.fixture()
def start_writer():
    """Start a separate process adding ``count`` labels (0: until killed) to a folder; it prints each acknowledged id."""
    started: list[subprocess.Popen] = []

    def start(folder: Path, labeler_id: str, count: int) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, str(WRITER), str(folder), labeler_id, str(count)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate()


@pytest.fixture(scope="session")
def face_grid(tmp_path_factory):
    """``face_grid(side)``: a JPEG of side x side real faces (the example photos' two faces, 128 px each, tiled)."""
    from PIL import Image

    from maskface.app.common import EXAMPLES_DIR
    from maskface.detect import make_detector
    from maskface.image import load_image

    folder = tmp_path_factory.mktemp("face-grids")
    detector = make_detector("auto")
    faces = []
    for name in ("astronaut.jpg", "grace_hopper.jpg"):
        pixels = load_image(EXAMPLES_DIR / name)
        x, y, w, h = detector.detect(pixels)[0].box
        half, cx, cy = max(w, h) * 0.8, x + w / 2, y + h / 2
        box = (round(cx - half), round(cy - half), round(cx + half), round(cy + half))
        faces.append(Image.fromarray(pixels).crop(box).resize((128, 128)))

    def grid(side: int) -> Path:
        path = folder / f"grid-{side}.jpg"
        if not path.exists():
            image = Image.new("RGB", (128 * side, 128 * side), (128, 128, 128))
            for i in range(side * side):
                image.paste(faces[i % 2], ((i % side) * 128, (i // side) * 128))
            image.save(path, quality=90)
        return path

    return grid
