"""Face detector: RetinaFace-MobileNet0.25 (MIT) on a small copy of the frame.

Gives face boxes and five landmarks (eyes, nose, mouth corners); the mouth corners place the
first lip crop. Used to acquire the mouth, not on every frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from .session import create_session
from .spec import ModelSpec

_STRIDES = (8, 16, 32)
_ANCHOR_SIZES = ((16, 32), (64, 128), (256, 512))
_VARIANCE = (0.1, 0.2)


@dataclass(frozen=True)
class Face:
    """A detected face in frame pixels: box (x0, y0, x1, y1), score, landmarks (5, 2) float32.

    Landmarks: two eyes, nose tip, two mouth corners (image-left first after sorting).
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


@lru_cache(maxsize=8)
def _anchors(width: int, height: int) -> np.ndarray:
    """(N, 4) anchors (cx, cy, w, h) in input pixels, in the network's output order."""
    out = []
    for stride, sizes in zip(_STRIDES, _ANCHOR_SIZES):
        nx, ny = math.ceil(width / stride), math.ceil(height / stride)
        xx, yy = np.meshgrid(np.arange(nx), np.arange(ny))
        centers = np.stack([(xx.ravel() + 0.5) * stride, (yy.ravel() + 0.5) * stride], axis=1)
        for_each = np.repeat(centers, len(sizes), axis=0)
        wh = np.tile(np.array([[s, s] for s in sizes], np.float64), (nx * ny, 1))
        out.append(np.hstack([for_each, wh]))
    return np.vstack(out).astype(np.float32)


# Two detections of one face overlap far more than this; two faces side by side rarely do.
NMS_IOU = 0.4


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Indices of the boxes (x0, y0, x1, y1) to keep, best score first: each kept box overlaps no
    better-scored kept box by more than ``iou_threshold``. (Greedy, as ``cv2.dnn.NMSBoxes``; written out
    so the runtime needs no OpenCV dnn module.)"""
    areas = np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        lo = np.maximum(boxes[best, :2], boxes[rest, :2])
        hi = np.minimum(boxes[best, 2:], boxes[rest, 2:])
        inter_w, inter_h = np.clip(hi - lo, 0, None).T
        inter = inter_w * inter_h
        union = areas[best] + areas[rest] - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        order = rest[iou <= iou_threshold]
    return keep


MAX_UPSCALE = 2.0


class FaceDetector:
    """Finds faces in a BGR uint8 frame; ``detect`` returns faces sorted largest first."""

    def __init__(self, spec: ModelSpec, onnx_path, threads: int = 1, input_long_side: int | None = None):
        self.spec = spec
        self.session = create_session(onnx_path, threads)
        self.input_name = self.session.get_inputs()[0].name
        self.long_side = int(input_long_side or spec.input_width)
        self.mean = np.array(spec.mean, np.float32)
        self.threshold = spec.threshold

    def detect(self, frame: np.ndarray, min_score: float | None = None) -> list[Face]:
        h, w = frame.shape[:2]
        # Every frame is seen at the same size: large ones shrink, and small ones (320x240) grow, so
        # that a small face in a small frame still spans enough of the detector's anchors.
        scale = min(MAX_UPSCALE, self.long_side / max(h, w))
        sw, sh = max(32, int(round(w * scale))), max(32, int(round(h * scale)))
        small = cv2.resize(frame, (sw, sh), interpolation=cv2.INTER_LINEAR) if scale != 1.0 else frame
        pw, ph = -(-sw // 32) * 32, -(-sh // 32) * 32
        blob = np.zeros((ph, pw, 3), np.float32)
        blob[:sh, :sw] = small[:sh, :sw]
        blob -= self.mean
        blob = blob.transpose(2, 0, 1)[np.newaxis]
        loc, conf, landms = self.session.run(None, {self.input_name: blob})
        scores = conf[0, :, 1]
        keep = np.nonzero(scores > (self.threshold if min_score is None else min_score))[0]
        if keep.size == 0:
            return []
        anchors = _anchors(pw, ph)[keep]
        loc, landms, scores = loc[0, keep], landms[0, keep], scores[keep]
        centers = anchors[:, :2] + loc[:, :2] * _VARIANCE[0] * anchors[:, 2:]
        sizes = anchors[:, 2:] * np.exp(loc[:, 2:] * _VARIANCE[1])
        boxes = np.hstack([centers - sizes / 2, centers + sizes / 2])
        points = anchors[:, None, :2] + landms.reshape(-1, 5, 2) * _VARIANCE[0] * anchors[:, None, 2:]
        order = non_max_suppression(boxes, scores, NMS_IOU)
        faces = []
        inv = 1.0 / scale
        for i in order:
            box = tuple(float(v) * inv for v in boxes[i])
            faces.append(Face(box, float(scores[i]), (points[i] * inv).astype(np.float32)))
        faces.sort(key=lambda f: f.height, reverse=True)
        return faces
