"""Segmentation metrics on label images (0 background, 1 upper lip, 2 lower lip, 3 inner mouth)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .tone import terciles

CLASS_NAMES = {1: "upper", 2: "lower", 3: "inner"}


def iou(pred: np.ndarray, truth: np.ndarray) -> float:
    """IoU of two boolean masks; NaN when both are empty (nothing to score)."""
    union = np.count_nonzero(pred | truth)
    if union == 0:
        return float("nan")
    return np.count_nonzero(pred & truth) / union


def lips(labels: np.ndarray) -> np.ndarray:
    return (labels == 1) | (labels == 2)


class PooledIoU:
    """IoU per mouth class and for both lips together, pooled over many label images (crops)."""

    def __init__(self):
        self.inter, self.union = np.zeros(4), np.zeros(4)
        self.lip_inter = self.lip_union = 0

    def add(self, pred: np.ndarray, truth: np.ndarray) -> None:
        for c in range(1, 4):
            self.inter[c] += np.count_nonzero((pred == c) & (truth == c))
            self.union[c] += np.count_nonzero((pred == c) | (truth == c))
        p_lip, t_lip = lips(pred), lips(truth)
        self.lip_inter += np.count_nonzero(p_lip & t_lip)
        self.lip_union += np.count_nonzero(p_lip | t_lip)

    def scores(self) -> dict[str, float]:
        per_class = self.inter / np.maximum(self.union, 1)
        return {"upper_iou": float(per_class[1]), "lower_iou": float(per_class[2]),
                "inner_iou": float(per_class[3]), "lip_iou": self.lip_inter / max(self.lip_union, 1)}


#: Values of an occluder mask: 0 none, 1 an occluder, 2 an occluder in front of lips (``synth --occlude``).
OCCLUDER_OVER_LIPS = 2


def occluder_over_lips(occluder: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """(H, W) bool: occluder pixels that hide lips. Masks from ``synth --occlude`` mark them with 2;
    a plain 0/nonzero mask (another tool's) counts its pixels inside the visible lips' bounding box,
    grown by a fifth of the mouth's width each side."""
    if np.any(occluder == OCCLUDER_OVER_LIPS):
        return occluder == OCCLUDER_OVER_LIPS
    ys, xs = np.nonzero(lips(visible))
    area = np.zeros(occluder.shape, bool)
    if xs.size:
        margin = int(0.2 * (xs.max() - xs.min() + 1))
        area[max(0, ys.min() - margin):ys.max() + margin + 1, max(0, xs.min() - margin):xs.max() + margin + 1] = True
    return (occluder > 0) & area


def tercile_means(values: np.ndarray, groups: np.ndarray) -> list[float]:
    """Mean of ``values`` (NaN ignored) in each group 0, 1, 2; NaN for an empty group."""
    out = []
    for g in range(3):
        v = values[(groups == g) & ~np.isnan(values)]
        out.append(float(v.mean()) if v.size else float("nan"))
    return out


@dataclass
class ImageScore:
    name: str
    upper: float
    lower: float
    inner: float
    lip: float
    recall: float
    ms: float
    ita: float = float("nan")  # skin tone (degrees) around the labelled lips
    painted: float = float("nan")  # share of the occluder over the lips called lips


@dataclass
class ScoreBoard:
    """Accumulates per-image scores and pooled pixel counts."""

    images: list[ImageScore] = field(default_factory=list)
    inter: np.ndarray = field(default_factory=lambda: np.zeros(5))
    union: np.ndarray = field(default_factory=lambda: np.zeros(5))
    truth_lip: int = 0
    hit_lip: int = 0
    occluded_px: int = 0  # occluder pixels over the lips
    painted_px: int = 0  # ... of which predicted as lips
    occluded_images: int = 0

    def add(self, name: str, pred: np.ndarray, truth: np.ndarray, ms: float, ita: float = float("nan"),
            occluder: np.ndarray | None = None) -> ImageScore:
        """Score one image. ``truth`` holds the visible labels; ``occluder`` (optional) marks what hides them."""
        if pred.shape != truth.shape:
            raise ValueError(f"{name}: prediction {pred.shape} and mask {truth.shape} differ in size")
        painted = float("nan")
        if occluder is not None:
            if occluder.shape != truth.shape:
                raise ValueError(f"{name}: occluder mask {occluder.shape} and mask {truth.shape} differ in size")
            over = occluder_over_lips(occluder, truth)
            n_over, n_painted = np.count_nonzero(over), np.count_nonzero(over & lips(pred))
            self.occluded_images += 1
            self.occluded_px += n_over
            self.painted_px += n_painted
            painted = n_painted / n_over if n_over else float("nan")
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
                           np.count_nonzero(p & t) / n_t if n_t else float("nan"), ms, ita, painted)
        self.images.append(score)
        return score

    def summary(self) -> dict:
        def mean(key):
            vals = np.array([getattr(s, key) for s in self.images], float)
            vals = vals[~np.isnan(vals)]
            return float(vals.mean()) if vals.size else float("nan")

        pooled = self.inter / np.maximum(self.union, 1)
        extra: dict = {}
        if self.occluded_images:
            # Over an occlusion set the truth is the visible lips, so the union IoU is the visible-lip IoU.
            extra["painted_on_occluder"] = self.painted_px / max(self.occluded_px, 1)
            extra["visible_lip_iou"] = mean("lip")
        ita = np.array([s.ita for s in self.images], float)
        if np.count_nonzero(~np.isnan(ita)) >= 3:
            groups = terciles(ita)
            by_tone = tercile_means(np.array([s.lip for s in self.images], float), groups)
            edges = [float(ita[groups == g].max()) for g in (0, 1)]
            extra["tone"] = {"ita_upper_edges": edges, "lip_iou_by_tercile": by_tone,
                             "spread": float(np.nanmax(by_tone) - np.nanmin(by_tone)),
                             "images_by_tercile": [int(np.count_nonzero(groups == g)) for g in range(3)]}
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
            **extra,
        }
