"""A person removed while the app runs - by the documented CLI command, another process - is gone at once.

``app.py`` runs in its own process as the operator's local app; the removal is
``python -m maskface gallery remove`` in a third process. The running app must
neither list nor identify the person at the first call after the command
returns (within one second), and the page's configuration (``/config``) never
held the list. (The page itself after a reload: tests/e2e/test_browser.py.)
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from gradio_client import handle_file

from maskface.app.common import EXAMPLES_DIR

ROOT = Path(__file__).resolve().parents[2]
NAME = "Removable Ringo Starr-Lovelace"  # in no example, so /config can only hold it through the people list


def test_a_person_removed_with_the_cli_is_neither_listed_nor_identified_within_a_second(app_process, tiny_models):
    app = app_process(space=False)
    client = app.client()
    _, people, _ = client.predict(NAME, [handle_file(str(EXAMPLES_DIR / "grace_hopper.jpg"))], True, api_name="/enroll")
    assert NAME in [row[0] for row in people["data"]]
    _, table = client.predict(handle_file(str(EXAMPLES_DIR / "grace_hopper.jpg")), api_name="/identify")
    assert table["data"][0][1] == NAME
    config = urllib.request.urlopen(app.url + "config").read().decode()
    assert NAME not in config  # the list is read when the page loads, never written into the page

    command = [sys.executable, "-m", "maskface", "gallery", "remove", NAME, "--gallery", str(app.data / "gallery")]
    command += ["--identity-model", str(tiny_models["identity"])]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    removed_at = time.monotonic()

    listed = [row[0] for row in client.predict(api_name="/people")["data"]]
    answered_after = time.monotonic() - removed_at
    _, table = client.predict(handle_file(str(EXAMPLES_DIR / "grace_hopper.jpg")), api_name="/identify")
    assert NAME not in listed and answered_after < 1.0  # the first call after the command, within a second
    assert table["data"][0][1] == "unknown" and NAME not in table["data"][0][4]
    assert NAME not in urllib.request.urlopen(app.url + "config").read().decode()
