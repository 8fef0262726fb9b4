"""Mouth boxes and the affine crops built from them.

A ``MouthBox`` is the mouth's rotated bounding box: centre, corner-to-corner width and roll.
Training cuts crops from ground-truth boxes and the runtime from tracked or detected ones,
through the same ``crop_matrix``, so the network sees at run time what it saw in training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

#: Fraction of the crop's width the mouth spans (corner to corner).
MOUTH_WIDTH_FRACTION = 0.6
#: A mouth taller than its width / TALL_MOUTH_RATIO sets the crop's scale by its height instead.
TALL_MOUTH_RATIO = 1.3


@dataclass(frozen=True)
class MouthBox:
    """Rotated mouth box in frame pixels; ``angle`` is the roll in radians (image y points down)."""

    cx: float
    cy: float
    width: float
    height: float
    angle: float

    def scaled(self, factor: float) -> "MouthBox":
        """The same box, ``factor`` times as wide and tall about its centre."""
        return MouthBox(self.cx, self.cy, self.width * factor, self.height * factor, self.angle)


def crop_matrix(box: MouthBox, crop_w: int, crop_h: int, width_fraction: float = MOUTH_WIDTH_FRACTION) -> np.ndarray:
    """2x3 float64 affine matrix mapping frame (x, y) to crop pixels, mouth centred and level."""
    # Wide-open mouths are taller than the crop's aspect allows at their width: zoom out to fit them.
    extent = max(box.width, box.height * TALL_MOUTH_RATIO)
    scale = crop_w * width_fraction / max(extent, 1.0)
    c, s = math.cos(box.angle) * scale, math.sin(box.angle) * scale
    # Rotate by -angle about the mouth centre, scale, then move the centre to the crop centre.
    m = np.array([[c, s, 0.0], [-s, c, 0.0]])
    # Coordinates are pixel indices (cv2.warpAffine's convention), so the crop centre is (w-1)/2.
    m[:, 2] = np.array([(crop_w - 1) / 2.0, (crop_h - 1) / 2.0]) - m[:, :2] @ np.array([box.cx, box.cy])
    return m


def invert_affine(m: np.ndarray) -> np.ndarray:
    """The inverse of a 2x3 affine matrix, as a 2x3 matrix."""
    return cv2.invertAffineTransform(m)


def box_from_points(xs: np.ndarray, ys: np.ndarray, angle_hint: float | None = None) -> MouthBox | None:
    """Rotated box of a set of mouth pixels (float arrays of x and y), or None if too few.

    The roll comes from the principal axis of the pixels, clipped to +-50 degrees so that a
    wide-open, round mouth does not flip the box on its side; ``angle_hint`` replaces it when given.
    """
    if xs.size < 8:
        return None
    mx, my = float(xs.mean()), float(ys.mean())
    if angle_hint is None:
        dx, dy = xs - mx, ys - my
        cov_xx, cov_yy, cov_xy = float((dx * dx).mean()), float((dy * dy).mean()), float((dx * dy).mean())
        angle = 0.5 * math.atan2(2.0 * cov_xy, cov_xx - cov_yy)
        angle = max(-0.87, min(0.87, angle))
    else:
        angle = angle_hint
    c, s = math.cos(angle), math.sin(angle)
    u = (xs - mx) * c + (ys - my) * s
    v = -(xs - mx) * s + (ys - my) * c
    u0, u1 = float(u.min()), float(u.max())
    v0, v1 = float(v.min()), float(v.max())
    uc, vc = (u0 + u1) / 2.0, (v0 + v1) / 2.0
    return MouthBox(mx + uc * c - vc * s, my + uc * s + vc * c, u1 - u0 + 1.0, v1 - v0 + 1.0, angle)


def box_from_mask(mask: np.ndarray, angle_hint: float | None = None) -> MouthBox | None:
    """Rotated box of the non-zero pixels of a (H, W) mask, or None if empty."""
    ys, xs = np.nonzero(mask)
    return box_from_points(xs.astype(np.float64), ys.astype(np.float64), angle_hint)


def camera_blur_sigma(shrink: float) -> float:
    """Gaussian sigma (source pixels) to apply before sampling an image ``shrink`` times smaller, so the
    result looks as a camera would have imaged it: a blur of about half an output pixel, as lens and
    pixel integration give, instead of the aliasing of plain sampling. 0 when not shrinking."""
    return 0.5 * math.sqrt(shrink * shrink - 1.0) if shrink > 1.0 else 0.0
