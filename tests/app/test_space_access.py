"""Who may do what on a Space, through gradio_client against ``app.py`` run as a Space (``SPACE_ID`` set).

Visitors sign in as a Space's OAuth leaves them signed in (the session cookie; see
``AppProcess`` in tests/conftest.py): ``ada`` is an admin (``MASKFACE_ADMINS``), ``alice``
and ``bob`` are signed-in users, and a client without the cookie is an anonymous visitor.
The operator of a local run (no ``SPACE_ID``): tests/app/test_recognition_tab.py and
tests/reliability/test_removal.py.
"""

from __future__ import annotations

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from maskface.app.access import user_key
from maskface.app.common import EXAMPLES_DIR

ADMIN = "Ada-Admin"  # usernames are compared case-insensitively


def photo(name: str):
    return handle_file(str(EXAMPLES_DIR / name))


@pytest.fixture(scope="module")
def space(app_process):
    app = app_process(space=True, MASKFACE_ADMINS="someone, ada-admin")
    yield app
    app.stop()


@pytest.fixture(scope="module")
def shared_person(space):
    """Grace Hopper in the shared gallery, enrolled by the admin."""
    admin = space.client(ADMIN)
    message, people, _ = admin.predict("Grace Hopper", [photo("grace_hopper.jpg")], True, False, "shared", api_name="/enroll")
    assert message.startswith("Enrolled Grace Hopper")
    admin.predict("Eileen Collins", [photo("astronaut.jpg")], True, False, "shared", api_name="/enroll")
    return next(row for row in people["data"] if row[0] == "Grace Hopper")


def names(table) -> list[str]:
    return [row[0] for row in table["data"]]


def test_the_page_offers_sign_in_with_hugging_face(space):
    import urllib.request

    config = urllib.request.urlopen(space.url + "config").read().decode()
    assert '"loginbutton"' in config.lower() or "Sign in with Hugging Face" in config


def test_anonymous_visitors_may_not_list_enrol_or_remove(space, shared_person):
    anonymous = space.client()
    for call, args in (
        ("/people", ("shared",)),
        ("/enroll", ("Mallory", [photo("astronaut.jpg")], True, False, "shared")),
        ("/remove", (shared_person[1], "shared")),
    ):
        with pytest.raises(AppError, match="only this Space's admins may .* the shared gallery"):
            anonymous.predict(*args, api_name=call)
    with pytest.raises(AppError, match="sign in with Hugging Face to keep a gallery of your own"):
        anonymous.predict("Mallory", [photo("astronaut.jpg")], True, False, "mine", api_name="/enroll")
    assert "Grace Hopper" in names(space.client(ADMIN).predict("shared", api_name="/people"))


def test_anonymous_identification_gives_the_match_and_no_other_names(space, shared_person):
    anonymous = space.client()
    _, table = anonymous.predict(photo("grace_hopper.jpg"), "shared", api_name="/identify")
    (face,) = table["data"]
    assert face[1] == "Grace Hopper" and face[2] > 0.99 and face[5] == ""  # the match, no candidates
    _, table = anonymous.predict(photo("collage-two-faces.jpg"), "shared", api_name="/identify")
    for face in table["data"]:
        assert face[5] == "" and (face[1] in ("Grace Hopper", "Eileen Collins") or (face[1], face[2]) == ("unknown", None))
    with pytest.raises(AppError, match="sign in with Hugging Face"):
        anonymous.predict(photo("grace_hopper.jpg"), "mine", api_name="/identify")


def test_the_admin_sees_every_candidate(space, shared_person):
    _, table = space.client(ADMIN).predict(photo("grace_hopper.jpg"), "shared", api_name="/identify")
    (face,) = table["data"]
    assert face[5].startswith("Grace Hopper 1.00, Eileen Collins")


