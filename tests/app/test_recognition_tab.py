"""The Recognition tab through its API: enrol, identify, list and remove people."""

from __future__ import annotations

import pytest
from gradio_client.exceptions import AppError


@pytest.fixture()
def enrolled(client, example):
    """Grace Hopper enrolled from her photo for one test, removed after it."""
    message, people = client.predict("Grace Hopper", [example("grace_hopper.jpg")], True, api_name="/enroll")
    assert message.startswith("Enrolled Grace Hopper from 1 photo(s)")
    (person,) = [row for row in people["data"] if row[0] == "Grace Hopper"]
    yield person
    client.predict(person[1], api_name="/remove")


def test_an_enrolled_person_is_named_and_a_stranger_is_unknown(client, example, enrolled):
    _, table = client.predict(example("grace_hopper.jpg"), api_name="/identify")
    assert table["headers"][:4] == ["face", "name", "similarity", "threshold"]
    (face,) = table["data"]
    assert face[1] == "Grace Hopper" and face[2] > 0.99 and face[2] >= face[3]
    assert face[5].startswith("Grace Hopper")  # the candidates, best first
    _, table = client.predict(example("astronaut.jpg"), api_name="/identify")
    (stranger,) = table["data"]
    assert stranger[1] == "unknown" and stranger[2] < stranger[3]


def test_enrolment_keeps_embeddings_not_photos(served, client, enrolled, app_settings):
    assert enrolled[2] == 3  # the photo and two simulated-mask copies
    kept = {p.suffix for p in app_settings.gallery.iterdir()}
    assert kept <= {".json", ".npy", ".lock"}


def test_the_list_and_remove(client, example):
    client.predict("../../etc/passwd", [example("astronaut.jpg")], True, api_name="/enroll")
    names = [row[0] for row in client.predict(api_name="/people")["data"]]
    assert "../../etc/passwd" in names  # names are data, stored verbatim
    message, people = client.predict("../../etc/passwd", api_name="/remove")
    assert message.startswith("Removed ../../etc/passwd (3 embeddings deleted)")
    assert "../../etc/passwd" not in [row[0] for row in people["data"]]
    with pytest.raises(AppError, match="nobody with the name or id"):
        client.predict("../../etc/passwd", api_name="/remove")


@pytest.mark.parametrize(
    ("name", "photo", "consent", "message"),
    [
        ("Ada", "astronaut.jpg", False, "Tick the consent box"),
        ("  ", "astronaut.jpg", True, "Give the person's name"),
        ("Ada", "collage-two-faces.jpg", True, "photo 1 shows 2 faces"),
        ("unknown", "astronaut.jpg", True, "cannot be a name"),
    ],
)
def test_enrolment_refusals_are_clear_and_store_nothing(client, example, name, photo, consent, message):
    before = client.predict(api_name="/people")["data"]
    with pytest.raises(AppError, match=message):
        client.predict(name, [example(photo)], consent, api_name="/enroll")
    assert client.predict(api_name="/people")["data"] == before


def test_enrolment_needs_photos(client):
    with pytest.raises(AppError, match="Add one or more photos"):
        client.predict("Ada", [], True, api_name="/enroll")
