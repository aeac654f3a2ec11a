"""Where our detector's five keypoints lie in dlib's aligned face chip: the template of ``dlib-resnet`` models.

dlib's network was trained on chips cut by dlib's own alignment (its 5-point
shape predictor: eye corners and the bottom of the nose; ``get_face_chip``,
150 px, padding 0.25). Our detector gives other points (eye centres, nose tip,
mouth corners), so we measure where they land in dlib's chip: for each face,
dlib's shape predictor runs on our detector's box, the similarity transform
dlib would use maps our keypoints into the chip, and the template is their
mean. With it, ``maskface.crops.align_face`` cuts dlib's chip from our
keypoints alone (ID-M bare rank-1 97.8%, as with dlib's own alignment on the
same boxes), so dlib is not needed at run time. Runs in dlib's environment
(see ``training/dlib_teacher.py``) on faces exported by the project's:

    .venv/bin/python -m training export-faces runs/faces.npz --count 1500
    /tmp/dlibenv/bin/python training/dlib_template.py runs/faces.npz

Prints the template (``training.dlib_convert.CHIP_KEYPOINTS``) and the spread
of each point, as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import dlib
import face_recognition_models
import numpy as np
from PIL import Image

SIZE, PADDING = 150, 0.25
# dlib's get_face_chip_details for 5-point shapes: its template of the shape predictor's points, in [0, 1].
DLIB_POINTS = np.array([
    [0.8595674595992, 0.2134981538014], [0.6460604764104, 0.2289674387677], [0.1205750620789, 0.2137274526848],
    [0.3340850613712, 0.2290642403242], [0.4901123135679, 0.6277975316475],
])


def similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The least-squares similarity transform (2x3) of ``source`` onto ``target`` (Umeyama)."""
    s, t = source - source.mean(0), target - target.mean(0)
    u, singular, vt = np.linalg.svd(t.T @ s / len(s))
    sign = np.array([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt))])
    rotation = u @ np.diag(sign) @ vt
    scale = (singular * sign).sum() / (s**2).sum(axis=1).mean()
    return np.hstack([scale * rotation, (target.mean(0) - scale * rotation @ source.mean(0))[:, None]])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("faces", type=Path, help="the .npz of `python -m training export-faces`")
    args = parser.parse_args(argv)
    predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location())
    chip_points = (PADDING + DLIB_POINTS) / (2 * PADDING + 1) * SIZE
    mapped = []
    with np.load(args.faces) as faces:
        for path, (x, y, w, h), keypoints in zip(faces["files"], faces["boxes"], faces["keypoints"]):
            image = np.asarray(Image.open(str(path)).convert("RGB"))
            shape = predictor(image, dlib.rectangle(int(round(x)), int(round(y)), int(round(x + w)), int(round(y + h))))
            transform = similarity(np.array([[p.x, p.y] for p in shape.parts()], float), chip_points)
            mapped.append(keypoints.astype(float) @ transform[:, :2].T + transform[:, 2])
    mapped = np.array(mapped)
    print(json.dumps({"faces": len(mapped), "template": mapped.mean(0).round(2).tolist(), "spread_px": mapped.std(0).round(2).tolist()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
