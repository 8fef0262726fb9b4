"""Skin tone of a labelled face: the ITA of the skin in a ring around the lips, in CIELAB.

ITA (individual typology angle) = atan((L* - 50) / b*) in degrees: above 55 very light, below -30
dark. The ring starts a little outside the lips (so no lip or liner colour enters it) and reaches a
quarter of the mouth's width out: cheeks, chin and the skin under the nose, which the lipstick borders.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .geometry import box_from_mask


def skin_ring(labels: np.ndarray, inner: float = 0.08, outer: float = 0.25) -> np.ndarray:
    """(H, W) bool: unlabelled pixels between ``inner`` and ``outer`` mouth widths from the mouth."""
    mouth = labels > 0
    box = box_from_mask(mouth)
    if box is None:
        return np.zeros(labels.shape, bool)

    def grown(units: float) -> np.ndarray:
        r = max(1, int(round(units * box.width)))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        return cv2.dilate(mouth.astype(np.uint8), kernel) > 0

    return grown(outer) & ~grown(inner)


def ita_degrees(image: np.ndarray, labels: np.ndarray) -> float:
    """ITA of the skin ring of a BGR uint8 image with its (H, W) mouth labels; NaN without a mouth."""
    ring = skin_ring(labels)
    if np.count_nonzero(ring) < 8:
        return float("nan")
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_BGR2LAB)  # L 0-100, a/b in units
    lightness = float(np.median(lab[..., 0][ring]))
    b = float(np.median(lab[..., 2][ring]))
    return math.degrees(math.atan2(lightness - 50.0, b))


def terciles(values: np.ndarray) -> np.ndarray:
    """Tercile index (0 darkest .. 2 lightest) of each ITA value; NaN values get -1."""
    values = np.asarray(values, float)
    out = np.full(values.shape, -1, int)
    ok = ~np.isnan(values)
    if ok.any():
        order = np.argsort(np.argsort(values[ok], kind="stable"), kind="stable")
        out[ok] = np.minimum(2, order * 3 // ok.sum())
    return out
