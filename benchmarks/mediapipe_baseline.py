"""MediaPipe FaceMesh lip-polygon baseline (standalone; numpy + cv2 + mediapipe only).

This is the baseline a user would pick instead of vcam_lipstick: MediaPipe
FaceMesh (``refine_landmarks=False``, or True with ``--refine-landmarks``; ``static_image_mode=True`` for stills,
``False`` i.e. tracking mode for video) whose lip landmarks are filled as
polygons:

* upper lip (label 1) = region between the outer upper-lip contour and the
  inner upper-lip contour,
* lower lip (label 2) = region between the outer lower-lip contour and the
  inner lower-lip contour,
* inner mouth (label 3) = inside the inner lip contour.

Landmark index lists are the standard ones of ``FACEMESH_LIPS`` in mediapipe
(they are checked against ``mp.solutions.face_mesh.FACEMESH_LIPS`` at start-up).
The inner-mouth polygon is filled first and the two lip polygons on top of it,
so when the inner contours cross (closed mouth) the slivers count as lip.
No face -> all-background prediction.

It deliberately does NOT import vcam_lipstick (that needs numpy 2 /
onnxruntime); run it from its own venv, e.g.::

    /work/mpvenv/bin/python benchmarks/mediapipe_baseline.py \
        --data /work/shared/data/lips/val [--video clip.mp4] [--json]

``--data DIR`` holds ``images/*.jpg`` and ``masks/<stem>.png`` (single-channel:
0 background, 1 upper lip, 2 lower lip, 3 inner mouth). Reported: per-image
mean and pooled (all pixels) IoU for upper, lower, inner and union-lip (1|2),
lip recall, and median ms per image (RGB conversion + FaceMesh call + polygon
fill). An image where both prediction and truth are empty for a class is
skipped for that class's per-image mean.

``--video FILE`` runs FaceMesh in tracking mode on up to 150 frames resized to
1280x720 and reports median ms per frame (same timed section) and the
fraction of frames with a face.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import mediapipe as mp  # noqa: E402

cv2.setNumThreads(1)

# Standard FaceMesh lip contours (corner to corner, left 61/78 -> right 291/308).
OUTER_UPPER = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291]
OUTER_LOWER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291]
INNER_UPPER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308]
INNER_LOWER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308]

SHIFT = 4  # sub-pixel polygon fill
NAMES = {"upper": (1,), "lower": (2,), "inner": (3,), "lip": (1, 2)}


def verify_indices() -> None:
    """Check the hard-coded chains against mediapipe's FACEMESH_LIPS."""
    ref = {frozenset(e) for e in mp.solutions.face_mesh.FACEMESH_LIPS}
    ours = set()
    for chain in (OUTER_UPPER, OUTER_LOWER, INNER_UPPER, INNER_LOWER):
        ours |= {frozenset(e) for e in zip(chain[:-1], chain[1:])}
    if ours != ref:
        raise SystemExit(f"lip index mismatch: only ours {ours - ref}, only mediapipe {ref - ours}")


def polygons(lm, w: int, h: int):
    pts = np.array([(p.x * w, p.y * h) for p in lm.landmark], np.float64)

    def poly(idx):
        return np.round(pts[idx] * (1 << SHIFT)).astype(np.int32)

    upper = poly(OUTER_UPPER + INNER_UPPER[::-1])
    lower = poly(OUTER_LOWER + INNER_LOWER[::-1])
    inner = poly(INNER_UPPER + INNER_LOWER[::-1][1:-1])
    return upper, lower, inner


def predict(mesh, bgr: np.ndarray) -> tuple[np.ndarray, bool]:
    h, w = bgr.shape[:2]
    res = mesh.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    out = np.zeros((h, w), np.uint8)
    if not res.multi_face_landmarks:
        return out, False
    upper, lower, inner = polygons(res.multi_face_landmarks[0], w, h)
    cv2.fillPoly(out, [inner], 3, cv2.LINE_8, SHIFT)
    cv2.fillPoly(out, [upper], 1, cv2.LINE_8, SHIFT)
    cv2.fillPoly(out, [lower], 2, cv2.LINE_8, SHIFT)
    return out, True


