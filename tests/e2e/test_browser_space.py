"""The app run as a Space, in a real browser: the labeler's counter across reloads, and "Delete my contributions".

``app.py`` runs as a Space would (``app_process``, tests/conftest.py), with
anonymous labeling allowed. A signed-in visitor's browser carries the session
cookie Gradio's Hugging Face login leaves (``AppProcess.signed_in``); an
anonymous one keeps its labeler id in the browser (``gr.BrowserState``). For
each, a label is given, the page reloaded, the counter must still show it and
the queue must leave out the face already labelled, the other face is labelled,
and "Delete my contributions" must delete both. Skips, saying why, when Playwright or Chromium is missing (`.ci/run` installs both).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from maskface.app.access import user_key
from maskface.app.common import EXAMPLES_DIR

SCREENSHOTS = Path(__file__).resolve().parents[2] / "runs" / "screenshots"
CHROMIUM = os.environ.get("MASKFACE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
TIMEOUT_MS = 90_000

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH: `apt-get install chromium` (.ci/run does)"
)


@pytest.fixture(scope="module")
def space(app_process):
    app = app_process(space=True, MASKFACE_ANONYMOUS_LABELING="1")
    yield app
    app.stop()


@pytest.fixture(scope="module")
def browser(space):
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def shows(locator, text: str) -> None:
    playwright.expect(locator).to_contain_text(text, use_inner_text=True, timeout=TIMEOUT_MS)


def count(page) -> playwright.LocatorAssertions:
    return playwright.expect(page.locator("#label-count input"))


def open_labeling(page) -> None:
    page.get_by_role("tab", name="Quick labeling", exact=True).click()
    page.locator("#label-consent input[type=checkbox]").check()  # consent is asked on every visit


def label_one_face(page, queued: int) -> None:
    """Build the queue from the two-face example and answer its first face as the model suggests, by key.

    ``queued`` is how many of the photo's two faces the queue must hold: a face
    this labeler has already labelled is not queued for them again.
    """
    page.locator("#label-uploads input[type=file]").set_input_files(str(EXAMPLES_DIR / "collage-two-faces.jpg"))
    page.locator("#label-build").click()
    info = page.locator("#label-info")
    shows(info, f"Face 1 of {queued}")
    info.click()  # focus leaves the text boxes: keys go to the queue
    page.keyboard.press("m" if "says with mask" in info.inner_text() else "n")
    shows(info, "Face 2 of 2" if queued == 2 else "Queue done")


def labels(space) -> list[dict]:
    path = space.data / "labels" / "metadata.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize("visitor", ["carol", None], ids=["signed-in", "anonymous"])
def test_the_counter_survives_a_reload_and_delete_removes_the_labels_before_and_after_it(space, browser, visitor):
    context = browser.new_context(
        viewport={"width": 1280, "height": 1000}, extra_http_headers=space.signed_in(visitor) if visitor else {}
    )
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(space.url)
    if visitor:
        shows(page.locator("button", has_text="Logout"), f"Logout ({visitor})")
    open_labeling(page)
    whose = f"your Hugging Face account {visitor}" if visitor else "this browser"
    shows(page.locator("#labeler-whose"), f"Your labels are counted and deleted under {whose}")
    label_one_face(page, queued=2)
    count(page).to_have_value("1")

    page.reload()
    open_labeling(page)
    count(page).to_have_value("1")  # the same labeler after a reload...
    label_one_face(page, queued=1)  # ...is not shown the face they labelled
    count(page).to_have_value("2")
    mine = f"hf-{user_key(visitor)}" if visitor else None
    given = [r for r in labels(space) if r["labeler_id"] == mine] if visitor else labels(space)[-2:]
    assert len(given) == 2 and len({r["labeler_id"] for r in given}) == 1

    page.get_by_text("Delete my contributions", exact=True).first.click()
    page.locator("#delete-confirm input[type=checkbox]").check()
    page.locator("#delete-run").click()
    shows(page.locator("#delete-message"), f"Deleted 2 label(s) given under {whose}")
    count(page).to_have_value("0")
    assert not [r for r in labels(space) if r["labeler_id"] == given[0]["labeler_id"]]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"labeling-space-{visitor or 'anonymous'}.png"), full_page=True)
    context.close()
