"""Segmentation metrics on label images (0 background, 1 upper lip, 2 lower lip, 3 inner mouth)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CLASS_NAMES = {1: "upper", 2: "lower", 3: "inner"}


def iou(pred: np.ndarray, truth: np.ndarray) -> float:
    """IoU of two boolean masks; NaN when both are empty (nothing to score)."""
    union = np.count_nonzero(pred | truth)
    if union == 0:
        return float("nan")
    return np.count_nonzero(pred & truth) / union


def lips(labels: np.ndarray) -> np.ndarray:
    return (labels == 1) | (labels == 2)


@dataclass
class ImageScore:
    name: str
    upper: float
    lower: float
    inner: float
    lip: float
    recall: float
    ms: float


@dataclass
class ScoreBoard:
    """Accumulates per-image scores and pooled pixel counts."""

    images: list[ImageScore] = field(default_factory=list)
    inter: np.ndarray = field(default_factory=lambda: np.zeros(5))
    union: np.ndarray = field(default_factory=lambda: np.zeros(5))
    truth_lip: int = 0
    hit_lip: int = 0

    def add(self, name: str, pred: np.ndarray, truth: np.ndarray, ms: float) -> ImageScore:
        if pred.shape != truth.shape:
            raise ValueError(f"{name}: prediction {pred.shape} and mask {truth.shape} differ in size")
        per = {}
        for c in (1, 2, 3):
            p, t = pred == c, truth == c
            per[c] = iou(p, t)
            self.inter[c] += np.count_nonzero(p & t)
            self.union[c] += np.count_nonzero(p | t)
        p, t = lips(pred), lips(truth)
        self.inter[4] += np.count_nonzero(p & t)
        self.union[4] += np.count_nonzero(p | t)
        self.truth_lip += np.count_nonzero(t)
        self.hit_lip += np.count_nonzero(p & t)
        n_t = np.count_nonzero(t)
        score = ImageScore(name, per[1], per[2], per[3], iou(p, t),
                           np.count_nonzero(p & t) / n_t if n_t else float("nan"), ms)
        self.images.append(score)
        return score

    def summary(self) -> dict:
        def mean(key):
            vals = np.array([getattr(s, key) for s in self.images], float)
            vals = vals[~np.isnan(vals)]
            return float(vals.mean()) if vals.size else float("nan")

        pooled = self.inter / np.maximum(self.union, 1)
        # F1 (Dice) over all pixels of the set, the score face-parsing papers report per class.
        f1 = 2 * self.inter / np.maximum(self.union + self.inter, 1)
        return {
            "images": len(self.images),
            "lip_iou_mean": mean("lip"),
            "lip_iou_pooled": float(pooled[4]),
            "upper_iou_mean": mean("upper"),
            "lower_iou_mean": mean("lower"),
            "inner_iou_mean": mean("inner"),
            "upper_iou_pooled": float(pooled[1]),
            "lower_iou_pooled": float(pooled[2]),
            "inner_iou_pooled": float(pooled[3]),
            "lip_f1_pooled": float(f1[4]),
            "upper_f1_pooled": float(f1[1]),
            "lower_f1_pooled": float(f1[2]),
            "inner_f1_pooled": float(f1[3]),
            "recall_mean": mean("recall"),
            "recall_pooled": self.hit_lip / max(self.truth_lip, 1),
            "ms_per_image_median": float(np.median([s.ms for s in self.images])) if self.images else float("nan"),
        }
