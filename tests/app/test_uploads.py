"""Uploads reach the handlers undecoded, and the app's temporary folder keeps nothing over five minutes."""

from __future__ import annotations

import base64
import os
import time

import pytest

from maskface.app.uploads import MARKER, TempFolder, image_source
from maskface.image import ImageError


def aged(path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_files_older_than_five_minutes_go_at_start_up_and_at_each_sweep(tmp_path):
    folder = TempFolder(tmp_path / "temp").prepare()
    old, new = folder.path / "abc" / "old.jpg", folder.path / "new.mp4"
    old.parent.mkdir()
    old.write_bytes(b"x")
    new.write_bytes(b"y")
    aged(old, 301)
    assert folder.sweep() == 1
    assert not old.exists() and new.exists() and (folder.path / MARKER).exists()
    aged(old.parent, 61)
    folder.sweep()
    assert not old.parent.exists()  # an empty folder goes a minute after its last change
    aged(new, 400)
    assert TempFolder(folder.path).prepare().path == folder.path  # a restart sweeps what the last run left
    assert not new.exists()


def test_the_copies_made_while_the_page_was_built_stay(tmp_path):
    folder = TempFolder(tmp_path / "temp").prepare()
    example = folder.path / "hash" / "grace_hopper.jpg"  # Gradio copies examples keeping their old date
    example.parent.mkdir()
    example.write_bytes(b"x")
    aged(example, 10_000)
    folder.keep_present()
    folder.sweep()
    folder.discard(example)  # enrolling from the example photo deletes the upload, never the example
    assert example.exists()


def test_the_app_cleans_only_a_folder_it_marked_as_its_own(tmp_path):
    someone = tmp_path / "someone"
    someone.mkdir()
    (someone / "thesis.pdf").write_bytes(b"precious")
    with pytest.raises(ValueError, match="not maskface's temporary folder"):
        TempFolder(someone).prepare()
    assert (someone / "thesis.pdf").exists()


def test_a_refused_upload_is_deleted_at_once_but_only_inside_the_folder(tmp_path):
    folder = TempFolder(tmp_path / "temp").prepare()
    upload, outside = folder.path / "u" / "bomb.png", tmp_path / "keep.png"
    upload.parent.mkdir()
    upload.write_bytes(b"x")
    outside.write_bytes(b"x")
    folder.discard(upload)
    folder.discard(outside)
    folder.discard(folder.path / ".." / "keep.png")
    folder.discard("data:image/png;base64,AAAA")
    assert not upload.exists() and outside.exists()


def test_a_webcam_frame_is_read_from_its_data_url_within_the_byte_limit(configure):
    assert image_source("/tmp/x.png") == "/tmp/x.png"
    assert image_source("data:image/png;base64," + base64.b64encode(b"\x89PNG").decode()) == b"\x89PNG"
    configure(max_bytes=10)
    with pytest.raises(ImageError, match="image too large"):
        image_source("data:image/png;base64," + base64.b64encode(bytes(100)).decode())
    with pytest.raises(ImageError, match="could not be read"):
        image_source("data:image/png;base64,@@@")
