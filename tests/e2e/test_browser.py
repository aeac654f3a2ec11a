"""The app in a real browser: headless Chromium (Debian's package) driven by Playwright.

Uploads a real photo in the mask tab and sees the annotated result (also a
200x150 photo of three small faces, numbered as in the table), runs the gender
and recognition tabs, labels two faces with the keyboard in the labeling tab,
and gives each tab bad files (not an image, empty, too large, not a video): a
message names the file, never a server path or setting, and no widget shows
Gradio's "Error" badge. A screenshot of each step is saved to runs/screenshots/
(git-ignored) for people to look at. Skips, saying why, when Playwright or Chromium is missing
(`.ci/run` installs both).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
from pathlib import Path

import pytest
from gradio.utils import get_upload_folder
from PIL import Image

from maskface.app.common import EXAMPLES_DIR
from maskface.store import shipped_models

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "runs" / "screenshots"
CHROMIUM = os.environ.get("MASKFACE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
# As root in a container, without a GPU, and with no network: no sandbox, no background traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",  # a test pattern as the webcam
]
TIMEOUT_MS = 90_000  # inference on a shared CPU

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH: `apt-get install chromium` (.ci/run does)"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app(tmp_path_factory, tiny_identity_model):
    """The app on the shipped models (the tiny identity model when none is shipped), served in-process."""
    from maskface.app import Services, Settings, build_app, launch

    missing = {"mask-mobilenetv2", "mask-cnn", "gender-mobilenetv2", "gender-cnn"} - set(shipped_models())
    if missing:
        pytest.skip(f"shipped models missing in models/: {', '.join(sorted(missing))}")
    folder = tmp_path_factory.mktemp("browser-app")
    identity = "identity-dlib-resnet" if "identity-dlib-resnet" in shipped_models() else str(tiny_identity_model)
    settings = Settings(identity_model=identity, data_dir=folder, temp_dir=folder / "temp", port=free_port())
    services = Services(settings)
    demo = build_app(settings, services)
    launch(demo, settings, services, prevent_thread_lock=True, quiet=True)
    yield settings
    demo.close()
    services.close()


@pytest.fixture(scope="module")
def page(app):
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 1000}, permissions=["camera"])
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"http://127.0.0.1:{app.port}/")
        page.get_by_role("tab", name="Mask detection").wait_for()
        yield page
        browser.close()


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def shows(locator, text: str) -> None:
    """Wait until ``text`` is shown (rendered text only) in ``locator``."""
    playwright.expect(locator).to_contain_text(text, use_inner_text=True, timeout=TIMEOUT_MS)


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def test_mask_tab_annotates_an_uploaded_photo(page):
    open_tab(page, "Mask detection")
    page.locator("#mask-input input[type=file]").set_input_files(str(EXAMPLES_DIR / "collage-two-faces.jpg"))
    page.locator("#mask-run").click()
    page.locator("#mask-output img").wait_for()
    # the bare astronaut and the masked Grace Hopper
    shows(page.locator("#mask-table"), "without_mask")
    shows(page.locator("#mask-table"), "with_mask")
    page.get_by_text("About / models served").click()
    shows(page.locator("#about"), "mask-mobilenetv2 (shipped)")
    screenshot(page, "mask")


#: Faces of the example photos (as the detector boxes them), put small side by side by :func:`three_small_faces`.
SMALL_FACES = [
    ("astronaut.jpg", (178, 57, 95, 120)),
    ("grace_hopper-masked-simulated.jpg", (170, 108, 192, 224)),
    ("grace_hopper.jpg", (178, 107, 176, 221)),
]


def three_small_faces(path: Path) -> Path:
    """A 200x150 photo of three faces (about 40 px wide) at different heights, from the example photos."""
    canvas = Image.new("RGB", (200, 150), (235, 235, 235))
    for i, (name, (x, y, w, h)) in enumerate(SMALL_FACES):
        with Image.open(EXAMPLES_DIR / name) as photo:
            area = (round(x - 0.35 * w), round(y - 0.35 * h), round(x + 1.35 * w), round(y + 1.35 * h))
            canvas.paste(photo.convert("RGB").crop(area).resize((64, 80)), (i * 68, (5, 65, 30)[i]))
    canvas.save(path)
    return path


def test_three_small_faces_are_numbered_as_in_the_table(page, tmp_path):
    open_tab(page, "Mask detection")
    page.locator("#mask-input input[type=file]").set_input_files(str(three_small_faces(tmp_path / "three.png")))
    page.locator("#mask-run").click()
    shows(page.locator("#mask-table"), "without_mask")  # the grace_hopper.jpg face
    page.locator("#mask-output img").wait_for()
    rows = page.locator("#mask-table").get_by_role("row")  # the header, then one row per face
    playwright.expect(rows).to_have_count(4)  # the last photo had two faces
    cells = [[cell.strip() for cell in re.split(r"[\t\n]+", row) if cell.strip()] for row in rows.all_inner_texts()]
    assert [row[1] for row in cells[1:]] == ["1", "2", "3"], cells  # model, face, ...
    screenshot(page, "mask-three-small-faces")
    shown = page.request.get(page.locator("#mask-output img").get_attribute("src"))
    (SCREENSHOTS / "mask-three-small-faces-output.jpg").write_bytes(shown.body())  # the drawn image at its own size


def test_live_webcam_frames_are_annotated_and_not_kept(page):
    cache = Path(get_upload_folder())
    before = set(cache.rglob("*")) if cache.exists() else set()
    open_tab(page, "Mask detection")
    page.locator("#tab-mask").get_by_role("tab", name="Live webcam").click()
    page.locator("#tab-mask").get_by_text("Click to Access Webcam").click()
    page.locator("#tab-mask button[aria-label='capture photo']").click()  # starts streaming
    page.locator("#mask-live img").wait_for()
    screenshot(page, "mask-webcam")
    page.locator("#tab-mask button", has_text="Stop").click()
    new = {p for p in cache.rglob("*") if p.is_file()} - before
    # only the annotated frames shown (JPEG, the output format); no camera frame is written
    assert all(p.name == "image.jpeg" for p in new), sorted(map(str, new))


def test_gender_tab_answers_for_a_clicked_example(page):
    open_tab(page, "Gender")
    page.locator("#tab-gender .gallery-item").first.click()  # astronaut-masked-simulated.jpg, analysed at once
    page.locator("#gender-output img").wait_for()
    shows(page.locator("#gender-table"), "female")
    screenshot(page, "gender")


def test_gender_tab_calls_the_bare_grace_hopper_a_woman(page):
    # issue 15: the default model called her male until it read the identity embedding too
    open_tab(page, "Gender")
    page.locator("#gender-input input[type=file]").set_input_files(str(EXAMPLES_DIR / "grace_hopper.jpg"))
    page.locator("#gender-run").click()
    shows(page.locator("#gender-table"), "without mask")  # her answer is in
    table = page.locator("#gender-table").inner_text()
    assert "female" in table and not re.search(r"\bmale\b", table), table
    screenshot(page, "gender-grace-hopper")


def test_recognition_tab_enrols_and_identifies(page):
    open_tab(page, "Recognition")
    tab = page.locator("#tab-recognition")
    tab.get_by_label("Name", exact=True).fill("Grace Hopper")
    page.locator("#enroll-photos input[type=file]").set_input_files(str(EXAMPLES_DIR / "grace_hopper.jpg"))
    page.locator("#enroll-consent input[type=checkbox]").check()
    page.locator("#enroll-run").click()
    shows(page.locator("#people"), "Grace Hopper")
    page.locator("#identify-input input[type=file]").set_input_files(str(EXAMPLES_DIR / "grace_hopper.jpg"))
    page.locator("#identify-run").click()
    page.locator("#identify-output img").wait_for()
    shows(page.locator("#identify-table"), "Grace Hopper")
    screenshot(page, "recognition")


def test_two_faces_labelled_with_the_keyboard(page, app):
    open_tab(page, "Quick labeling")
    page.locator("#labeler-name input, #labeler-name textarea").first.fill("Browser test")
    page.locator("#label-consent input[type=checkbox]").check()
    page.locator("#label-uploads input[type=file]").set_input_files(str(EXAMPLES_DIR / "collage-two-faces.jpg"))
    page.locator("#label-build").click()
    info = page.locator("#label-info")
    shows(info, "Face 1 of 2")
    page.locator("#label-crop img").wait_for()
    page.locator("#label-info").click()  # focus leaves the text boxes: keys go to the queue
    answers = []
    for number in (1, 2):
        shows(info, f"Face {number} of 2")
        if number == 2:
            screenshot(page, "labeling")
        # the labeler agrees with the model's suggestion (both faces are clear cases), by key
        masked = "says with mask" in info.inner_text()
        answers.append("with_mask" if masked else "without_mask")
        page.keyboard.press("m" if masked else "n")
    shows(info, "Queue done: 2 labelled")
    page.keyboard.press("Backspace")  # undo the second answer, then answer again
    shows(info, "Face 2 of 2")
    playwright.expect(page.locator("#label-count input")).to_have_value("1")
    page.keyboard.press("Enter")  # accept the model's suggestion
    shows(info, "Queue done: 2 labelled")
    screenshot(page, "labeling-done")
    lines = (app.labels_dir / "metadata.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [(r["task"], r["label"], r["labeler_name"]) for r in records] == [
        ("mask", answer, "Browser test") for answer in answers
    ]
    assert sorted(answers) == ["with_mask", "without_mask"]  # the bare astronaut, the masked Grace Hopper
    page.locator("#label-task").get_by_text("Gender", exact=True).click()  # the answers follow the task
    page.locator("#key-f").wait_for()
    assert not page.locator("#key-m").is_visible()
    playwright.expect(page.locator("#label-count input")).to_have_value("2")


def refused(page, name: str, shot: str) -> None:
    """A message naming the file ``name`` shows; no message shows a server folder or a setting; no Error badge."""
    page.locator(".toast-body", has_text=name).first.wait_for()
    page.wait_for_timeout(1000)  # the event ends after its message
    messages = page.locator(".toast-body").all_inner_texts()
    assert not any(re.search(r"/\S*/|MASKFACE_|gradio", text) for text in messages), messages
    assert page.locator("[data-testid=status-tracker] .error:visible").count() == 0
    screenshot(page, f"refused-{shot}")
    for close in page.locator(".toast-close").all():
        close.click()


def upload(page, field: str, path: Path) -> None:
    """Put ``path`` in the upload ``field``, clearing what it held."""
    clear = page.locator(f"{field} button[aria-label='Clear']")
    if clear.count():
        clear.first.click()
    page.locator(f"{field} input[type=file]").set_input_files(str(path))


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict[str, Path]:
    """Files the app must refuse: not an image, empty, too large (over the app's byte limit), not a video."""
    from maskface.config import Limits

    folder = tmp_path_factory.mktemp("bad files")
    files = {
        "not-an-image": (folder / "shopping list.txt", b"eggs, milk\n"),
        "empty": (folder / "empty.jpg", b""),
        "too-large": (folder / "huge photo.jpg", b"\xff\xd8\xff" + bytes(Limits.max_bytes)),
        "not-a-video": (folder / "holiday clip.mp4", b"not a video" * 100),
    }
    for path, content in files.values():
        path.write_bytes(content)
    return {kind: path for kind, (path, _) in files.items()}


def test_bad_photos_are_named_and_no_widget_shows_an_error(page, bad_files):
    open_tab(page, "Mask detection")
    page.locator("#tab-mask").get_by_role("tab", name="Photo").click()
    for kind in ("not-an-image", "too-large"):
        upload(page, "#mask-input", bad_files[kind])
        page.locator("#mask-run").click()
        refused(page, bad_files[kind].name, f"mask-{kind}")
    open_tab(page, "Gender")
    upload(page, "#gender-input", bad_files["empty"])
    page.locator("#gender-run").click()
    refused(page, bad_files["empty"].name, "gender-empty")


def test_a_file_that_is_not_a_video_is_named(page, bad_files):
    open_tab(page, "Mask detection")
    page.locator("#tab-mask").get_by_role("tab", name="Video file").click()
    upload(page, "#mask-video-input", bad_files["not-a-video"])
    page.locator("#mask-video-run").click()
    refused(page, bad_files["not-a-video"].name, "video-not-a-video")


def test_a_bad_enrolment_photo_leaves_the_people_list_alone(page, bad_files):
    open_tab(page, "Recognition")
    page.locator("#tab-recognition").get_by_label("Name", exact=True).fill("Nobody")
    upload(page, "#enroll-photos", bad_files["not-an-image"])
    page.locator("#enroll-consent input[type=checkbox]").check()
    page.locator("#enroll-run").click()
    refused(page, bad_files["not-an-image"].name, "enrol-not-an-image")
    shows(page.locator("#people"), "Grace Hopper")  # still listed, no badge over it
    upload(page, "#identify-input", bad_files["empty"])
    page.locator("#identify-run").click()
    refused(page, bad_files["empty"].name, "identify-empty")


def test_labeling_refusals_leave_the_counter_and_the_checkbox_usable(page, bad_files):
    open_tab(page, "Quick labeling")
    upload(page, "#label-uploads", bad_files["not-an-image"])
    page.locator("#label-build").click()
    refused(page, bad_files["not-an-image"].name, "labeling-not-an-image")
    page.get_by_text("Delete my contributions").first.click()
    page.locator("#delete-run").click()
    page.locator(".toast-body", has_text="Tick the box").first.wait_for()
    page.wait_for_timeout(1000)
    assert page.locator("[data-testid=status-tracker] .error:visible").count() == 0
    screenshot(page, "labeling-delete-unconfirmed")
    page.locator("#delete-confirm input[type=checkbox]").check()  # not covered by a badge
    playwright.expect(page.locator("#label-count input")).to_have_value("2")


def test_a_person_removed_with_the_cli_is_gone_from_the_page(page, app):
    import subprocess
    import sys

    from gradio_client import Client, handle_file

    name = "Removable Ringo Browser"
    Client(f"http://127.0.0.1:{app.port}/", verbose=False).predict(
        name, [handle_file(str(EXAMPLES_DIR / "grace_hopper.jpg"))], True, api_name="/enroll"
    )
    page.reload()
    open_tab(page, "Recognition")
    shows(page.locator("#people"), name)  # the list is read when the page loads
    command = [sys.executable, "-m", "maskface", "gallery", "remove", name, "--gallery", str(app.gallery)]
    done = subprocess.run(
        [*command, "--identity-model", app.identity_model], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    page.reload()
    open_tab(page, "Recognition")
    page.locator("#people").wait_for()
    playwright.expect(page.locator("#people")).not_to_contain_text(name, timeout=TIMEOUT_MS)
    screenshot(page, "recognition-after-removal")


def test_the_progress_view_plots_the_labels(page):
    # after test_two_faces_labelled_with_the_keyboard: two labels of today
    open_tab(page, "Progress")
    page.locator("#progress-run").click()
    shows(page.locator("#progress-summary"), "labels of")
    page.locator("#progress-days canvas, #progress-days svg").first.wait_for()  # one labeler: no agreement yet
    shows(page.locator("#progress-labelers"), "mask")
    screenshot(page, "progress")
