"""The Quick labeling tab: its API (queue, label, delete_contributions) and the key actions of one labeler's session.

Run locally, as here, the labeler is the browser's random id (the ``labeler_id`` argument of the API).
Signed-in labelers and anonymous ones on a Space: tests/app/test_space_access.py and tests/e2e.
"""

from __future__ import annotations

import json
import threading
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
from gradio_client.exceptions import AppError

from maskface.app.common import EXAMPLES_DIR
from maskface.app.labeling_tab import LabelingTab, Session
from maskface.app.limits import RateLimit
from maskface.image import load_image
from maskface.labels import new_labeler_id

NO_PROGRESS = SimpleNamespace(tqdm=lambda items, **_: items)


def records(folder) -> list[dict]:
    path = folder / "metadata.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def queue(client, example, me: str, photo: str = "collage-two-faces.jpg", task: str = "mask") -> tuple:
    """Build ``me``'s queue from one example photo: (crop, info, name, first item id)."""
    return client.predict([example(photo)], "(no folder)", task, me, api_name="/queue")


def test_the_queue_shows_the_least_confident_face_first(client, example):
    crop, info, name, item = queue(client, example, new_labeler_id())
    view = load_image(crop)  # the face large, and beside it its photo with the face highlighted
    assert view.shape[0] == 320 and view.shape[1] > 320
    assert (np.abs(view[:, 330:].astype(int) - (255, 196, 0)).sum(axis=2) == 0).any()
    assert info.startswith("Face 1 of 2 from collage-two-faces.jpg: the model says")
    assert name == "" and len(item) == 32


def test_the_queue_reads_a_server_folder(client):
    _, info, _, _ = client.predict([], "batch-1", "gender", new_labeler_id(), api_name="/queue")
    assert info.startswith("Face 1 of 1 from astronaut.jpg")


def test_the_queue_needs_photos_and_a_labeler(client, example):
    with pytest.raises(AppError, match="Upload photos"):
        client.predict([], "(no folder)", "mask", new_labeler_id(), api_name="/queue")
    with pytest.raises(AppError, match="no labeler id yet: reload the page"):
        client.predict([example("astronaut.jpg")], "(no folder)", "mask", "../x", api_name="/queue")


def test_labels_land_in_the_dataset_folder_and_reload_with_datasets(client, example, app_settings):
    import datasets

    me = new_labeler_id()
    _, _, _, item = queue(client, example, me)
    first, count, item = client.predict(item, "mask", "without_mask", "Ada", me, True, api_name="/label")
    assert count == 1 and item  # the queue's second face comes next
    second, count, item = client.predict(item, "mask", "with_mask", "", me, True, api_name="/label")
    assert count == 2 and second != first and item == ""  # the last face
    mine = {r["id"]: r for r in records(app_settings.labels_dir) if r["labeler_id"] == me}
    assert mine[first]["label"] == "without_mask" and mine[first]["labeler_name"] == "Ada" and mine[first]["consent"]
    assert mine[second]["labeler_name"] is None
    assert all((app_settings.labels_dir / r["file_name"]).is_file() for r in mine.values())
    rows = datasets.load_dataset("imagefolder", data_dir=str(app_settings.labels_dir), split="train")
    loaded = {row["id"]: row for row in rows if row["labeler_id"] == me}
    assert loaded[first]["label"] == "without_mask" and loaded[first]["image"].size == (224, 224)


@pytest.mark.parametrize(
    ("task", "label", "consent", "message"),
    [
        ("mask", "with_mask", False, "consent"),
        ("mask", "female", True, "not a mask label"),
        ("gender", "female", True, "your queue was built for mask"),
    ],
)
def test_refused_labels_are_clear_and_store_nothing(client, example, app_settings, task, label, consent, message):
    me = new_labeler_id()
    _, _, _, item = queue(client, example, me)
    before = records(app_settings.labels_dir)
    with pytest.raises(AppError, match=message):
        client.predict(item, task, label, "", me, consent, api_name="/label")
    assert records(app_settings.labels_dir) == before


