"""Several labelers per face, through the API: k = 3 labelers, agreement, small faces, disagreement order."""

from __future__ import annotations

import dataclasses
import shutil
import socket
from types import SimpleNamespace

import pytest
from gradio_client import Client

from maskface.app.common import EXAMPLES_DIR
from maskface.labels import new_labeler_id

K = 3
FOLDER, OTHER = "crowd", "crowd-2"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def crowd(app_settings, tmp_path_factory):
    """The app with MASKFACE_LABELERS_PER_FACE=3 and a server folder of three faces to label."""
    from maskface.app import Services, build_app, launch

    data = tmp_path_factory.mktemp("crowd-data")
    (data / "unlabelled" / FOLDER).mkdir(parents=True)
    for photo in ("collage-two-faces.jpg", "astronaut.jpg"):
        shutil.copy(EXAMPLES_DIR / photo, data / "unlabelled" / FOLDER / photo)
    (data / "unlabelled" / OTHER).mkdir()
    for photo in ("grace_hopper.jpg", "grace_hopper-masked-simulated.jpg", "astronaut-masked-simulated.jpg"):
        shutil.copy(EXAMPLES_DIR / photo, data / "unlabelled" / OTHER / photo)
    settings = dataclasses.replace(
        app_settings, data_dir=data, unlabelled_dir=data / "unlabelled", temp_dir=data / "temp",
        gallery=data / "gallery", labels_dir=data / "labels", port=free_port(), labelers_per_face=K,
        labels_per_minute=1000,
    )
    services = Services(settings)
    demo = build_app(settings, services)
    launch(demo, settings, services, prevent_thread_lock=True, quiet=True)
    yield SimpleNamespace(services=services, client=lambda: Client(f"http://127.0.0.1:{settings.port}/", verbose=False))
    demo.close()
    services.close()


def build(client, labeler: str, order: str = "confidence", folder: str = FOLDER) -> tuple[str, str]:
    """``labeler``'s queue of a server folder: (the info line, the first item id)."""
    _, info, _, item = client.predict([], folder, "gender", labeler, order, api_name="/queue")
    return info, item


def label_all(client, labeler: str, answers: list[str], folder: str = FOLDER) -> int:
    """Label every face of ``labeler``'s new queue with ``answers`` in turn; how many faces it held."""
    info, item = build(client, labeler, folder=folder)
    done = 0
    while item:
        _, _, item = client.predict(item, "gender", answers[done], "", labeler, True, api_name="/label")
        done += 1
    return done


def test_each_face_leaves_the_queue_after_three_different_labelers(crowd):
    from maskface.progress import progress

    client = crowd.client()
    ann, bob, cy, dee = (new_labeler_id() for _ in range(4))
    assert label_all(client, ann, ["female", "female", "female"]) == 3
    # nobody is offered the same face twice
    info, item = build(client, ann)
    assert item == "" and "already labelled by you" not in info  # the message is a toast; the queue is empty
    assert label_all(client, bob, ["female", "male", "female"]) == 3
    # two labels each: the faces are still offered to a third labeler, not yet to nobody
    assert label_all(client, cy, ["male", "male", "female"]) == 3
    assert build(client, dee)[1] == ""  # three different labelers each: the faces left the queue

    records = crowd.services.labels.records()
    assert len(records) == 9 and len({r["crop_sha256"] for r in records}) == 3
    report = progress(records).to_dict()["per_task"]["gender"]
    # By hand: every face has 3 labels; the queue order is the same for all three (least confident first), so
    # face 1: f f m -> P = 2/6, face 2: f m m -> 2/6, face 3: f f f -> 1; P-bar = (1/3 + 1/3 + 1) / 3 = 5/9.
    # Shares: female 6/9, male 3/9 -> P_e = 36/81 + 9/81 = 5/9; kappa = (5/9 - 5/9) / (1 - 5/9) = 0: chance level.
    assert report["percent_agreement"] == pytest.approx(5 / 9)
    assert report["fleiss_kappa"] == pytest.approx(0.0, abs=1e-9)
    assert len(report["disagreements"]) == 2


def test_faces_where_labelers_disagree_come_first_when_asked(crowd):
    client = crowd.client()
    ann, bob, cy = (new_labeler_id() for _ in range(3))
    assert label_all(client, ann, ["female"] * 3, folder=OTHER) == 3
    # everyone's queue is least confident first: bob disputes the last, most confident face
    assert label_all(client, bob, ["female", "female", "male"], folder=OTHER) == 3
    _, plain = build(client, cy, folder=OTHER)
    plain_face = crowd.services.queues.item(cy, plain, "gender").digest
    _, disputed = build(client, cy, order="disagreement", folder=OTHER)
    disputed_face = crowd.services.queues.item(cy, disputed, "gender").digest
    labels = crowd.services.labels.labelers_by_face("gender")
    assert set(labels[disputed_face].values()) == {"female", "male"}
    assert plain_face != disputed_face  # least confident first begins with another face


def test_faces_too_small_to_judge_are_left_out(crowd, monkeypatch):
    client = crowd.client()
    monkeypatch.setattr(crowd.services, "settings", dataclasses.replace(crowd.services.settings, label_min_face=10_000))
    info, item = build(client, new_labeler_id())
    assert item == ""
