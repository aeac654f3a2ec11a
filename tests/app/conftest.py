"""The app served in-process on tiny models, and a gradio_client talking to it."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from maskface.app.common import EXAMPLES_DIR

#: The tiny identity model's threshold for these tests: its random projection gives other faces lower scores.
TINY_THRESHOLD = 0.9


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def closed_port() -> int:
    """A local port nothing listens on (connections to it are refused)."""
    return free_port()


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


@pytest.fixture(scope="session")
def app_settings(tiny_models, tmp_path_factory):
    from maskface.app import Settings

    folder = tmp_path_factory.mktemp("app-data")
    (folder / "unlabelled" / "batch-1").mkdir(parents=True)
    shutil.copy(EXAMPLES_DIR / "astronaut.jpg", folder / "unlabelled" / "batch-1" / "astronaut.jpg")
    return Settings(
        mask_model=(str(tiny_models["mask"]), str(tiny_models["mask-other"])),
        gender_model=(str(tiny_models["gender"]),),
        identity_model=str(tiny_models["identity"]),
        gallery=folder / "gallery",
        labels_dir=folder / "labels",
        unlabelled_dir=folder / "unlabelled",
        port=free_port(),
    )


@dataclass
class Served:
    """A running app: its Blocks, services and URL."""

    demo: object
    services: object
    url: str

    def client(self):
        from gradio_client import Client

        return Client(self.url, verbose=False)


@pytest.fixture(scope="session")
def served(app_settings) -> Iterator[Served]:
    """The app, launched in this process on a free port for the whole session."""
    from maskface.app import Services, build_app, launch

    services = Services(app_settings)
    demo = build_app(app_settings, services)
    launch(demo, app_settings, prevent_thread_lock=True, quiet=True)
    yield Served(demo, services, f"http://127.0.0.1:{app_settings.port}/")
    demo.close()
    services.labels.close()


@pytest.fixture(scope="session")
def client(served):
    return served.client()


@pytest.fixture()
def example():
    from gradio_client import handle_file

    return lambda name: handle_file(str(EXAMPLES_DIR / name))


@pytest.fixture()
def tab(served):
    """The Quick labeling tab built on the served app's services, its handlers called directly."""
    import gradio as gr

    from maskface.app.labeling_tab import LabelingTab

    with gr.Blocks() as demo:
        tab = LabelingTab(served.services)
        tab.build(demo)
    return tab
