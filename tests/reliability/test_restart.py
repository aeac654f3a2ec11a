"""``app.py`` killed and restarted: nothing older than five minutes stays in its temporary folder; SIGTERM stops it cleanly.

The app's temporary folder holds Gradio's copies of uploads and the results it
shows. A process killed with SIGKILL cleans nothing; the next start must.
"Older than five minutes" is made by ageing the dead run's files (``os.utime``)
rather than waiting.
"""

from __future__ import annotations

import os
import signal
import time

from gradio_client import handle_file

from maskface.app.common import EXAMPLES_DIR
from maskface.app.uploads import MARKER


def files(folder) -> list:
    return [p for p in folder.rglob("*") if p.is_file() and p.name != MARKER]


def test_after_sigkill_and_a_restart_nothing_older_than_five_minutes_remains(app_process, tmp_path):
    app = app_process(space=False)
    examples = set(app_files := files(app.temp))  # Gradio's copies of the example files, the app's own
    assert {p.name for p in app_files} <= {p.name for p in EXAMPLES_DIR.iterdir()}
    photo = tmp_path / "visitor-photo.jpg"  # an upload like no example
    photo.write_bytes((EXAMPLES_DIR / "astronaut.jpg").read_bytes() + b"visitor")
    client = app.client()
    client.predict(handle_file(str(photo)), api_name="/mask")  # an upload and a result
    client.predict(handle_file(str(EXAMPLES_DIR / "two-faces.mp4")), api_name="/mask_video")
    visitors = [p for p in files(app.temp) if p not in examples]
    assert any(p.name == photo.name for p in visitors) and any(p.suffix == ".mp4" for p in visitors)
    assert app.stop(signal.SIGKILL) == -signal.SIGKILL
    assert {p for p in files(app.temp) if p not in examples} == set(visitors)  # a killed process cleans nothing
    stale = time.time() - 301
    for path in visitors:
        os.utime(path, (stale, stale))
    recent = app.temp / "another-process" / "upload.jpg"  # younger than five minutes: it may still be in use
    recent.parent.mkdir()
    recent.write_bytes(b"x")

    app.start()
    remaining = files(app.temp)
    assert not set(visitors) & set(remaining)  # every upload and result of the killed run is gone
    assert recent in remaining and set(remaining) - {recent} <= examples
    _, table = app.client().predict(handle_file(str(EXAMPLES_DIR / "astronaut.jpg")), api_name="/mask")
    assert len(table["data"]) == 1  # and the restarted app serves


def test_sigterm_stops_the_app_cleanly(app_process):
    app = app_process(space=False)
    assert app.stop(signal.SIGTERM) == 0
    assert app.logged().rstrip().endswith("maskface.app: stopped")
