"""Grid mode of the Quick labeling tab: a page of the labeler's own queue, flips, one key for the page, undo; the API
endpoints page and label_page, which take queue item ids (never crops), with the one-face mode's checks."""

from __future__ import annotations

import json
from types import SimpleNamespace

import gradio as gr
import pytest
from gradio_client.exceptions import AppError

from maskface.app.common import EXAMPLES_DIR
from maskface.app.grid import PAGE_KEYS, PAGE_SIZE, Page
from maskface.app.labeling_tab import Session
from maskface.app.limits import RateLimit
from maskface.labels import FLIP, new_labeler_id

NO_PROGRESS = SimpleNamespace(tqdm=lambda items, **_: items)
COLLAGE = str(EXAMPLES_DIR / "collage-two-faces.jpg")


def build(tab, me: str, task: str, images: list[str] | None = None, folder: str | None = None) -> Session:
    """``me``'s queue, as the Build button makes it."""
    return tab.queue(images or [], folder, task, me, None, None, progress=NO_PROGRESS)[0]


def opened(tab, session: Session, me: str) -> tuple:
    return tab.grid.open(session, Page(), me, None)


def key(tab, letter: str, session: Session, page: Page, me: str) -> tuple:
    """What a face's key does: the flip event with that key's button as its target."""
    return tab.grid.flip(session, page, me, None, gr.EventData(SimpleNamespace(elem_id=f"grid-key-{letter}"), None))


def mine(served, me: str) -> list[dict]:
    return [r for r in served.services.labels.records() if r["labeler_id"] == me]


def guesses(served, me: str, session: Session) -> list[str]:
    return [served.services.queues.item(me, i, session.task).predictions[session.task].label for i in session.items]


def test_a_page_shows_the_next_faces_of_my_queue_with_key_answer_and_suggestion(tab, served, me):
    session = build(tab, me, "gender", [COLLAGE])
    session, page, gallery, info = opened(tab, session, me)
    said = guesses(served, me, session)
    assert page.answers == said and len(page.answers) == len(session.items) == 2 <= PAGE_SIZE
    captions = [item["caption"] for item in gallery.value]
    assert captions[0].startswith(f"[{PAGE_KEYS[0]}] {said[0]} - model: {said[0]} ")
    assert "Enter** accepts the page" in info


def test_flips_then_one_accept_store_the_page_with_the_suggestions_shown_and_undo_takes_it_back(tab, served, me):
    session = build(tab, me, "gender", [COLLAGE])
    session, page, *_ = opened(tab, session, me)
    said = guesses(served, me, session)
    session, page, gallery, _ = key(tab, "b", session, page, me)
    assert page.answers == [said[0], FLIP[said[1]]] and "(changed)" in gallery.value[1]["caption"]
    session, page, gallery, info, count = tab.grid.accept(session, page, "Ada", me, True, None)
    records = mine(served, me)
    assert count == 2 and [r["label"] for r in records] == [said[0], FLIP[said[1]]]
    assert [r["predicted_label"] for r in records] == said and {r["labeler_name"] for r in records} == {"Ada"}
    assert session.position == 2 and info.startswith("**Queue done**: 1 page(s)")
    assert "source_file" not in records[0]  # an upload: only its crop is kept
    session, page, gallery, info, count = tab.grid.undo(session, page, me, count, None)
    assert count == 0 and not mine(served, me) and session.position == 0 and page.answers == [said[0], FLIP[said[1]]]


def test_a_server_photos_labels_keep_the_photo_and_box_in_both_modes(tab, served, me):
    session = build(tab, me, "gender", folder="batch-1")
    session, page, *_ = opened(tab, session, me)
    session, page, *_ = tab.grid.accept(session, page, "", me, True, None)
    (record,) = mine(served, me)
    assert record["source_file"] == "batch-1/astronaut.jpg" and len(record["box"]) == 4
    tab.grid.undo(session, page, me, 1, None)  # the folder's face is offered to other labelers again
    (item_id,) = build(tab, me, "mask", folder="batch-1").items  # one face at a time: the same path
    box = [round(v, 1) for v in served.services.queues.item(me, item_id, "mask").box]
    record_id, *_ = tab.label(item_id, "mask", "with_mask", "", me, True, None, None)
    (record,) = mine(served, me)
    assert (record["source_file"], record["box"]) == ("batch-1/astronaut.jpg", box)
    served.services.labels.undo(record_id, me)


def test_without_consent_nothing_of_the_page_is_stored(tab, served, me):
    session = build(tab, me, "mask", [COLLAGE])
    session, page, *_ = opened(tab, session, me)
    with pytest.raises(gr.Error, match="consent"):
        tab.grid.accept(session, page, "", me, False, None)
    assert not mine(served, me) and session.position == 0


