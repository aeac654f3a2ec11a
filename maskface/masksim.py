"""Draw realistic face masks onto bare faces, from the detector's five keypoints.

Photos of masked faces with identity or gender labels are scarce, while bare
faces (LFW) are plentiful, and the GENDER-M and ID-M protocols report on masked
probes. Like MaskTheFace, we therefore draw masks onto unmasked faces; unlike
it, the drawing needs only the five keypoints and the box of
:class:`maskface.detect.Detection` (no dense landmarks, no template images) and
uses numpy and Pillow alone, so any detected face can be masked on the fly.

Geometry. The face is seen as a vertical cylinder in a frame aligned with the
eye line (so the mask follows the head's tilt). The nose's offset from the eye
midpoint gives the yaw; the eye distance, corrected for that yaw, and the box
width give the cylinder's radius. The mask wraps the front of the cylinder
around the mouth's midline, so on a turned face it shifts and narrows towards
the side the nose points to, and stops at the silhouette; there the half on
the nose's side widens just enough to tent over the nose tip, which sticks out
past the cheek, and the top edge peaks over the nose. Vertically it runs
from the nose bridge (a fraction of the eye-mouth distance below the eye line,
never close to the eyes) to just below the chin, estimated from the box bottom
and the eye-mouth distance. Each style has its own outline in these
normalised coordinates (boxy surgical, peaked N95, contoured cloth).

Appearance. A style's colour and pattern are shaded by the cylinder (darker
towards the sides and under the chin), by the photo's own low-frequency
lighting, fabric noise, pleats, seams and hems, then alpha-composited with
anti-aliased, slightly blurred edges, with a soft shadow on the neck and
optional ear loops. Every random choice comes from one ``numpy`` generator, so
a seed gives the same mask every time.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .detect import Detection

log = logging.getLogger(__name__)

STYLES: tuple[str, ...] = ("surgical", "cloth", "n95", "black")
#: More styles for training data only (folded KN95 / KF94, cloth with a printed motif), so the protocols'
#: masked probes (drawn from STYLES) stay the same pixels as before they existed.
TRAINING_STYLES: tuple[str, ...] = ("kn95", "printed")

Box = tuple[float, float, float, float]
Rng = np.random.Generator | int | None

# Keep the mask's top at least this share of the eye-mouth distance below the
# eye line (the eyes and lower lids must stay visible), and this far above the
# nose keypoint (the nose must be covered).
MIN_TOP = 0.2
NOSE_MARGIN = 0.15
# Anatomical averages: the chin lies ~1.65 eye-mouth distances below the eye
# line; the cheek-to-cheek radius is ~1.09 eye distances; a nose offset of
# 0.6 eye distances is a yaw of 45 degrees (eyes, nose tip and cheeks on a
# cylinder).
CHIN_RATIO = 1.65
RADIUS_PER_EYE_DISTANCE = 1.09
YAW_NOSE_RATIO = 0.6
MAX_YAW = math.radians(55)
EAR_ANGLE = math.radians(100)  # ears sit this far round the head from the nose,
EAR_OUT = 1.05  # stand out this much beyond the cylinder,
EAR_VISIBLE = math.radians(115)  # and are hidden once turned further than this from the camera
MAX_PEAK = 0.7  # the top edge's highest point stays this far (normalised) from the sides
SUPERSAMPLE = 4  # polygon and loops are drawn this many times larger, then reduced: anti-aliasing
MAX_CANVAS = 4096  # but the supersampled canvas's longer side stays below this (large faces need less)

# Randomised within these bounds by simulate_mask (fractions of the eye-mouth distance, degrees).
TOP_RANGE = (0.35, 0.45)
CHIN_DROP_RANGE = (0.05, 0.15)
WRAP_RANGE = (70.0, 80.0)


@dataclass(frozen=True)
class _Shape:
    """A style's outline in normalised mask coordinates: x across (-1 left edge,
    1 right edge), y down (0 the nose bridge, 1 the lowest point under the chin)."""

    top_drop: float  # how far the top edge falls from the nose bridge to the sides
    top_power: float  # below 1 a pointed peak at the nose bridge, above 1 a flat top
    side_end: float  # y where the straight sides end and the rounded bottom begins
    roundness: float  # superellipse exponent of the bottom: 2 round, more boxy, less pointed


SHAPES: dict[str, _Shape] = {
    "surgical": _Shape(top_drop=0.06, top_power=1.6, side_end=0.5, roundness=2.8),
    "cloth": _Shape(top_drop=0.16, top_power=1.1, side_end=0.35, roundness=1.9),
    "n95": _Shape(top_drop=0.24, top_power=0.9, side_end=0.3, roundness=1.7),
    "black": _Shape(top_drop=0.16, top_power=1.1, side_end=0.35, roundness=1.9),
    "kn95": _Shape(top_drop=0.3, top_power=0.8, side_end=0.22, roundness=1.5),
    "printed": _Shape(top_drop=0.14, top_power=1.2, side_end=0.4, roundness=2.1),
}

# Base colours (RGB) each style draws from.
PALETTES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "surgical": (
        (150, 195, 225), (112, 165, 210), (140, 200, 195), (236, 238, 240),
        (240, 182, 196), (40, 40, 44), (190, 182, 222),
    ),
    "cloth": (
        (36, 46, 82), (126, 128, 133), (200, 181, 152), (168, 42, 48), (42, 86, 62),
        (110, 36, 52), (72, 102, 142), (228, 228, 225), (200, 160, 62), (224, 152, 172),
    ),
    "n95": ((243, 243, 239), (236, 232, 222), (226, 226, 226), (216, 223, 229)),
    "black": ((30, 30, 32), (44, 44, 47), (28, 30, 40)),
    "kn95": ((240, 240, 238), (222, 222, 224), (34, 34, 36), (232, 200, 206), (160, 170, 182)),
    "printed": (
        (230, 90, 80), (250, 210, 80), (90, 160, 220), (120, 190, 120), (250, 245, 235),
        (60, 60, 110), (240, 150, 190), (160, 110, 200), (40, 40, 40),
    ),
}
# Fabric noise in grey levels: fine grain, and blotches (non-woven layers, uneven dye).
GRAIN = {"surgical": 1.5, "cloth": 2.5, "n95": 2.0, "black": 2.0, "kn95": 1.5, "printed": 2.5}
BLOTCHES = {"surgical": 2.0, "cloth": 2.5, "n95": 4.0, "black": 2.5, "kn95": 2.5, "printed": 2.0}
CLOTH_PATTERNS = ("plain", "stripes", "dots", "checks")
CLOTH_PATTERN_WEIGHTS = (0.4, 0.2, 0.2, 0.2)
LOOP_CHANCE = {"surgical": 0.7, "cloth": 0.4, "n95": 0.5, "black": 0.4, "kn95": 0.8, "printed": 0.4}
SEAM_CHANCE = {"surgical": 0.0, "cloth": 0.5, "n95": 1.0, "black": 0.5, "kn95": 1.0, "printed": 0.3}


@dataclass(frozen=True)
class _Geometry:
    """Where one mask lies on one face.

    Face coordinates (s, t) are pixels along ``u`` (the eye line, left to
    right) and ``v`` (down the face) from ``origin`` (the eye midpoint). The
    face is a cylinder of ``radius`` whose axis is at s = ``centre``, turned by
    ``yaw`` (radians, positive: towards image right); the mask covers the
    angles ``yaw`` +- ``wrap`` from t = ``top`` to t = ``bottom``. On a turned
    face the nose tip sticks out past the cheek, so the half of the mask on
    the nose's side is widened by ``stretch`` from the top down to the nose
    (t = ``nose``), tapering back to the cylinder at the bottom: the tent the
    fabric makes over the nose. ``peak`` is the normalised x of the top
    edge's highest point, over the nose.
    """

    origin: np.ndarray
    u: np.ndarray
    v: np.ndarray
    eye_mouth: float
    centre: float
    radius: float
    yaw: float
    wrap: float
    top: float
    bottom: float
    nose: float
    shape: _Shape
    stretch: float = 1.0
    peak: float = 0.0

    @property
    def midline(self) -> float:
        """s of the face's vertical midline (the mask's centre)."""
        return self.centre + self.radius * math.sin(self.yaw)

    def surface_angle(self, x: np.ndarray) -> np.ndarray:
        """The cylinder angle (0 facing the camera) of normalised x, clipped to the silhouette."""
        return np.clip(self.yaw + x * self.wrap, -math.pi / 2, math.pi / 2)

    def half_radius(self, side: np.ndarray, t: np.ndarray) -> np.ndarray:
        """The radius of the mask's half on ``side`` (-1 left, 1 right of the midline) at height t."""
        taper = np.clip((self.bottom - t) / max(self.bottom - self.nose, 1e-6), 0.0, 1.0)
        return np.where(side * self.yaw > 0, self.radius * (1 + (self.stretch - 1) * taper), self.radius)

    def to_image(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Image (x, y) points, shape (..., 2), of normalised mask coordinates."""
        t = self.top + y * (self.bottom - self.top)
        s = self.midline + self.half_radius(np.sign(x), t) * (np.sin(self.surface_angle(x)) - math.sin(self.yaw))
        return self.origin + s[..., None] * self.u + t[..., None] * self.v

    def to_mask(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Normalised x, y and the surface angle of image points, shape (..., 2)."""
        offset = points - self.origin
        s, t = offset @ self.u, offset @ self.v
        across = s - self.midline
        sine = math.sin(self.yaw) + across / self.half_radius(np.sign(across), t)
        angle = np.arcsin(np.clip(sine, -1.0, 1.0))
        return (angle - self.yaw) / self.wrap, (t - self.top) / (self.bottom - self.top), angle


def _check_style(style: str) -> None:
    if style not in STYLES + TRAINING_STYLES:
        raise ValueError(f"unknown mask style {style!r}; valid styles: {', '.join(STYLES + TRAINING_STYLES)}")


def _normalised_outline(shape: _Shape, peak: float, points: int = 49) -> np.ndarray:
    """The outline (N, 2) in normalised coordinates: the top edge left to right
    (highest at x = ``peak``), then the right side, the rounded bottom and the
    left side back up. ``points`` per edge is odd, so the chin is a vertex."""
    x = np.linspace(-1.0, 1.0, points)
    from_peak = np.abs(x - peak) / np.where(x > peak, 1 - peak, 1 + peak)
    top = np.column_stack((x, shape.top_drop * from_peak**shape.top_power))
    a = np.linspace(0.0, math.pi, 2 * points - 1)
    cos, sin = np.cos(a), np.sin(a)
    exponent = 2.0 / shape.roundness
    bottom = np.column_stack(
        (np.sign(cos) * np.abs(cos) ** exponent, shape.side_end + (1 - shape.side_end) * sin**exponent)
    )
    return np.vstack((top, bottom))


def _outline(geometry: _Geometry) -> np.ndarray:
    """The mask's outline (N, 2) in image coordinates."""
    return geometry.to_image(*_normalised_outline(geometry.shape, geometry.peak).T)


def _geometry(
    keypoints: np.ndarray, box: Box, style: str, top: float, chin_drop: float, wrap_deg: float
) -> _Geometry:
    """Fit the mask of ``style`` to a face; see :func:`mask_polygon` for the parameters."""
    _check_style(style)
    points = np.asarray(keypoints, dtype=np.float64).reshape(5, 2)
    left_eye, right_eye, nose, mouth_left, mouth_right = points
    eyes = (left_eye + right_eye) / 2
    eye_line = right_eye - left_eye
    eye_distance = max(float(np.hypot(*eye_line)), 1.0)
    u = eye_line / eye_distance
    v = np.array([-u[1], u[0]])
    mouth = (mouth_left + mouth_right) / 2
    eye_mouth = max(float((mouth - eyes) @ v), 0.3 * eye_distance)  # guard against degenerate keypoints
    nose_s, nose_t = float((nose - eyes) @ u), float((nose - eyes) @ v)

    yaw = float(np.clip(math.atan(nose_s / eye_distance / YAW_NOSE_RATIO), -MAX_YAW, MAX_YAW))
    radius_eyes = RADIUS_PER_EYE_DISTANCE * eye_distance / math.cos(yaw)
    tilt = abs(math.atan2(u[1], u[0]))
    radius_box = box[2] / (math.cos(tilt) + 1.3 * math.sin(tilt)) / 2  # an upright box around a tilted face
    radius = float(np.clip((radius_eyes + radius_box) / 2, 0.85 * radius_eyes, 1.2 * radius_eyes))
    centre = float((mouth - eyes) @ u) - radius * math.sin(yaw)

    top_t = max(min(top * eye_mouth, nose_t - NOSE_MARGIN * eye_mouth), MIN_TOP * eye_mouth)
    box_bottom_t = float((np.array([box[0] + box[2] / 2, box[1] + box[3]]) - eyes) @ v)
    chin_t = float(np.clip((CHIN_RATIO * eye_mouth + box_bottom_t) / 2, 1.45 * eye_mouth, 1.95 * eye_mouth))
    geometry = _Geometry(
        origin=eyes, u=u, v=v, eye_mouth=eye_mouth, centre=centre, radius=radius, yaw=yaw,
        wrap=math.radians(wrap_deg), top=top_t, bottom=chin_t + chin_drop * eye_mouth, nose=nose_t,
        shape=SHAPES[style],
    )  # fmt: skip

    # Widen the nose's side until it reaches past the nose tip, then peak the top edge over the nose.
    side = math.copysign(1.0, yaw)
    reach = side * radius * (math.sin(float(geometry.surface_angle(np.float64(side)))) - math.sin(yaw))
    needed = side * (nose_s - geometry.midline) + NOSE_MARGIN * eye_mouth
    geometry = replace(geometry, stretch=max(1.0, needed / reach))
    peak = float(np.clip(geometry.to_mask(nose)[0], -MAX_PEAK, MAX_PEAK))
    return replace(geometry, peak=peak)


def mask_polygon(
    keypoints: np.ndarray,
    box: Box,
    style: str = "surgical",
    *,
    top: float = 0.4,
    chin_drop: float = 0.1,
    wrap_deg: float = 75.0,
) -> np.ndarray:
    """The outline (N, 2) of image (x, y) points of a ``style`` mask on a face.

    ``keypoints`` are the detector's (5, 2) left_eye, right_eye, nose,
    mouth_left, mouth_right; ``box`` its (x, y, w, h). ``top`` places the
    mask's top at the nose bridge that share of the eye-mouth distance below
    the eye line (moved up to clear the nose, down to clear the eyes);
    ``chin_drop`` extends it that share below the estimated chin; ``wrap_deg``
    is how far round the face (degrees from the front) it reaches each side.
    """
    return _outline(_geometry(keypoints, box, style, top, chin_drop, wrap_deg))


def simulate_mask(
    image: np.ndarray,
    keypoints: np.ndarray,
    box: Box,
    style: str | None = None,
    rng: Rng = None,
) -> np.ndarray:
    """Return a copy of the HxWx3 uint8 RGB image with a simulated mask on that face.

    ``style`` is one of :data:`STYLES`, None for a random one. ``rng`` (a
    generator, a seed or None) draws the style, the placement within
    realistic bounds, the colour and the pattern; a generator is advanced, so
    several faces can share one.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 RGB image, got {image.shape} {image.dtype}")
    generator = np.random.default_rng(rng)
    if style is None:
        style = str(generator.choice(STYLES))
    geometry = _geometry(
        keypoints,
        box,
        style,
        top=generator.uniform(*TOP_RANGE),
        chin_drop=generator.uniform(*CHIN_DROP_RANGE),
        wrap_deg=generator.uniform(*WRAP_RANGE),
    )
    return _render(image, geometry, style, generator)


def mask_faces_with_styles(
    image: np.ndarray,
    detections: Sequence[Detection],
    styles: Sequence[str] = STYLES,
    rng: Rng = None,
) -> tuple[np.ndarray, list[str]]:
    """Mask every face in ``detections``, each with a style drawn from ``styles``;
    return the image and the style used for each face."""
    if not styles:
        raise ValueError("no mask styles given")
    for style in styles:
        _check_style(style)
    generator = np.random.default_rng(rng)
    masked, used = np.array(image, copy=True), []
    for detection in detections:
        style = str(generator.choice(list(styles)))
        masked = simulate_mask(masked, detection.keypoints, detection.box, style, generator)
        used.append(style)
    log.debug("masked %d face(s): %s", len(used), used)
    return masked, used


def mask_faces(
    image: np.ndarray,
    detections: Sequence[Detection],
    styles: Sequence[str] = STYLES,
    rng: Rng = None,
) -> np.ndarray:
    """A copy of ``image`` with every face in ``detections`` masked (styles drawn from ``styles``)."""
    return mask_faces_with_styles(image, detections, styles, rng)[0]


# --------------------------------------------------------------------------
# Rendering.


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    z = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return z * z * (3 - 2 * z)


def _blur(values: np.ndarray, radius: float) -> np.ndarray:
    """Gaussian blur of a 2-D array in [0, 1] (through Pillow's 8-bit blur)."""
    image = Image.fromarray(np.rint(np.clip(values, 0, 1) * 255).astype(np.uint8))
    return np.asarray(image.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32) / 255


def _draw_supersampled(
    size: tuple[int, int], offset: np.ndarray, draw: Callable[[ImageDraw.ImageDraw, Callable, int], None]
) -> np.ndarray:
    """Coverage in [0, 1] of the crop at ``offset`` of ``size`` by what
    ``draw(canvas, to_canvas, factor)`` draws on a canvas up to :data:`SUPERSAMPLE`
    times larger (anti-aliased by box reduction); ``to_canvas`` maps image
    points (N, 2) to canvas coordinates, pixel centres at integers."""
    factor = max(1, min(SUPERSAMPLE, MAX_CANVAS // max(size)))
    canvas = Image.new("L", (size[0] * factor, size[1] * factor), 0)

    def to_canvas(points: np.ndarray) -> list[tuple[float, float]]:
        return [tuple(p) for p in ((points - offset + 0.5) * factor - 0.5).tolist()]

    draw(ImageDraw.Draw(canvas), to_canvas, factor)
    return np.asarray(canvas.reduce(factor), dtype=np.float32) / 255


def _ear_loops(geometry: _Geometry, style: str, generator: np.random.Generator) -> list[np.ndarray]:
    """Elastic loops (polylines) from the mask's side corners back to the ear,
    on each side whose ear is visible; none when the draw says so."""
    if generator.uniform() >= LOOP_CHANCE[style]:
        return []
    shape, loops = geometry.shape, []
    for side in (-1.0, 1.0):
        ear_angle = geometry.yaw + side * EAR_ANGLE
        if abs(ear_angle) > EAR_VISIBLE:
            continue  # the ear is behind the head
        ear_s = geometry.centre + EAR_OUT * geometry.radius * math.sin(np.clip(ear_angle, -math.pi / 2, math.pi / 2))
        for corner_y, ear_t in ((shape.top_drop, 0.05), (shape.side_end, 0.8)):
            start = geometry.to_image(np.array(side), np.array(corner_y))
            end = geometry.origin + ear_s * geometry.u + ear_t * geometry.eye_mouth * geometry.v
            bulge = (start + end) / 2 + side * 0.04 * geometry.radius * geometry.u
            k = np.linspace(0, 1, 10)[:, None]
            loops.append((1 - k) ** 2 * start + 2 * k * (1 - k) * bulge + k**2 * end)  # quadratic Bezier
    return loops


def _pattern(
    style: str, base: np.ndarray, across: np.ndarray, down: np.ndarray, scale: float, generator: np.random.Generator
) -> np.ndarray:
    """The fabric's colour (h, w, 3) at arc-length coordinates ``across`` and
    ``down`` (pixels): plain, or for cloth stripes, dots or checks with a
    period proportional to ``scale`` (the eye-mouth distance)."""
    flat = np.broadcast_to(base, across.shape + (3,)).astype(np.float32)
    if style == "printed":
        return _printed(base, across, down, scale, generator)
    if style != "cloth":
        return flat
    pattern = CLOTH_PATTERNS[generator.choice(len(CLOTH_PATTERNS), p=CLOTH_PATTERN_WEIGHTS)]
    if pattern == "plain":
        return flat
    palette = [c for c in PALETTES["cloth"] if np.abs(np.subtract(c, base)).sum() > 120]
    second = np.array(palette[generator.integers(len(palette))], dtype=np.float32)
    period = generator.uniform(0.18, 0.32) * scale

    def stripes(q: np.ndarray, duty: float) -> np.ndarray:
        return 0.5 + 0.5 * np.tanh(3.0 * (np.cos(2 * math.pi * q / period) - math.cos(math.pi * duty)))

    if pattern == "stripes":
        q = down if generator.uniform() < 0.6 else (across + down) / math.sqrt(2)
        amount = stripes(q, generator.uniform(0.3, 0.5))
    elif pattern == "dots":
        row = np.floor(down / period)
        dx = (across / period + 0.5 * (row % 2)) % 1 - 0.5
        dy = (down / period) % 1 - 0.5
        distance = np.hypot(dx, dy) * period
        amount = np.clip(generator.uniform(0.12, 0.22) * period - distance + 0.5, 0, 1)
    else:  # checks (gingham): two stripe sets, overlaps darkest
        amount = (stripes(across, 0.5) + stripes(down, 0.5)) / 2
    return flat + amount[..., None] * (second - flat)


def _printed(
    base: np.ndarray, across: np.ndarray, down: np.ndarray, scale: float, generator: np.random.Generator
) -> np.ndarray:
    """A printed motif: blobs of two more colours of the palette over ``base``, from a few random waves."""
    palette = [np.array(c, dtype=np.float32) for c in PALETTES["printed"] if np.abs(np.subtract(c, base)).sum() > 100]
    picked = generator.choice(len(palette), 2, replace=False)
    period = generator.uniform(0.25, 0.5) * scale
    out = np.broadcast_to(base, across.shape + (3,)).astype(np.float32)
    for k in picked:
        field = np.zeros(across.shape, dtype=np.float32)
        for _ in range(3):
            angle, phase = generator.uniform(0, math.pi), generator.uniform(0, 2 * math.pi)
            field += np.sin((math.cos(angle) * across + math.sin(angle) * down) * 2 * math.pi / period + phase)
        amount = 0.5 + 0.5 * np.tanh(4.0 * (field / 3 - generator.uniform(0.2, 0.45)))
        out = out + amount[..., None] * (palette[k] - out)
    return out


def _shading(
    style: str,
    geometry: _Geometry,
    x: np.ndarray,
    y: np.ndarray,
    angle: np.ndarray,
    across: np.ndarray,
    generator: np.random.Generator,
) -> np.ndarray:
    """Brightness factor (h, w): the cylinder's light falloff, the chin turning
    away, a random light direction, and the style's pleats or seam."""
    light_side = generator.uniform(-0.25, 0.25)
    shade = (0.72 + 0.28 * np.cos(angle)) * (1 + light_side * np.sin(angle))
    shade *= 1 - 0.2 * _smoothstep(0.55, 1.05, y)  # the part under the chin faces down
    shade *= 1 + 0.06 * np.exp(-((x / 0.35) ** 2)) * (1 - _smoothstep(0.0, 0.5, y))  # nose bridge catches light
    height = geometry.bottom - geometry.top
    line = max(0.7, 0.02 * height)
    if style == "surgical":
        inside = 1 - _smoothstep(0.84, 0.9, np.abs(x))  # pleats stop at the side bindings
        for position in np.linspace(0.26, 0.72, 3) + generator.uniform(-0.03, 0.03, 3):
            fold = 0.5 + (position - 0.5) * (1 - 0.3 * x**2)  # pleats converge towards the ears
            d = (y - fold) * height  # pixels below the fold: a dark crease, the fold's lit face just above it
            crease, lit = np.exp(-((d / line) ** 2)), np.exp(-(((d + 2.5 * line) / (2 * line)) ** 2))
            shade *= 1 + inside * (0.07 * lit - 0.2 * crease)
        binding = (np.abs(x) - 0.9) * geometry.wrap * geometry.radius
        shade *= 1 - 0.05 * _smoothstep(-1.0, 0.0, binding) - 0.12 * np.exp(-((binding / line) ** 2))
    if generator.uniform() < SEAM_CHANCE[style]:
        shade *= 1 - 0.18 * np.exp(-((across / line) ** 2)) + 0.04 * np.tanh(across / (4 * line)) * np.sign(light_side)
    return shade


def _render(image: np.ndarray, geometry: _Geometry, style: str, generator: np.random.Generator) -> np.ndarray:
    """Composite the mask described by ``geometry`` onto a copy of ``image``."""
    height, width = image.shape[:2]
    scale = geometry.eye_mouth
    outline = _outline(geometry)
    loops = _ear_loops(geometry, style, generator)
    edge_blur = max(0.5, 0.02 * scale)
    shadow_blur = 0.1 * scale
    pad = math.ceil(3 * shadow_blur + 0.1 * scale) + 2
    corners = np.vstack([outline, *loops])
    x0, y0 = (np.floor(corners.min(axis=0)) - pad).astype(int).clip(0)
    x1, y1 = np.ceil(corners.max(axis=0) + pad).astype(int) + 1
    x1, y1 = min(x1, width), min(y1, height)
    result = image.copy()
    if x1 <= x0 or y1 <= y0:
        return result
    size, offset = (x1 - x0, y1 - y0), np.array([x0, y0], dtype=np.float64)

    coverage = _draw_supersampled(
        size, offset, lambda canvas, to_canvas, factor: canvas.polygon(to_canvas(outline), fill=255)
    )
    alpha = _blur(coverage, edge_blur)

    yy, xx = np.mgrid[y0:y1, x0:x1]
    x, y, angle = geometry.to_mask(np.stack((xx, yy), axis=-1).astype(np.float64))
    seam = geometry.peak * np.clip(1 - y, 0, 1)  # from the peak over the nose down to the chin
    across = (x - seam) * geometry.wrap * geometry.radius  # arc length from the seam, pixels
    down = y * (geometry.bottom - geometry.top)

    base = np.array(PALETTES[style][generator.integers(len(PALETTES[style]))], dtype=np.float32)
    base = np.clip(base + generator.normal(0, 5, 3), 0, 255)
    colour = _pattern(style, base, across, down, scale, generator)
    shade = _shading(style, geometry, x, y, angle, across, generator)

    crop = image[y0:y1, x0:x1].astype(np.float32)
    luminance = crop @ np.float32([0.299, 0.587, 0.114]) / 255
    ambient = _blur(luminance, 0.3 * scale)
    # The photo's own light: brightness around each pixel relative to the face's, softened, and the exposure.
    reference = float(np.median(ambient[coverage > 0.5])) if (coverage > 0.5).any() else 0.5
    lighting = np.clip(ambient / max(reference, 1e-3), 0.6, 1.5) ** 0.45 * np.clip(reference / 0.55, 0.7, 1.1) ** 0.5
    hem = _blur(coverage, 0.05 * scale)
    shade *= 1 - 0.1 * np.clip(2 * (1 - hem), 0, 1) ** 2  # hems and edges fold away from the light

    grain = generator.normal(0, 1, coverage.shape).astype(np.float32)
    coarse = generator.normal(0, 1, (size[1] // 3 + 2, size[0] // 3 + 2)).astype(np.float32)
    blotches = np.asarray(Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC))
    noise = GRAIN[style] * grain + BLOTCHES[style] * blotches
    fabric = colour * (shade * lighting)[..., None] + noise[..., None]
    if style == "black":  # matte cloth still has a faint sheen where it faces the light
        fabric += (14 * np.cos(angle) ** 4 * (1 - _smoothstep(0.3, 1.0, y)) * lighting)[..., None]

    drop = max(1, round(0.06 * scale))
    shadow_source = np.zeros_like(coverage)
    shadow_source[drop:] = coverage[:-drop]  # the mask's lower edge casts its shadow downwards
    shadow = 0.35 * _blur(shadow_source, shadow_blur) * (1 - alpha) * _smoothstep(0.5, 0.8, y)
    out = crop * (1 - shadow)[..., None]
    out = out * (1 - alpha[..., None]) + np.clip(fabric, 0, 255) * alpha[..., None]

    loop_alpha = np.zeros_like(alpha)
    if loops:

        def draw_loops(canvas: ImageDraw.ImageDraw, to_canvas: Callable, factor: int) -> None:
            for loop in loops:
                canvas.line(to_canvas(loop), fill=255, width=max(1, round(0.045 * scale * factor)))

        loop_alpha = _draw_supersampled(size, offset, draw_loops)
        loop_colour = np.float32([236, 236, 236]) if style in ("surgical", "n95") else base
        loop_colour = loop_colour * np.clip(lighting, 0.6, 1.2)[..., None]
        out = out * (1 - loop_alpha[..., None]) + loop_colour * loop_alpha[..., None]

    changed = (alpha > 0) | (shadow > 0) | (loop_alpha > 0)
    region = result[y0:y1, x0:x1]
    region[changed] = np.rint(np.clip(out, 0, 255)).astype(np.uint8)[changed]
    return result
