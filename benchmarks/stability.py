"""Stability: one face frame repeated 60 times with fresh sensor noise; consecutive lip masks must agree.

    python benchmarks/stability.py [--clips ../shared/data/clips/videos] [--noise 4] [--json]

Uses the first frame of every clip (and the built-in demo face), tracking as in a live call.
Reports the IoU of consecutive union-lip masks after the first 5 frames (acquisition settling).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vcam_lipstick.devices.sources import DemoSource  # noqa: E402
from vcam_lipstick.model.bundle import load_tracker  # noqa: E402
from vcam_lipstick.processing.mask import lip_pixels  # noqa: E402
from vcam_lipstick.processing.metrics import iou  # noqa: E402


def repeat_with_noise(tracker, frame, noise, repeats=60, seed=0):
    tracker.reset()
    rng = np.random.default_rng(seed)
    prev, scores = None, []
    for i in range(repeats):
        noisy = np.clip(frame + rng.normal(0, noise, frame.shape), 0, 255).astype(np.uint8)
        lips = lip_pixels(tracker.process(noisy), frame.shape)
        if prev is not None and i >= 5:
            scores.append(iou(lips, prev) if (lips.any() or prev.any()) else 1.0)
        prev = lips
    return scores


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/clips/videos")
    ap.add_argument("--noise", type=float, default=4.0, help="sensor noise sigma, in levels")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    tracker = load_tracker()
    frames = {}
    with DemoSource(1280, 720) as demo:
        frames["demo"] = demo.read().copy()
    for path in sorted(args.clips.glob("*.mp4")) if args.clips.is_dir() else []:
        cap = cv2.VideoCapture(str(path))
        ok, frame = cap.read()
        cap.release()
        if ok:
            frames[path.stem] = frame
    rows = {}
    for name, frame in frames.items():
        s = repeat_with_noise(tracker, frame, args.noise)
        rows[name] = {"mean": float(np.mean(s)), "min": float(np.min(s))}
    summary = {"faces": len(rows), "noise_sigma": args.noise,
               "consecutive_iou_mean": float(np.mean([r["mean"] for r in rows.values()])),
               "consecutive_iou_worst_face_mean": float(min(r["mean"] for r in rows.values())),
               "consecutive_iou_min": float(min(r["min"] for r in rows.values()))}
    if args.json:
        print(json.dumps({"summary": summary, "faces": rows}))
    else:
        for name, r in rows.items():
            print(f"{name[:44]:<44} mean {r['mean']:.4f}  min {r['min']:.4f}")
        print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