def test_an_identity_label_needs_a_name(client, example, app_settings):
    me = new_labeler_id()
    _, _, _, item = queue(client, example, me, "astronaut.jpg", "identity")
    with pytest.raises(AppError, match="not a usable name"):
        client.predict(item, "identity", "", "", me, True, api_name="/label")


def test_a_label_is_given_only_to_a_face_the_server_queued_for_that_labeler(client, example, app_settings, tmp_path):
    me, someone = new_labeler_id(), new_labeler_id()
    _, _, _, theirs = queue(client, example, someone)
    before = records(app_settings.labels_dir)
    for item in ("0" * 32, theirs, str(EXAMPLES_DIR / "astronaut.jpg"), ""):  # made up, another's, a path, none
        with pytest.raises(AppError, match="not in your labeling queue"):
            client.predict(item, "mask", "with_mask", "", me, True, api_name="/label")
    assert records(app_settings.labels_dir) == before
    _, _, _, mine = queue(client, example, me)  # a new queue replaces the old: its items are gone
    _, _, _, again = queue(client, example, me)
    with pytest.raises(AppError, match="not in your labeling queue"):
        client.predict(mine, "mask", "with_mask", "", me, True, api_name="/label")
    client.predict(again, "mask", "with_mask", "", me, True, api_name="/label")


def test_labels_per_minute_are_limited(served, client, example, app_settings, monkeypatch):
    monkeypatch.setattr(served.services, "label_rate", RateLimit(2))
    me = new_labeler_id()
    _, _, _, item = queue(client, example, me)
    _, _, item = client.predict(item, "mask", "with_mask", "", me, True, api_name="/label")
    _, count, item = client.predict(item, "mask", "with_mask", "", me, True, api_name="/label")
    _, _, _, item = queue(client, example, me, photo="astronaut.jpg")  # a face not labelled yet by me
    before = records(app_settings.labels_dir)
    with pytest.raises(AppError, match=r"You gave 2 labels in the last minute, the limit per labeler: wait \d+ s"):
        client.predict(item, "mask", "with_mask", "", me, True, api_name="/label")
    assert records(app_settings.labels_dir) == before and count == 2
    other = new_labeler_id()  # another labeler is not held back
    _, _, _, item = queue(client, example, other)
    client.predict(item, "mask", "with_mask", "", other, True, api_name="/label")


