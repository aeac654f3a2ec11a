"""The Recognition tab through its API, as the operator of a local run: enrol, identify, list and remove people.

What visitors of a Space may do (sign-in, private galleries, the shared one) is in tests/app/test_space_access.py.
"""

from __future__ import annotations

import pytest
from gradio_client.exceptions import AppError


def names(client) -> list[str]:
    return [row[0] for row in client.predict(api_name="/people")["data"]]


@pytest.fixture()
def enrolled(client, example):
    """Grace Hopper enrolled from her photo for one test, removed after it."""
    message, people, same = client.predict("Grace Hopper", [example("grace_hopper.jpg")], True, api_name="/enroll")
    assert message.startswith("Enrolled Grace Hopper from 1 photo(s)") and same is False
    (person,) = [row for row in people["data"] if row[0] == "Grace Hopper"]
    yield person
    client.predict(person[1], api_name="/remove")


def test_an_enrolled_person_is_named_and_a_stranger_is_unknown(client, example, enrolled):
    _, table = client.predict(example("grace_hopper.jpg"), api_name="/identify")
    assert table["headers"][:4] == ["face", "name", "similarity", "threshold"]
    (face,) = table["data"]
    assert face[1] == "Grace Hopper" and face[2] > 0.99 and 0 < face[3] <= face[2]
    assert face[5].startswith("Grace Hopper")  # the operator sees the candidates, best first
    _, table = client.predict(example("astronaut.jpg"), api_name="/identify")
    (stranger,) = table["data"]
    assert stranger[1] == "unknown" and stranger[2] < stranger[3]


def test_enrolment_keeps_embeddings_not_photos(served, client, enrolled, app_settings):
    assert enrolled[2] == 3  # the photo and two simulated-mask copies
    kept = {p.suffix for p in app_settings.gallery.iterdir()}
    assert kept <= {".json", ".npy", ".lock"}


def test_enrolling_a_name_already_enrolled_asks_whether_it_is_the_same_person(client, example, enrolled):
    with pytest.raises(AppError, match="'Grace Hopper' is already enrolled: if these photos show the same person"):
        client.predict("Grace Hopper", [example("grace_hopper.jpg")], True, api_name="/enroll")
    (person,) = [row for row in client.predict(api_name="/people")["data"] if row[0] == "Grace Hopper"]
    assert person[2] == 3  # nothing merged
    message, people, same = client.predict(
        "Grace Hopper", [example("grace_hopper-masked-simulated.jpg")], True, True, api_name="/enroll"
    )
    assert message.startswith("Enrolled Grace Hopper") and same is False  # the box is unticked again
    (person,) = [row for row in people["data"] if row[0] == "Grace Hopper"]
    assert (person[1], person[2]) == (enrolled[1], 6)  # the same person, three more embeddings


def test_the_list_and_remove(client, example):
    client.predict("../../etc/passwd", [example("astronaut.jpg")], True, api_name="/enroll")
    assert "../../etc/passwd" in names(client)  # names are data, stored verbatim
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


def test_the_operator_has_one_gallery(client, example):
    with pytest.raises(AppError, match="run locally, the app has one gallery"):
        client.predict(example("astronaut.jpg"), "mine", api_name="/identify")


def test_enrolment_photos_are_deleted_once_read(client, app_settings, tmp_path):
    from gradio_client import handle_file

    from maskface.app.common import EXAMPLES_DIR

    photo = tmp_path / "enrol-me-once.jpg"  # unlike any example, so no kept copy shares its file
    photo.write_bytes((EXAMPLES_DIR / "grace_hopper.jpg").read_bytes() + b"one visitor's photo")
    message, _, _ = client.predict("Privacy Person", [handle_file(str(photo))], True, api_name="/enroll")
    assert message.startswith("Enrolled Privacy Person")
    assert not list(app_settings.temp_dir.rglob(photo.name))  # only the embeddings are kept
    client.predict("Privacy Person", api_name="/remove")