def test_a_page_is_stored_only_for_the_labeler_whose_queue_it_is(tab, served, me):
    session = build(tab, me, "mask", [COLLAGE])
    session, page, *_ = opened(tab, session, me)
    someone = new_labeler_id()
    with pytest.raises(gr.Error, match="not in your labeling queue"):
        tab.grid.accept(session, page, "", someone, True, None)
    assert not mine(served, me) and not mine(served, someone)


def test_the_page_api_shows_my_queue_and_label_page_stores_it(client, example, served, me):
    _, _, _, first = client.predict([example("collage-two-faces.jpg")], "(no folder)", "gender", me, api_name="/queue")
    tiles, ids, suggestions = client.predict(first, "gender", me, api_name="/page")
    ids, suggestions = json.loads(ids), json.loads(suggestions)
    assert ids[0] == first and len(ids) == len(tiles) == len(suggestions) == 2
    with pytest.raises(AppError, match="one answer per face"):
        client.predict(json.dumps(ids), "gender", '["female"]', "", me, True, api_name="/label_page")
    with pytest.raises(AppError, match="identity takes a typed name"):
        client.predict(json.dumps(ids), "identity", '["Ada", "Bo"]', "", me, True, api_name="/label_page")
    assert not mine(served, me)
    record_ids, count, after = client.predict(json.dumps(ids), "gender", '["female", "unsure"]', "", me, True, api_name="/label_page")
    records = mine(served, me)
    assert json.loads(record_ids) == [r["id"] for r in records] and count == 2 and after == ""
    assert [(r["label"], r["usable"]) for r in records] == [("female", True), ("unsure", False)]
    assert [r["predicted_label"] for r in records] == [s["label"] for s in suggestions]  # the server's, not the client's


def test_a_visitor_cannot_label_another_visitors_faces_nor_without_consent(client, example, served, me):
    someone = new_labeler_id()
    _, _, _, theirs = client.predict([example("collage-two-faces.jpg")], "(no folder)", "mask", someone, api_name="/queue")
    _, their_ids, _ = client.predict(theirs, "mask", someone, api_name="/page")
    before = served.services.labels.records()
    with pytest.raises(AppError, match="not in your labeling queue"):
        client.predict(theirs, "mask", me, api_name="/page")
    with pytest.raises(AppError, match="not in your labeling queue"):
        client.predict(their_ids, "mask", '["with_mask", "with_mask"]', "", me, True, api_name="/label_page")
    _, _, _, first = client.predict([example("collage-two-faces.jpg")], "(no folder)", "mask", me, api_name="/queue")
    _, ids, _ = client.predict(first, "mask", me, api_name="/page")
    with pytest.raises(AppError, match="consent"):
        client.predict(ids, "mask", '["with_mask", "with_mask"]', "", me, False, api_name="/label_page")
    assert served.services.labels.records() == before


def test_a_page_over_the_labelers_rate_limit_stores_nothing(client, example, served, me, monkeypatch):
    monkeypatch.setattr(served.services, "label_rate", RateLimit(2))
    _, _, _, first = client.predict([example("collage-two-faces.jpg")], "(no folder)", "mask", me, api_name="/queue")
    _, ids, _ = client.predict(first, "mask", me, api_name="/page")
    client.predict(first, "mask", "with_mask", "", me, True, api_name="/label")  # one of the two a minute allows
    with pytest.raises(AppError, match=r"These 2 labels would pass the limit of 2 labels a minute per labeler: wait \d+ s"):
        client.predict(ids, "mask", '["with_mask", "without_mask"]', "", me, True, api_name="/label_page")
    assert len(mine(served, me)) == 1


def test_on_a_space_an_anonymous_visitor_labels_no_page_unless_allowed(tab, served, me, monkeypatch):
    import dataclasses

    session = build(tab, me, "mask", [COLLAGE])
    _, ids, _ = tab.grid.page(session.items[0], "mask", me, None, None)
    monkeypatch.setattr(served.services, "settings", dataclasses.replace(served.services.settings, space_id="org/space"))
    with pytest.raises(gr.Error, match="Sign in with Hugging Face to label"):
        tab.grid.label_page(ids, "mask", '["with_mask", "with_mask"]', "", me, True, None, None)
    assert not mine(served, me)
    allowed = dataclasses.replace(served.services.settings, anonymous_labeling=True)
    monkeypatch.setattr(served.services, "settings", allowed)  # then under the browser's id, as one face is
    record_ids, count, _ = tab.grid.label_page(ids, "mask", '["with_mask", "with_mask"]', "", me, True, None, None)
    assert count == 2 and [r["id"] for r in mine(served, me)] == json.loads(record_ids)
