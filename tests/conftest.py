"""Shared fixtures: tiny saved models for fast tests, the shared real data, and ``app.py`` run as a Space would."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
#: The tiny identity model's threshold for these tests: its random projection gives other faces lower scores.
TINY_THRESHOLD = 0.9


def pytest_addoption(parser: pytest.Parser) -> None:
    # here, not in tests/reliability/: pytest reads options before it loads the conftest files of sub-folders
    parser.addoption("--run-load", action="store_true", help="run the 60 s load test of the app's labelling API")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``load`` (see pytest.ini) skip unless ``--run-load`` is given."""
    if config.getoption("--run-load"):
        return
    skip = pytest.mark.skip(reason="load test: run with --run-load")
    for item in items:
        if item.get_closest_marker("load"):
            item.add_marker(skip)



@pytest.fixture()
def configure(monkeypatch):
    """Call with settings to change (``configure(hub_mirror=path)``) for one test; the library reads them
    through :func:`maskface.config.settings`, and they are restored afterwards."""
    import dataclasses

    from maskface import config

    def change(**changes):
        monkeypatch.setattr(config, "_current", dataclasses.replace(config.settings(), **changes))
        return config.settings()

    return change


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data beside the checkout; tests that need it skip, saying why, when it is absent."""
    if not (SHARED_DATA / "mask").is_dir() or not (SHARED_DATA / "lfw").is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (the ../shared folder beside the checkout)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shipped_mask_models(shared_data) -> tuple[str, str]:
    """The two shipped mask models; skip when a checkout lacks them."""
    from maskface.store import shipped_models

    names = ("mask-mobilenetv2", "mask-cnn")
    missing = set(names) - set(shipped_models())
    if missing:
        pytest.skip(f"shipped models missing in models/: {', '.join(sorted(missing))}")
    return names


def save_tiny_model(task: str, folder: Path) -> Path:
    """A randomly initialised 32x32 CNN for ``task``, saved like a shipped model (fast to load and run)."""
    import keras

    from training.architectures import build_model
    from maskface.crops import CropSpec
    from maskface.store import ModelSpec, save_model
    from maskface.tasks import TASKS

    keras.utils.set_random_seed(0)
    model = build_model("cnn", 2, 32, weights=None)
    spec = ModelSpec(task=task, arch="cnn", labels=list(TASKS[task].labels), crop=CropSpec(32, 1.3))
    return save_model(model, spec, folder)


def save_tiny_identity_model(folder: Path, embedding_id: str = "tiny-identity") -> Path:
    """A randomly initialised 32x32 embedding model (16-D, unit length), saved like a shipped identity model."""
    import keras
    from keras import layers

    from maskface.crops import CropSpec
    from maskface.store import ModelSpec, save_model

    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    # centred pixels and a linear conv: a random projection, so different pictures get distant embeddings
    x = layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    x = layers.Conv2D(8, 3)(x)
    x = layers.Flatten()(x)
    outputs = layers.UnitNormalization()(layers.Dense(16)(x))
    spec = ModelSpec(
        task="identity", arch="tiny", labels=[], crop=CropSpec(32, 1.2), training={"embedding_id": embedding_id}
    )
    return save_model(keras.Model(inputs, outputs), spec, folder)


@pytest.fixture(scope="session")
def tiny_identity_model(tmp_path_factory) -> Path:
    return save_tiny_identity_model(tmp_path_factory.mktemp("models") / "tiny-identity")


@pytest.fixture(scope="session")
def tiny_mask_model(tmp_path_factory) -> Path:
    return save_tiny_model("mask", tmp_path_factory.mktemp("models") / "tiny-mask")


@pytest.fixture(scope="session")
def tiny_gender_model(tmp_path_factory) -> Path:
    return save_tiny_model("gender", tmp_path_factory.mktemp("models") / "tiny-gender")


@pytest.fixture()
def face_photo() -> np.ndarray:
    """A synthetic 64x48 RGB image with structure (gradients), enough for shape-level tests."""
    y, x = np.mgrid[0:64, 0:48]
    return np.stack([x * 5, y * 4, (x + y) * 2], axis=-1).astype(np.uint8)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory, tiny_mask_model, tiny_gender_model, tiny_identity_model) -> dict[str, Path]:
    """Two mask models (for the side-by-side choice), a gender and a calibrated identity model, all tiny."""
    from maskface.store import read_spec, write_spec

    root = tmp_path_factory.mktemp("app-models")
    identity = root / "identity"
    shutil.copytree(tiny_identity_model, identity)
    spec = read_spec(identity)
    spec.metrics["ID-M"] = {"unknown_threshold": TINY_THRESHOLD}
    write_spec(spec, identity)
    return {
        "mask": tiny_mask_model,
        "mask-other": Path(shutil.copytree(tiny_mask_model, root / "mask-other")),
        "gender": tiny_gender_model,
        "identity": identity,
    }


# --- app.py in its own process ---------------------------------------------------------------


def free_port() -> int:
    """A local port nothing listens on (right after this call)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def unused_port() -> int:
    """A local port nothing listens on (connections to it are refused)."""
    return free_port()


