"""Grid mode of the Quick labeling tab: a page of faces, flips, one key for the page, undo; its API label_page."""

from __future__ import annotations

import json
from types import SimpleNamespace

import gradio as gr
import pytest
from gradio_client.exceptions import AppError

from maskface.app.common import EXAMPLES_DIR
from maskface.app.grid import FLIP, PAGE_KEYS, PAGE_SIZE
from maskface.labels import new_labeler_id

NO_PROGRESS = SimpleNamespace(tqdm=lambda items, **_: items)


def queue(tab, task, images=None, folder=None):
    return tab.queue(images or [], folder, task, progress=NO_PROGRESS)[0]


def mine(served, me):
    return [r for r in served.services.labels.records() if r["labeler_id"] == me]


def test_a_page_shows_every_face_with_its_key_answer_and_suggestion(tab):
    session = queue(tab, "gender", [str(EXAMPLES_DIR / "collage-two-faces.jpg")])
    session, page, gallery, info = tab.grid.open(session)
    guesses = [item.predictions["gender"] for item in session.items]
    assert page.answers == [g.label for g in guesses] and len(page.answers) == len(session.items) <= PAGE_SIZE
    captions = [item["caption"] for item in gallery.value]
    assert captions[0].startswith(f"[{PAGE_KEYS[0]}] {guesses[0].label} - model: {guesses[0].label}")
    assert "Enter** accepts the page" in info


def test_flips_then_one_accept_store_the_whole_page_with_the_suggestions_shown(tab, served):
    me = new_labeler_id()
    session = queue(tab, "gender", [str(EXAMPLES_DIR / "collage-two-faces.jpg")])
    session, page, *_ = tab.grid.open(session)
    session, page, *_ = tab.grid.flip(session, page, 1)
    flipped = FLIP[session.items[1].predictions["gender"].label]
    assert page.answers[1] == flipped
    session, page, gallery, info, count = tab.grid.accept(session, page, "Ada", me, True, 0)
    records = mine(served, me)
    assert count == 2 and [r["label"] for r in records] == [session.items[0].predictions["gender"].label, flipped]
    assert [r["predicted_label"] for r in records] == [item.predictions["gender"].label for item in session.items]
    assert session.position == 2 and info.startswith("**Queue done**: 1 page(s)")
    assert "source_file" not in records[0]  # an upload: only its crop is kept
    session, page, gallery, info, count = tab.grid.undo(session, page, me, count)
    assert count == 0 and not mine(served, me) and session.position == 0 and page.answers[1] == flipped


def test_a_server_photos_labels_keep_the_photo_and_box(tab, served):
    me = new_labeler_id()
    session = queue(tab, "gender", folder="batch-1")
    session, page, *_ = tab.grid.open(session)
    tab.grid.accept(session, page, "", me, True, 0)
    (record,) = mine(served, me)
    assert record["source_file"] == "batch-1/astronaut.jpg" and len(record["box"]) == 4


def test_no_consent_no_labels_and_nothing_of_the_page_is_stored(tab, served):
    me = new_labeler_id()
    session = queue(tab, "mask", [str(EXAMPLES_DIR / "collage-two-faces.jpg")])
    session, page, *_ = tab.grid.open(session)
    with pytest.raises(gr.Error, match="consent"):
        tab.grid.accept(session, page, "", me, False, 0)
    assert not mine(served, me) and session.position == 0


def test_the_label_page_api_stores_each_crop_with_its_answer(client, example, served):
    me = new_labeler_id()
    crops = [{"image": example("astronaut.jpg"), "caption": None}, {"image": example("grace_hopper.jpg"), "caption": None}]
    suggestions = json.dumps([{"label": "male", "score": 0.9}, None])
    ids, count = client.predict(crops, "gender", '["female", "unsure"]', suggestions, "", me, True, api_name="/label_page")
    records = mine(served, me)
    assert json.loads(ids) == [r["id"] for r in records] and count == 2
    assert [(r["label"], r["predicted_label"], r["usable"]) for r in records] == [("female", "male", True), ("unsure", None, False)]
    with pytest.raises(AppError, match="one answer per face"):
        client.predict(crops, "gender", '["female"]', "null", "", me, True, api_name="/label_page")
    with pytest.raises(AppError, match="identity takes a typed name"):
        client.predict(crops, "identity", '["Ada", "Bo"]', "null", "", me, True, api_name="/label_page")
    assert len(mine(served, me)) == 2
