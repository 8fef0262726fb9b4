"""Acquisition envelope: is the mouth found on a fresh frame across frame sizes, face sizes, roll and light?

    python benchmarks/acquisition_envelope.py [--data ../shared/data/lips/val] [--faces 30] [--models DIR] [--json]

Each val face is composited (``evaluation.synth.composite``) into frames of 320x240 to 1920x1080, filling
15-90% of the frame height, rolled -30/0/+30 degrees, at normal exposure and at 0.3x (low light), and
given to a fresh tracker: the first frame of a call, i.e. a full acquisition. A mouth counts as found
when the centre of the predicted lips lies inside the true lips' bounding box; the IoU says how well.
A mouth is an oversized "ring" when its lips cover more than twice the true lips' area (the box
settled too wide, and lipstick lands on the skin around the mouth).
Yaw cannot be synthesised from 2D photos; the val faces and the clips carry their own yaw.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vcam_lipstick.evaluation.evaluate import labelled_pairs, read_mask  # noqa: E402
from vcam_lipstick.evaluation.synth import composite  # noqa: E402
from vcam_lipstick.media import read_image  # noqa: E402
from vcam_lipstick.model.bundle import load_tracker  # noqa: E402
from vcam_lipstick.processing.mask import lip_pixels  # noqa: E402
from vcam_lipstick.processing.metrics import iou  # noqa: E402
from report import measure_and_print  # noqa: E402  (benchmarks/, beside this script)

SIZES = ((320, 240), (640, 480), (1280, 720), (1920, 1080))
FACE_FRACTIONS = (0.15, 0.3, 0.6, 0.9)
ROLLS = (-30.0, 0.0, 30.0)
EXPOSURES = {"normal": 1.0, "low light": 0.3}


def found(predicted: np.ndarray, truth: np.ndarray) -> bool:
    """The predicted lips are centred on the true mouth."""
    if not predicted.any():
        return False
    ys, xs = np.nonzero(predicted)
    ty, tx = np.nonzero(truth)
    return bool(tx.min() <= xs.mean() <= tx.max() and ty.min() <= ys.mean() <= ty.max())


def oversized(predicted: np.ndarray, truth: np.ndarray) -> bool:
    """Lipstick over more than twice the area of the true lips: a ring or blob around the mouth."""
    return bool(np.count_nonzero(predicted) > 2 * np.count_nonzero(truth))


def measure(data: Path, faces: int, models: Path | None = None) -> dict:
    tracker = load_tracker(threads=1, directory=models)
    pairs = labelled_pairs(data)[:faces]
    by: dict[str, dict[str, list[tuple[bool, float, bool]]]] = defaultdict(lambda: defaultdict(list))
    for i, (image_path, mask_path) in enumerate(pairs):
        image = read_image(image_path)
        mask = read_mask(mask_path, image.shape[:2])
        for j, (size, fraction, roll, (light, exposure)) in enumerate(
                itertools.product(SIZES, FACE_FRACTIONS, ROLLS, EXPOSURES.items())):
            frame, labels = composite(image, mask, np.random.default_rng((7, i, j)), size, fraction, roll, exposure)
            truth = (labels == 1) | (labels == 2)
            if not truth.any():
                continue  # the mouth fell outside the frame
            tracker.reset()
            predicted = lip_pixels(tracker.process(frame), frame.shape)
            hit = found(predicted, truth)
            score = (hit, iou(predicted, truth), oversized(predicted, truth))
            for axis, key in (("frame", f"{size[0]}x{size[1]}"), ("face height", f"{fraction:.0%}"),
                              ("roll", f"{roll:+.0f} deg"), ("light", light), ("all", "all")):
                by[axis][key].append(score)
    return {axis: {key: {"frames": len(v), "found": float(np.mean([f for f, _, _ in v])),
                         "lip_iou_mean": float(np.mean([s for _, s, _ in v])),
                         "rings": int(sum(r for _, _, r in v))} for key, v in groups.items()}
            for axis, groups in by.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/lips/val"))
    parser.add_argument("--faces", type=int, default=30)
    parser.add_argument("--models", type=Path, help="a folder with lips.json and face_detector.json (default: shipped)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    return measure_and_print(lambda: measure(args.data, args.faces, args.models), args.json, print_table)


def print_table(result: dict) -> None:
    for axis, groups in result.items():
        for key, r in groups.items():
            print(f"{axis:12s} {key:10s} found {r['found']:6.1%}  IoU {r['lip_iou_mean']:.3f}  rings {r['rings']:3d}"
                  f"  ({r['frames']} frames)")

if __name__ == "__main__":
    raise SystemExit(main())