@pytest.fixture(scope="session")
def port_finder():
    """:func:`free_port`, for session fixtures."""
    return free_port


class AppProcess:
    """``python app.py`` serving on a free local port, its folders in ``folder``; as a Space when ``space``.

    As a Space, the process gets what Hugging Face gives a Space with ``hf_oauth``
    (``SYSTEM=spaces``, ``SPACE_ID``, the OAuth client's id, secret and scopes),
    with the OpenID provider on a closed local port: nothing reaches the Hub.
    Signing in is what Gradio's ``/login/callback`` does after the Hub's OAuth
    flow: it stores the user's profile in Starlette's session cookie, signed with
    a key derived from the OAuth client secret. :meth:`signed_in` writes that
    cookie for a username, so the app's real ``gr.OAuthProfile`` injection runs;
    the app itself has no test-only code path.
    """

    def __init__(self, folder: Path, env: dict[str, str], space: bool) -> None:
        self.folder, self.port, self.space = folder, free_port(), space
        self.data, self.temp = folder / "data", folder / "temp"
        self.oauth_secret = secrets.token_hex(16)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("MASKFACE_", "SPACE_", "OAUTH_"))},
            "GRADIO_SERVER_PORT": str(self.port),
            "GRADIO_ANALYTICS_ENABLED": "False",
            "HF_HUB_OFFLINE": "1",
            "MASKFACE_DATA_DIR": str(self.data),
            "MASKFACE_TEMP_DIR": str(self.temp),
            "MASKFACE_UNLABELLED_DIR": str(folder / "unlabelled"),
            **env,
        }
        self.env.pop("SYSTEM", None)
        if space:
            self.env.update(
                SYSTEM="spaces",
                SPACE_ID="maskface-tests/maskface",
                OAUTH_CLIENT_ID="maskface-tests",
                OAUTH_CLIENT_SECRET=self.oauth_secret,
                OAUTH_SCOPES="openid profile",
                OPENID_PROVIDER_URL=f"http://127.0.0.1:{free_port()}",
            )
        self.log = folder / "app.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self, timeout: float = 300) -> AppProcess:
        """Start the process and wait until it answers."""
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "app.py"], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while True:
            assert self.process.poll() is None, f"app.py exited: {self.log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"app.py did not start within {timeout:g} s"
            try:
                urllib.request.urlopen(self.url, timeout=5)
                return self
            except OSError:
                time.sleep(0.5)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Stop the process with ``sig``; its exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def signed_in(self, username: str, secret: str | None = None) -> dict[str, str]:
        """Request headers of ``username`` signed in with Hugging Face (the session cookie Gradio's login stores)."""
        import itsdangerous

        key = hashlib.sha256(((secret or self.oauth_secret) + "-v4").encode()).hexdigest()  # gradio.oauth's
        profile = {"preferred_username": username, "name": username, "profile": "", "picture": ""}
        info = {"access_token": "test", "scope": "openid profile", "expires_at": int(time.time()) + 3600}
        session = base64.b64encode(json.dumps({"oauth_info": {**info, "userinfo": profile}}).encode())
        return {"Cookie": "session=" + itsdangerous.TimestampSigner(key).sign(session).decode()}

    def client(self, username: str | None = None):
        """A gradio_client for an anonymous visitor, or for ``username`` signed in."""
        from gradio_client import Client

        return Client(self.url, verbose=False, headers=self.signed_in(username) if username else None)

    def rss(self) -> int:
        """The process's resident memory now, in bytes."""
        import psutil

        return psutil.Process(self.process.pid).memory_info().rss

    def logged(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="session")
def app_process(tmp_path_factory, tiny_models) -> Iterator:
    """Start ``app.py`` in its own process: ``app_process(space=..., **env)``, on tiny models unless ``env`` says.

    Every process started is stopped at the end of the session (tests stop theirs earlier).
    """
    started: list[AppProcess] = []

    def start(space: bool = False, tiny: bool = True, **env: str) -> AppProcess:
        folder = tmp_path_factory.mktemp("app-process")
        (folder / "unlabelled").mkdir()
        models = {
            "MASKFACE_MASK_MODEL": str(tiny_models["mask"]),
            "MASKFACE_GENDER_MODEL": str(tiny_models["gender"]),
            "MASKFACE_IDENTITY_MODEL": str(tiny_models["identity"]),
        }
        process = AppProcess(folder, {**(models if tiny else {}), **env}, space)
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.stop()
