"""Who is using the app, and what they may do.

Run locally (no ``SPACE_ID``), the person at the machine is the operator and
may do everything, without signing in. On a Space, visitors sign in with
their Hugging Face account (Space OAuth: ``gr.LoginButton``; Gradio injects
the signed-in user's ``gr.OAuthProfile`` into the handlers); those named in
``MASKFACE_ADMINS`` manage the shared gallery; everyone else is a signed-in
user or an anonymous visitor.

=====================================  =========  ===========  =====  ========
what                                   anonymous  signed in    admin  operator
=====================================  =========  ===========  =====  ========
identify against the shared gallery    match only match only   all    all
list / enrol / remove, shared gallery  no         no           yes    yes
a private gallery of their own         no         yes          yes    no (one
                                                                      gallery)
label faces                            if enabled yes          yes    yes
=====================================  =========  ===========  =====  ========

"match only": the best match's name or ``unknown``, never the other
candidates, and no similarity for an unknown face.

A signed-in user's private gallery folder and labeler id derive from a hash
of their username (:func:`user_key`), so a username is never a path.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from .settings import Settings

SHARED, MINE = "shared", "mine"
GALLERY_CHOICES = [("Shared gallery", SHARED), ("My gallery", MINE)]


class Refused(ValueError):
    """A request this visitor may not make; the message says why and what to do."""


@dataclass(frozen=True)
class Visitor:
    """One request's visitor: a Hugging Face username when signed in; the operator on a local run."""

    username: str | None = None
    operator: bool = False
    admin: bool = False

    @property
    def signed_in(self) -> bool:
        return self.username is not None

    @property
    def key(self) -> str | None:
        """The signed-in user's folder name and labeler id (:func:`user_key`)."""
        return user_key(self.username) if self.username else None

    @property
    def manages_shared(self) -> bool:
        """May list, enrol into and remove from the shared gallery (and see every candidate)."""
        return self.operator or self.admin


def visitor(settings: Settings, profile: gr.OAuthProfile | None) -> Visitor:
    """The visitor of a request: the operator locally; on a Space, the signed-in user (admin or not) or anonymous."""
    if not settings.on_space:
        return Visitor(operator=True)
    if profile is None:
        return Visitor()
    username = str(profile.username)
    return Visitor(username=username, admin=username.lower() in settings.admins)


def user_key(username: str) -> str:
    """32 hex digits naming a Hugging Face user on disk (Hub usernames are case-insensitive)."""
    return hashlib.sha256(f"maskface-user:{username.lower()}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class GalleryAccess:
    """A gallery folder and what the visitor may do with it."""

    path: Path
    manage: bool
    """May list, enrol and remove, and sees every candidate when identifying."""


def gallery_access(settings: Settings, who: Visitor, which: str) -> GalleryAccess:
    """The gallery ``which`` (:data:`SHARED` or :data:`MINE`) as ``who`` may use it; :class:`Refused` otherwise."""
    if which == SHARED:
        return GalleryAccess(settings.gallery, who.manages_shared)
    if which != MINE:
        raise Refused(f"unknown gallery {which!r}; choose {SHARED!r} or {MINE!r}")
    if who.operator:
        raise Refused("run locally, the app has one gallery: choose the shared gallery")
    if not who.signed_in:
        raise Refused("sign in with Hugging Face to keep a gallery of your own")
    return GalleryAccess(settings.user_galleries / who.key, manage=True)


def require_manager(access: GalleryAccess, action: str) -> None:
    """Refuse ``action`` (list, enrol, remove) on a gallery the visitor may only identify against."""
    if not access.manage:
        raise Refused(
            f"only this Space's admins may {action} the shared gallery; sign in and choose "
            "'My gallery' to keep your own"
        )