def test_two_labelers_at_once_lose_nothing(served, example, app_settings):
    labelers = [new_labeler_id(), new_labeler_id()]
    answers: dict[str, list[str]] = {me: [] for me in labelers}

    def label(me: str) -> None:
        client = served.client()
        for photo in ("collage-two-faces.jpg", "astronaut.jpg", "grace_hopper.jpg"):  # 2 + 1 + 1 faces
            _, _, _, item = queue(client, example, me, photo=photo)
            while item:
                record_id, _, item = client.predict(item, "mask", "without_mask", "", me, True, api_name="/label")
                answers[me].append(record_id)

    threads = [threading.Thread(target=label, args=(me,)) for me in labelers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = records(app_settings.labels_dir)
    for me in labelers:
        assert len(answers[me]) == 4
        assert sorted(r["id"] for r in stored if r["labeler_id"] == me) == sorted(answers[me])
        assert served.services.labels.count(me) == 4


def test_deleting_my_contributions_leaves_everyone_elses(client, example, app_settings):
    import datasets

    me, someone = new_labeler_id(), new_labeler_id()
    given = {}
    for labeler, name in ((me, "Ada"), (someone, "Ada")):
        _, _, _, item = queue(client, example, labeler)
        while item:
            record_id, _, item = client.predict(item, "mask", "with_mask", name, labeler, True, api_name="/label")
            given[record_id] = labeler
    with pytest.raises(AppError, match="Tick the box to confirm"):
        client.predict(me, False, api_name="/delete_contributions")
    assert {r["id"] for r in records(app_settings.labels_dir)} >= set(given)  # nothing deleted yet

    message, count, confirmed = client.predict(me, True, api_name="/delete_contributions")
    assert message == "Deleted 2 label(s) given under this browser."
    assert (count, confirmed) == (0, False)
    left = {r["id"] for r in records(app_settings.labels_dir)}
    for record_id, labeler in given.items():  # labels under the same name by another labeler stay
        assert (record_id in left) == (labeler != me)
        assert (app_settings.labels_dir / f"crops/{record_id}.png").is_file() == (labeler != me)
    rows = datasets.load_dataset("imagefolder", data_dir=str(app_settings.labels_dir), split="train")
    assert {row["id"] for row in rows} & set(given) == {r for r, labeler in given.items() if labeler != me}

    message, count, _ = client.predict(me, True, api_name="/delete_contributions")
    assert (message, count) == ("Deleted 0 label(s) given under this browser.", 0)


# --- one session's key actions, called as the buttons call them ------------------------------


@pytest.fixture()
def tab(served):
    with gr.Blocks() as demo:
        tab = LabelingTab(served.services)
        tab.browser_state()
        tab.build(demo)
    return tab


@pytest.fixture()
def me() -> str:
    return new_labeler_id()


@pytest.fixture()
def session(served, tab, me) -> Session:
    images = [str(EXAMPLES_DIR / "collage-two-faces.jpg")]
    return tab.queue(images, None, "mask", me, None, None, progress=NO_PROGRESS)[0]


def press(tab: LabelingTab, action: str, session: Session, me: str, name: str = "", consent: bool = True):
    """What a key does: the act event with the button of ``action`` as its target."""
    button = next(id_ for id_, a in tab.answer_buttons.items() if a == action)
    event = gr.EventData(SimpleNamespace(elem_id=button), None)
    return tab.act(session, session.task, name, "Ada", me, consent, 0, None, event)


def test_keys_answer_skip_undo_and_accept(tab, session, served, me):
    labels, queues = served.services.labels, served.services.queues
    scores = [queues.item(me, i, "mask").predictions["mask"].score for i in session.items]
    assert scores == sorted(scores)
    session, _, info, _, _, count = press(tab, "with_mask", session, me)
    assert (session.position, count) == (1, 1) and info.startswith("Face 2 of 2")
    (record,) = [r for r in labels.records() if r["labeler_id"] == me]
    assert record["label"] == "with_mask" and record["predicted_label"] in ("with_mask", "without_mask")
    session, crop, info, _, item, count = press(tab, "undo", session, me)
    assert (session.position, count) == (0, 0) and crop is not None and labels.count(me) == 0
    assert item == session.items[0]
    session, *_ = press(tab, "skip", session, me)
    session, crop, info, _, item, count = press(tab, "accept", session, me)
    assert count == 1 and crop is None and item == "" and info.startswith("**Queue done**: 1 labelled, 1 skipped")
    (record,) = [r for r in labels.records() if r["labeler_id"] == me]
    assert record["label"] == record["predicted_label"]  # Enter accepted the model's answer


def test_deleting_my_contributions_leaves_nothing_to_undo(tab, session, served, me):
    session, *_ = press(tab, "with_mask", session, me)
    assert session.history and served.services.labels.count(me) == 1
    with pytest.raises(gr.Error, match="Tick the box"):
        tab.delete(me, False, session, None)
    assert served.services.labels.count(me) == 1
    message, count, confirmed, session = tab.delete(me, True, session, None)
    assert message.startswith("Deleted 1 label(s)") and (count, confirmed, session.history) == (0, False, [])
    assert session.position == 1  # the queue goes on where it was


def test_without_consent_a_key_stores_nothing(tab, session, served, me):
    with pytest.raises(gr.Error, match="consent"):
        press(tab, "without_mask", session, me, consent=False)
    assert served.services.labels.count(me) == 0


def test_identity_takes_the_typed_name(tab, served, me):
    session = tab.queue([str(EXAMPLES_DIR / "astronaut.jpg")], None, "identity", me, None, None, NO_PROGRESS)[0]
    with pytest.raises(gr.Error, match="Type the person's name"):
        press(tab, "accept", session, me)
    session, *_ = press(tab, "accept", session, me, name="Eileen Collins")
    (record,) = [r for r in served.services.labels.records() if r["labeler_id"] == me]
    assert (record["task"], record["label"]) == ("identity", "Eileen Collins")


def test_an_empty_queue_asks_for_photos(tab, me):
    with pytest.raises(gr.Error, match="No face to label"):
        press(tab, "with_mask", Session(), me)
