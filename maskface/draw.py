"""Draw analysis results onto images for people to look at.

Each face gets a box in its class's colour and a numbered label ("2 with mask
97.5%"), the number being the face's row in the app's table. Labels never
leave the image and never cover each other: each tries above its box, below
it, then inside it, and where none fits it shrinks to the face's number (the
table has the rest). Small images are enlarged first so that the text stays
legible, and a legend under the image names each colour.

>>> import numpy as np
>>> face = Face(box=(10, 10, 40, 40), score=0.99, results={"mask": Prediction("with_mask", 0.996)})
>>> annotate(np.zeros((150, 200, 3), np.uint8), [face], "mask").size
(600, 482)
>>> percent(0.996), percent(0.99996), percent(1.0)
('99.6%', '99.9%', '99.9%')
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .face import Face, Prediction

#: One colour per class, told apart also by people with red-green colour blindness where it matters
#: most (mask: green vs red also differ in lightness; gender: purple vs orange).
COLOURS = {
    "with_mask": (26, 152, 80),
    "without_mask": (215, 48, 39),
    "female": (118, 42, 131),
    "male": (230, 97, 1),
    "known": (33, 102, 172),
    "unknown": (99, 99, 99),
}
#: The classes each task's legend names, in order.
LEGENDS = {
    "mask": ("with_mask", "without_mask"),
    "gender": ("female", "male"),
    "identity": ("known", "unknown"),
}
DEFAULT_COLOUR = (33, 102, 172)
#: Images are enlarged to at least this longer side before drawing, so labels stay legible.
MIN_SIDE = 480
UNKNOWN = "unknown"


def percent(score: float) -> str:
    """A probability as a percentage rounded down and below 100%: 0.996 reads 99.6%, and a model's 1.0 (float32
    saturating) reads 99.9%, since no model's answer is certain."""
    return f"{min(math.floor(max(score, 0.0) * 1000) / 10, 99.9):.1f}%"


def words(label: str) -> str:
    return label.replace("_", " ")


def face_class(prediction: Prediction, task: str) -> str:
    """The colour class of a prediction: identity answers are "known" or "unknown"."""
    if task == "identity":
        return UNKNOWN if prediction.label == UNKNOWN else "known"
    return prediction.label


def face_texts(number: int, prediction: Prediction | None, task: str) -> list[str]:
    """The label of face ``number``, longest first: full, without the score, the number alone."""
    if prediction is None:
        return [str(number)]
    if task == "identity":  # a similarity, not a probability: the table shows it beside the threshold
        return [f"{number} {prediction.label}", str(number)]
    return [f"{number} {words(prediction.label)} {percent(prediction.score)}", f"{number} {words(prediction.label)}", str(number)]


def overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_label(
    box: tuple[float, float, float, float], size: tuple[int, int], image: tuple[int, int], taken: list[tuple]
) -> tuple[float, float, float, float] | None:
    """Where a label of ``size`` goes for ``box``: above, below, inside its top, inside its bottom; None if nowhere free.

    The label is kept inside the ``image`` (width, height) and off the rectangles already ``taken``.
    """
    x, y, w, h = box
    tw, th = size
    if tw > image[0] or th > image[1]:
        return None
    left = min(max(x, 0), image[0] - tw)
    for top in (y - th, y + h, y, y + h - th):
        rect = (left, top, left + tw, top + th)
        if top >= 0 and top + th <= image[1] and not any(overlaps(rect, other) for other in taken):
            return rect
    return None


def annotate(image: np.ndarray, faces: list[Face], task: str = "mask", legend: bool = True) -> Image.Image:
    """The image with every face boxed in its ``task`` class's colour and numbered (1, 2, ... as in ``faces``)."""
    canvas = Image.fromarray(image)
    scale = max(1, math.ceil(MIN_SIDE / max(canvas.size)))
    if scale > 1:
        canvas = canvas.resize((canvas.width * scale, canvas.height * scale), Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(canvas)
    width = max(2, round(max(canvas.size) / 300))
    font = ImageFont.load_default(size=max(12, round(max(canvas.size) / 38)))
    pad = width
    taken: list[tuple] = []
    boxes = [tuple(v * scale for v in face.box) for face in faces]
    for x, y, w, h in boxes:
        taken.append((x, y, x + w, y + h))  # labels keep off the faces themselves where they can
    for number, (face, (x, y, w, h)) in enumerate(zip(faces, boxes), start=1):
        prediction = face.results.get(task)
        colour = COLOURS.get(face_class(prediction, task), DEFAULT_COLOUR) if prediction else DEFAULT_COLOUR
        draw.rectangle((x, y, x + w, y + h), outline=colour, width=width)
        others = taken[: number - 1] + taken[number:]
        for text in face_texts(number, prediction, task):
            left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
            size = (right - left + 2 * pad, bottom - top + 2 * pad)
            rect = place_label((x, y, w, h), size, canvas.size, others) or (
                place_label((x, y, w, h), size, canvas.size, []) if text == str(number) else None
            )
            if rect:
                draw.rectangle(rect, fill=colour)
                draw.text((rect[0] + pad - left, rect[1] + pad - top), text, fill=(255, 255, 255), font=font)
                taken.append(rect)
                break
    return with_legend(canvas, task, font) if legend and task in LEGENDS else canvas


def with_legend(canvas: Image.Image, task: str, font: ImageFont.FreeTypeFont) -> Image.Image:
    """``canvas`` above a white band naming each of ``task``'s colours."""
    band = round(font.size * 2)
    out = Image.new("RGB", (canvas.width, canvas.height + band), "white")
    out.paste(canvas, (0, 0))
    draw = ImageDraw.Draw(out)
    x, mid = font.size // 2, canvas.height + band // 2
    for name in LEGENDS[task]:
        draw.rectangle((x, mid - font.size // 2, x + font.size, mid + font.size // 2), fill=COLOURS[name])
        x += font.size + font.size // 3
        draw.text((x, mid), words(name), fill=(30, 30, 30), font=font, anchor="lm")
        x += draw.textlength(words(name), font=font) + font.size
    return out


#: Height of the labeling view: the face crop at this size, its photo beside it scaled to the same height.
VIEW_HEIGHT = 320
HIGHLIGHT = (255, 196, 0)


def face_in_photo(crop: np.ndarray, photo: np.ndarray | None, box: tuple[float, float, float, float]) -> np.ndarray:
    """The labeling view: the face ``crop`` large, and beside it its ``photo`` with the face's ``box`` highlighted."""
    face = Image.fromarray(crop).resize((VIEW_HEIGHT, VIEW_HEIGHT), Image.Resampling.LANCZOS)
    if photo is None:
        return np.asarray(face)
    scale = VIEW_HEIGHT / photo.shape[0]
    context = Image.fromarray(photo).resize(
        (max(1, round(photo.shape[1] * scale)), VIEW_HEIGHT), Image.Resampling.BILINEAR
    )
    x, y, w, h = (v * scale for v in box)
    ImageDraw.Draw(context).rectangle((x - 2, y - 2, x + w + 2, y + h + 2), outline=HIGHLIGHT, width=4)
    gap = 8
    view = Image.new("RGB", (VIEW_HEIGHT + gap + context.width, VIEW_HEIGHT), "white")
    view.paste(face, (0, 0))
    view.paste(context, (VIEW_HEIGHT + gap, 0))
    return np.asarray(view)
