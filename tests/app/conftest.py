"""The app served in-process on tiny models (``tiny_models``, tests/conftest.py), and a gradio_client talking to it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from maskface.app.common import EXAMPLES_DIR


@pytest.fixture(scope="session")
def app_settings(tiny_models, tmp_path_factory, port_finder):
    from maskface.app import Settings

    folder = tmp_path_factory.mktemp("app-data")
    (folder / "unlabelled" / "batch-1").mkdir(parents=True)
    shutil.copy(EXAMPLES_DIR / "astronaut.jpg", folder / "unlabelled" / "batch-1" / "astronaut.jpg")
    return Settings(
        mask_model=(str(tiny_models["mask"]), str(tiny_models["mask-other"])),
        gender_model=(str(tiny_models["gender"]),),
        identity_model=str(tiny_models["identity"]),
        data_dir=folder,
        unlabelled_dir=folder / "unlabelled",
        temp_dir=folder / "temp",
        port=port_finder(),
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
    launch(demo, app_settings, services, prevent_thread_lock=True, quiet=True)
    yield Served(demo, services, f"http://127.0.0.1:{app_settings.port}/")
    demo.close()
    services.close()


@pytest.fixture(scope="session")
def client(served):
    return served.client()


@pytest.fixture()
def example():
    from gradio_client import handle_file

    return lambda name: handle_file(str(EXAMPLES_DIR / name))