def eval_data(data: str, refine: bool = False) -> dict:
    imgs = sorted(glob.glob(os.path.join(data, "images", "*.jpg")))
    if not imgs:
        raise SystemExit(f"no images in {data}/images")
    per = {k: [] for k in NAMES}
    pooled = {k: [0, 0] for k in NAMES}  # intersection, union
    rec_per, rec_tp, rec_gt = [], 0, 0
    times, faces = [], 0
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1,
                                         refine_landmarks=refine) as mesh:
        for path in imgs:
            stem = os.path.splitext(os.path.basename(path))[0]
            gt = cv2.imread(os.path.join(data, "masks", stem + ".png"), cv2.IMREAD_UNCHANGED)
            img = cv2.imread(path, cv2.IMREAD_COLOR)
            if gt is None or img is None:
                raise SystemExit(f"cannot read {path} or its mask")
            if gt.ndim == 3:
                gt = gt[..., 0]
            t0 = time.perf_counter()
            pred, ok = predict(mesh, img)
            times.append((time.perf_counter() - t0) * 1e3)
            faces += ok
            if pred.shape != gt.shape:
                pred = cv2.resize(pred, gt.shape[::-1], interpolation=cv2.INTER_NEAREST)
            for k, labs in NAMES.items():
                p, g = np.isin(pred, labs), np.isin(gt, labs)
                inter, uni = int((p & g).sum()), int((p | g).sum())
                pooled[k][0] += inter
                pooled[k][1] += uni
                if uni:
                    per[k].append(inter / uni)
                if k == "lip":
                    gs = int(g.sum())
                    rec_tp += inter
                    rec_gt += gs
                    if gs:
                        rec_per.append(inter / gs)
    out = {"data": data, "n_images": len(imgs), "face_rate": faces / len(imgs)}
    for k in NAMES:
        out[f"iou_{k}_mean"] = float(np.mean(per[k])) if per[k] else None
        out[f"iou_{k}_pooled"] = pooled[k][0] / pooled[k][1] if pooled[k][1] else None
    out["lip_recall_mean"] = float(np.mean(rec_per)) if rec_per else None
    out["lip_recall_pooled"] = rec_tp / rec_gt if rec_gt else None
    out["ms_per_image_median"] = float(np.median(times))
    return out


def eval_video(path: str, max_frames: int = 150, refine: bool = False) -> dict:
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise SystemExit(f"cannot open {path}")
    times, faces, n = [], 0, 0
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1,
                                         refine_landmarks=refine) as mesh:
        while n < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            if frame.shape[:2] != (720, 1280):
                frame = cv2.resize(frame, (1280, 720), interpolation=cv2.INTER_AREA)
            t0 = time.perf_counter()
            _, found = predict(mesh, frame)
            times.append((time.perf_counter() - t0) * 1e3)
            faces += found
            n += 1
    cap.release()
    if not n:
        raise SystemExit(f"no frames read from {path}")
    return {"video": path, "frames": n, "ms_per_frame_median": float(np.median(times)),
            "face_rate": faces / n}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="folder with images/*.jpg and masks/*.png")
    ap.add_argument("--video", help="optional clip for tracking-mode timing")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--refine-landmarks", action="store_true",
                    help="FaceMesh's attention model, which refines the lip landmarks (slower)")
    a = ap.parse_args(argv)
    verify_indices()
    res = {"baseline": "mediapipe-facemesh-lip-polygons", "mediapipe": mp.__version__,
           "refine_landmarks": a.refine_landmarks, "images": eval_data(a.data, a.refine_landmarks)}
    if a.video:
        res["video"] = eval_video(a.video, refine=a.refine_landmarks)
    if a.json:
        print(json.dumps(res))
    else:
        for sect in ("images", "video"):
            for k, v in res.get(sect, {}).items():
                print(f"{sect}.{k}: {v:.4f}" if isinstance(v, float) else f"{sect}.{k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
