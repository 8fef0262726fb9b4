"""How far apart are two trained lip models, and how far is each from the labels?

    python benchmarks/model_agreement.py --a DIR --b DIR [--data ../shared/data/lips/val] [--json]

Both models run the full-frame path that ``vcam-lipstick eval`` runs. If two networks trained apart
(another size, another start) agree with each other much better than either agrees with the labels, the
rest of the disagreement is in the labels, not in what a network can learn from the images.
A model folder holds lips.json and face_detector.json (``vcam-lipstick-train --export ... --models DIR``,
then copy the detector in); leave a side out for the shipped models.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vcam_lipstick.evaluation.evaluate import labelled_pairs, predict_labels, read_mask  # noqa: E402
from vcam_lipstick.media import read_image  # noqa: E402
from vcam_lipstick.model.bundle import load_tracker  # noqa: E402
from vcam_lipstick.processing.metrics import iou, lips  # noqa: E402
from report import measure_and_print  # noqa: E402  (benchmarks/, beside this script)


def measure(data: Path, a: Path | None, b: Path | None) -> dict:
    trackers = load_tracker(threads=1, directory=a), load_tracker(threads=1, directory=b)
    rows = []
    for image_path, mask_path in labelled_pairs(data):
        image = read_image(image_path)
        truth = read_mask(mask_path, image.shape[:2])
        pa, pb = (predict_labels(t, image) for t in trackers)
        rows.append((iou(lips(pa), lips(pb)), iou(lips(pa), lips(truth)), iou(lips(pb), lips(truth)),
                     iou(pa == 1, pb == 1), iou(pa == 2, pb == 2)))
    r = np.array(rows, float)
    names = ("a_vs_b", "a_vs_labels", "b_vs_labels", "upper_a_vs_b", "lower_a_vs_b")
    return {"images": len(rows),
            **{f"{n}_mean": float(v) for n, v in zip(names, np.nanmean(r, axis=0))},
            **{f"{n}_median": float(v) for n, v in zip(names, np.nanmedian(r, axis=0))}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", type=Path, help="first model folder (default: shipped)")
    parser.add_argument("--b", type=Path, help="second model folder (default: shipped)")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/lips/val"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    return measure_and_print(lambda: measure(args.data, args.a, args.b), args.json, print_table)


def print_table(result: dict) -> None:
    print(f"{result['images']} images, union-lip IoU (mean / median per image)")
    for name, label in (("a_vs_b", "model A vs model B"), ("a_vs_labels", "model A vs labels"),
                        ("b_vs_labels", "model B vs labels"), ("upper_a_vs_b", "upper lip, A vs B"),
                        ("lower_a_vs_b", "lower lip, A vs B")):
        print(f"{label:20s} {result[name + '_mean']:.4f} / {result[name + '_median']:.4f}")


if __name__ == "__main__":
    raise SystemExit(main())