def test_signed_in_users_each_see_and_change_only_their_own_gallery(space, shared_person):
    alice, bob = space.client("alice"), space.client("bob")
    _, people, _ = alice.predict("Ada Lovelace", [photo("grace_hopper.jpg")], True, False, "mine", api_name="/enroll")
    assert names(people) == ["Ada Lovelace"]
    ada_id = people["data"][0][1]
    _, people, _ = bob.predict("Bob's friend", [photo("astronaut.jpg")], True, False, "mine", api_name="/enroll")
    assert names(people) == ["Bob's friend"]
    assert names(alice.predict("mine", api_name="/people")) == ["Ada Lovelace"]
    assert names(space.client("alice").predict("mine", api_name="/people")) == ["Ada Lovelace"]  # another device
    _, table = alice.predict(photo("grace_hopper.jpg"), "mine", api_name="/identify")
    assert table["data"][0][1] == "Ada Lovelace" and table["data"][0][5].startswith("Ada Lovelace")
    _, table = bob.predict(photo("grace_hopper.jpg"), "mine", api_name="/identify")
    assert table["data"][0][1] == "unknown" and "Ada" not in table["data"][0][5]
    with pytest.raises(AppError, match="nobody with the name or id"):
        bob.predict(ada_id, "mine", api_name="/remove")
    with pytest.raises(AppError, match="only this Space's admins may remove people from the shared gallery"):
        alice.predict(shared_person[1], "shared", api_name="/remove")
    # a signed-in user identifies against the shared gallery as anyone may: the match only
    _, table = alice.predict(photo("grace_hopper.jpg"), "shared", api_name="/identify")
    assert table["data"][0][1] == "Grace Hopper" and table["data"][0][5] == ""
    message, people = alice.predict(ada_id, "mine", api_name="/remove")
    assert message.startswith("Removed") and names(people) == []
    assert names(bob.predict("mine", api_name="/people")) == ["Bob's friend"]
    # on disk, a user's gallery is a folder named by a hash of the username, never the username
    folders = {p.name for p in (space.data / "user-galleries").iterdir()}
    assert folders == {user_key("alice"), user_key("bob")}


def test_the_admin_manages_the_shared_gallery(space, shared_person):
    admin = space.client(ADMIN.lower())
    _, people, _ = admin.predict("Temporary", [photo("astronaut-masked-simulated.jpg")], True, True, "shared", api_name="/enroll")
    assert "Temporary" in names(people)
    message, people = admin.predict("Temporary", "shared", api_name="/remove")
    assert message.startswith("Removed Temporary") and "Temporary" not in names(people)


def test_a_cookie_not_signed_with_the_spaces_secret_is_anonymous(space, shared_person):
    from gradio_client import Client

    forged = Client(space.url, verbose=False, headers=space.signed_in(ADMIN, secret="guessed"))
    with pytest.raises(AppError, match="only this Space's admins"):
        forged.predict("shared", api_name="/people")


def test_anonymous_labeling_is_off_unless_the_operator_allows_it(space):
    with pytest.raises(AppError, match="Sign in with Hugging Face to label"):
        space.client().predict([photo("astronaut.jpg")], "(no folder)", "mask", "0123456789abcdef", api_name="/queue")


def test_a_signed_in_labeler_is_the_same_on_every_device_and_deletes_everything_given(space):
    laptop, phone = space.client("carol"), space.client("carol")
    ids = []
    for device, picture in ((laptop, "astronaut.jpg"), (phone, "grace_hopper.jpg")):
        # whatever labeler id a device sends, the label is carol's (and she is never offered a face twice)
        _, _, _, item = device.predict([photo(picture)], "(no folder)", "mask", "", api_name="/queue")
        record_id, count, _ = device.predict(item, "mask", "without_mask", "", "", True, api_name="/label")
        ids.append(record_id)
    assert count == 2
    _, _, _, dave_item = space.client("dave").predict([photo("astronaut.jpg")], "(no folder)", "mask", "", api_name="/queue")
    with pytest.raises(AppError, match="not in your labeling queue"):  # dave's face, labelled by carol
        laptop.predict(dave_item, "mask", "with_mask", "", "", True, api_name="/label")
    message, count, _ = phone.predict("", True, api_name="/delete_contributions")
    assert message == "Deleted 2 label(s) given under your Hugging Face account **carol**." and count == 0


def test_ordinary_user_errors_are_one_log_line_without_traceback_or_what_was_typed(space, shared_person, tmp_path):
    anonymous, alice = space.client(), space.client("alice")
    junk = tmp_path / "holiday-secret-name.jpg"
    junk.write_bytes(b"this is not an image at all" * 50)
    before = len(space.logged())
    refusals = [
        (anonymous, ("Mallory Typed-Name", [photo("astronaut.jpg")], True, False, "shared"), "/enroll"),
        (alice, ("Mallory Typed-Name", [photo("astronaut.jpg")], False, False, "mine"), "/enroll"),  # no consent
        (alice, ("Mallory Typed-Name", "mine"), "/remove"),  # nobody of that name
        (alice, (handle_file(str(junk)), "shared"), "/identify"),  # not an image
    ]
    for client, args, endpoint in refusals:
        with pytest.raises(AppError):
            client.predict(*args, api_name=endpoint)
    logged = space.logged()[before:]
    assert "Traceback" not in logged and "Mallory" not in logged and "holiday" not in logged
    assert len([line for line in logged.splitlines() if " refused: " in line]) == len(refusals), logged
    # the refused upload is already gone from the app's temporary folder
    assert not [p for p in space.temp.rglob("holiday-secret-name.jpg")]
