"""Real clips: lips found per frame, mask stability, and tracking speed, per video.

    python benchmarks/clips_bench.py [--clips ../shared/data/clips/videos] [--json]

Every clip is a talking head, so "found" is counted over all frames, and also over the frames where
the face detector alone (score >= 0.9, run separately on every frame) sees a face. "tracked~fresh" is the
IoU between the tracked, smoothed mask and a fresh single-image segmentation of the same frame: whether
the mask follows the lips (consecutive-frame IoU mostly measures how fast the person moves).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vcam_lipstick.model.bundle import load_tracker  # noqa: E402
from vcam_lipstick.processing.mask import lip_pixels  # noqa: E402
from vcam_lipstick.processing.metrics import iou  # noqa: E402


def run_clip(tracker, still, path: Path) -> dict:
    cap = cv2.VideoCapture(str(path))
    size = f"{int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))}x{int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))}"
    frames = found = visible = found_visible = 0
    ms, agree, follow, prev = [], [], [], None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames += 1
        masks = tracker.process(frame)
        if not tracker.times.acquired:
            ms.append(tracker.times.total * 1000)
        has = bool(masks)
        found += has
        face = bool(tracker.detector.detect(frame, min_score=0.9))
        visible += face
        found_visible += face and has
        lips = lip_pixels(masks, frame.shape) if has else None
        if lips is not None and prev is not None and lips.any() and prev.any():
            agree.append(iou(lips, prev))
        prev = lips
        # Does the tracked (smoothed) mask follow the lips? Compare with a fresh per-frame segmentation.
        fresh = lip_pixels(still.segment_image(frame), frame.shape)
        if fresh.any() or (lips is not None and lips.any()):
            follow.append(iou(lips if lips is not None else np.zeros_like(fresh), fresh))
    cap.release()
    tracker.reset()
    return {
        "clip": path.name, "frames": frames, "size": size,
        "found_all": found / max(frames, 1), "found_where_face_visible": found_visible / max(visible, 1),
        "consecutive_iou_median": statistics.median(agree) if agree else None,
        "tracked_vs_fresh_iou_mean": statistics.fmean(follow) if follow else None,
        "track_ms_median": statistics.median(ms) if ms else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/clips/videos")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not args.clips.is_dir():
        print(f"no clips at {args.clips}", file=sys.stderr)
        return 1
    tracker, still = load_tracker(), load_tracker()
    rows = [run_clip(tracker, still, p) for p in sorted(args.clips.glob("*.mp4"))]
    total = sum(r["frames"] for r in rows)
    summary = {
        "clips": len(rows), "frames": total,
        "found_all": sum(r["found_all"] * r["frames"] for r in rows) / total,
        "found_where_face_visible_min_clip": min(r["found_where_face_visible"] for r in rows),
        "found_where_face_visible": sum(r["found_where_face_visible"] * r["frames"] for r in rows) / total,
        "consecutive_iou_median": statistics.median(r["consecutive_iou_median"] for r in rows
                                                    if r["consecutive_iou_median"] is not None),
        "tracked_vs_fresh_iou_mean": sum(r["tracked_vs_fresh_iou_mean"] * r["frames"] for r in rows) / total,
        "tracked_vs_fresh_iou_worst_clip": min(r["tracked_vs_fresh_iou_mean"] for r in rows),
    }
    if args.json:
        print(json.dumps({"summary": summary, "clips": rows}))
    else:
        for r in rows:
            print(f"{r['clip'][:44]:<44} {r['size']:>9} {r['frames']:>4} fr  found {100 * r['found_all']:5.1f}%  "
                  f"(face visible {100 * r['found_where_face_visible']:5.1f}%)  "
                  f"IoU(t,t-1) {r['consecutive_iou_median'] or 0:.3f}  tracked~fresh {r['tracked_vs_fresh_iou_mean']:.3f}  "
                  f"track {r['track_ms_median'] or 0:.2f} ms")
        print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
