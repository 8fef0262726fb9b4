"""Lip segmentation on a mouth crop: preprocess -> infer -> postprocess, and paste-back."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..processing.geometry import MouthBox, crop_matrix, invert_affine
from ..processing.mask import LipMask
from .session import create_session
from .spec import ModelError, ModelSpec

LIP_CLASSES = ("background", "upper_lip", "lower_lip", "inner_mouth")


@dataclass
class CropResult:
    """Class probabilities on a crop: ``probs`` (H, W, 3) float32 for upper, lower, inner mouth;
    ``matrix`` maps frame pixels to crop pixels."""

    probs: np.ndarray
    matrix: np.ndarray
    box: MouthBox
    crop: np.ndarray | None = None  # the uint8 BGR crop the network saw


class LipSegmenter:
    """Runs the lip network on the crop of a ``MouthBox``."""

    def __init__(self, spec: ModelSpec, onnx_path, threads: int = 1):
        if tuple(spec.classes) != LIP_CLASSES:
            raise ModelError(f"lip model classes {spec.classes} are not {LIP_CLASSES}")
        if spec.color_order != "BGR" or spec.layout != "NCHW":
            raise ModelError(f"lip model wants {spec.color_order}/{spec.layout}; only BGR/NCHW is supported")
        self.spec = spec
        self.session = create_session(onnx_path, threads)
        self.input_name = self.session.get_inputs()[0].name
        self.size = (spec.input_width, spec.input_height)
        self.width_fraction = float(spec.extra.get("mouth_width_fraction", 0.6))
        self.scale = (1.0 / np.array(spec.std, np.float32)).reshape(3, 1, 1)
        self.offset = (-np.array(spec.mean, np.float32) / np.array(spec.std, np.float32)).reshape(3, 1, 1)

    def cut(self, frame: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """The (H, W, 3) uint8 crop that ``matrix`` (frame -> crop pixels) cuts from ``frame``."""
        return cv2.warpAffine(frame, matrix, self.size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def to_blob(self, crop: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 -> normalised (1, 3, H, W) float32 (planar first: a uint8 copy is cheap)."""
        planes = np.ascontiguousarray(crop.transpose(2, 0, 1))
        blob = np.empty((1, *planes.shape), np.float32)
        np.multiply(planes, self.scale, out=blob[0], casting="unsafe")
        blob[0] += self.offset
        return blob

    def preprocess(self, frame: np.ndarray, box: MouthBox) -> tuple[np.ndarray, np.ndarray]:
        m = crop_matrix(box, *self.size, width_fraction=self.width_fraction)
        return self.to_blob(self.cut(frame, m)), m

    def infer(self, blob: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: blob})[0][0]

    @staticmethod
    def postprocess(logits: np.ndarray) -> np.ndarray:
        """(4, H, W) logits -> (H, W, 3) float32 probabilities of the mouth classes (softmax)."""
        e = np.exp(logits - logits.max(axis=0, keepdims=True), dtype=np.float32)
        inv = 1.0 / e.sum(axis=0)
        return cv2.merge([e[1] * inv, e[2] * inv, e[3] * inv])

    def segment(self, frame: np.ndarray, box: MouthBox, flip_average: bool = False) -> CropResult:
        """Class probabilities for the crop of ``box``; ``flip_average`` also runs the mirrored crop
        and averages (a little more accurate, twice the cost: for stills, not video)."""
        m = crop_matrix(box, *self.size, width_fraction=self.width_fraction)
        crop = self.cut(frame, m)
        blob = self.to_blob(crop)
        probs = self.postprocess(self.infer(blob))
        if flip_average:
            mirrored = self.postprocess(self.infer(np.ascontiguousarray(blob[..., ::-1])))
            probs = 0.5 * (probs + mirrored[:, ::-1])
        return CropResult(probs, m, box, crop)


_CLASS_SUM = np.ones((1, 3), np.float32)

# Crop pixels whose mouth probability is under this paint nothing (the renderer skips blend weights under
# 0.004), so only the part of the crop that holds more is pasted, grown by PASTE_MARGIN crop pixels for
# the renderer's feathering: about half the frame pixels of the whole crop (1.7x the mouth's width).
PASTE_MIN_PROBABILITY = 0.002
PASTE_MARGIN = 8


def mouth_probability(probs: np.ndarray) -> np.ndarray:
    """(H, W) float32: the three mouth classes of (H, W, 3) probabilities summed."""
    return cv2.transform(probs, _CLASS_SUM)  # numpy's sum over a 3-wide last axis costs 25x more


def paste(result: CropResult, frame_shape: tuple[int, ...]) -> LipMask | None:
    """Warp crop probabilities back into the smallest frame region that holds the mouth part of the crop."""
    h_img, w_img = frame_shape[:2]
    ch, cw, _ = result.probs.shape
    held = (mouth_probability(result.probs) > PASTE_MIN_PROBABILITY).astype(np.uint8)
    if not cv2.countNonZero(held):
        return None
    x, y, w, h = cv2.boundingRect(held)
    cx0, cy0 = max(0, x - PASTE_MARGIN), max(0, y - PASTE_MARGIN)
    cx1, cy1 = min(cw - 1, x + w - 1 + PASTE_MARGIN), min(ch - 1, y + h - 1 + PASTE_MARGIN)
    inv = invert_affine(result.matrix)
    corners = np.array([[cx0, cy0, 1], [cx1, cy0, 1], [cx0, cy1, 1], [cx1, cy1, 1]], np.float64) @ inv.T
    x0, y0 = np.floor(corners.min(axis=0)).astype(int)
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 1
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w_img, x1), min(h_img, y1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    m = result.matrix.copy()
    m[:, 2] += m[:, :2] @ np.array([x0, y0], np.float64)  # frame-region pixels -> crop pixels
    alpha = cv2.warpAffine(np.ascontiguousarray(result.probs), m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return LipMask(x0, y0, alpha, result.matrix, result.box.width)
