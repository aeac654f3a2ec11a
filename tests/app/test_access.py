"""Who may do what (maskface.app.access): the operator of a local run, and a Space's admins, users and visitors."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from maskface.app.access import MINE, SHARED, Refused, gallery_access, require_manager, user_key, visitor
from maskface.app.settings import Settings

LOCAL = Settings(data_dir=Path("/srv/maskface"))
SPACE = Settings(data_dir=Path("/data"), space_id="org/maskface", admins=("Ada", " grace "))


def profile(username: str) -> SimpleNamespace:
    return SimpleNamespace(username=username)


def test_run_locally_the_person_at_the_machine_is_the_operator_signed_in_or_not():
    for who in (visitor(LOCAL, None), visitor(LOCAL, profile("alice"))):
        assert who.operator and not who.signed_in and who.manages_shared
    access = gallery_access(LOCAL, visitor(LOCAL, None), SHARED)
    assert access.path == Path("/srv/maskface/gallery") and access.manage
    with pytest.raises(Refused, match="one gallery"):
        gallery_access(LOCAL, visitor(LOCAL, None), MINE)


def test_on_a_space_admins_are_named_by_username_in_any_case():
    assert visitor(SPACE, profile("ADA")).admin and visitor(SPACE, profile("grace")).admin
    alice = visitor(SPACE, profile("alice"))
    assert alice.signed_in and not alice.admin and not alice.operator
    assert gallery_access(SPACE, visitor(SPACE, profile("ada")), SHARED).manage


@pytest.mark.parametrize("username", [None, "alice"])
def test_others_may_identify_against_the_shared_gallery_but_not_manage_it(username):
    who = visitor(SPACE, profile(username) if username else None)
    access = gallery_access(SPACE, who, SHARED)
    assert access.path == Path("/data/gallery") and not access.manage
    for action in ("list", "enrol people into", "remove people from"):
        with pytest.raises(Refused, match=f"only this Space's admins may {action} the shared gallery"):
            require_manager(access, action)


def test_a_signed_in_user_has_a_private_gallery_named_by_a_hash_never_by_the_username():
    for username in ("alice", "../../etc", "Alice"):
        access = gallery_access(SPACE, visitor(SPACE, profile(username)), MINE)
        assert access.manage and access.path.parent == Path("/data/user-galleries")
        assert access.path.name == user_key(username) and len(access.path.name) == 32
    assert user_key("Alice") == user_key("alice") != user_key("bob")  # Hub usernames ignore case
    with pytest.raises(Refused, match="sign in with Hugging Face"):
        gallery_access(SPACE, visitor(SPACE, None), MINE)
