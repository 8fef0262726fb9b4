"""Soft lip masks in frame coordinates: what perception hands to the renderer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geometry import box_from_mask, crop_matrix


@dataclass
class LipMask:
    """Soft masks pasted into a frame region: ``alpha`` (h, w, 3) float32 in [0, 1] for upper lip,
    lower lip and inner mouth, covering frame rows y0:y0+h and columns x0:x0+w. ``matrix`` maps
    frame pixels to the mouth's crop (a lips-attached frame for textures such as shimmer)."""

    x0: int
    y0: int
    alpha: np.ndarray
    matrix: np.ndarray
    mouth_width: float

    @property
    def shape(self) -> tuple[int, int]:
        return self.alpha.shape[:2]

    def labels(self, frame_shape: tuple[int, ...], threshold: float = 0.5) -> np.ndarray:
        """Full-frame (H, W) uint8 labels: 0 background, 1 upper, 2 lower, 3 inner mouth."""
        out = np.zeros(frame_shape[:2], np.uint8)
        self.paint_labels(out, threshold)
        return out

    def paint_labels(self, out: np.ndarray, threshold: float = 0.5) -> None:
        h, w = self.shape
        # Mouth vs background on the summed mouth probabilities, then the likeliest mouth class.
        best = self.alpha.argmax(axis=2).astype(np.uint8) + 1
        best[self.alpha.sum(axis=2) < threshold] = 0
        region = out[self.y0 : self.y0 + h, self.x0 : self.x0 + w]
        np.maximum(region, best, out=region, where=best > 0)

    @classmethod
    def from_labels(cls, labels: np.ndarray, margin: int = 8) -> "LipMask | None":
        """A hard-edged LipMask from a (H, W) label image (0 bg, 1 upper, 2 lower, 3 inner), e.g. ground truth."""
        box = box_from_mask(labels > 0)
        if box is None:
            return None
        ys, xs = np.nonzero(labels > 0)
        y0, x0 = max(0, ys.min() - margin), max(0, xs.min() - margin)
        y1, x1 = min(labels.shape[0], ys.max() + margin + 1), min(labels.shape[1], xs.max() + margin + 1)
        sub = labels[y0:y1, x0:x1]
        alpha = np.stack([(sub == c).astype(np.float32) for c in (1, 2, 3)], axis=2)
        return cls(int(x0), int(y0), alpha, crop_matrix(box, 128, 96), box.width)


def labels_of(masks, shape: tuple[int, ...]) -> np.ndarray:
    """Full-frame (H, W) uint8 labels from several LipMasks: 0 bg, 1 upper, 2 lower, 3 inner mouth."""
    labels = np.zeros(shape[:2], np.uint8)
    for mask in masks:
        mask.paint_labels(labels)
    return labels


def lip_pixels(masks, shape: tuple[int, ...]) -> np.ndarray:
    """(H, W) bool: upper or lower lip, from several LipMasks."""
    labels = labels_of(masks, shape)
    return (labels == 1) | (labels == 2)
