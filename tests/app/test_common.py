"""What a visitor reads of the library's messages: their file's name, no server folder, no operator setting."""

from __future__ import annotations

from maskface.app.common import for_visitor


def test_a_library_message_names_the_visitors_file_and_no_setting():
    upload = "/srv/maskface/temp/0a1b2c3d/my photo.jpg"  # Gradio's <temp>/<hash>/<original name>
    assert for_visitor(f"file too large: {upload} is 3,000 bytes, which exceeds the limit of 1,000 bytes "
                       "(set MASKFACE_MAX_BYTES to change it)") == (
        "file too large: my photo.jpg is 3,000 bytes, which exceeds the limit of 1,000 bytes"
    )
    assert for_visitor("image too large: /t/a/b.png has far more than 10 pixels "
                       "(possible decompression bomb; set MASKFACE_MAX_PIXELS to change the limit)") == (
        "image too large: b.png has far more than 10 pixels (possible decompression bomb)"
    )
    assert for_visitor("clip.mp4 cannot be read as a video: [Errno 1094995529] Invalid data found when processing "
                       "input: '/tmp/gradio/ab12/clip.mp4'") == (
        "clip.mp4 cannot be read as a video: Invalid data found when processing input: 'clip.mp4'"
    )


def test_urls_and_plain_words_stay_as_they_are():
    text = "see https://huggingface.co/org/model and/or the README"
    assert for_visitor(text) == text
