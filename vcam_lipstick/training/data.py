"""Training data: mouth crops cut from the shared 512x512 faces, with webcam-like augmentation.

Each sample is cut through ``processing.geometry.crop_matrix`` from a jittered ground-truth mouth
box, exactly as the runtime cuts crops from detected or tracked boxes. The jitter covers the
error of those estimates; photometric and resolution augmentation covers webcam reality.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..evaluation import occluders
from ..processing.tone import ita_degrees
from ..processing.geometry import MOUTH_WIDTH_FRACTION, MouthBox, box_from_mask, camera_blur_sigma, crop_matrix

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CropConfig:
    width: int = 128
    height: int = 96
    mouth_fraction: float = MOUTH_WIDTH_FRACTION  # share of the crop's width the mouth spans
    mean_bgr: tuple[float, float, float] = (103.53, 116.28, 123.675)
    std_bgr: tuple[float, float, float] = (57.375, 57.12, 58.395)

    @classmethod
    def from_run(cls, config: dict) -> "CropConfig":
        """The crop geometry a run trained with, from its arguments (a checkpoint's saved ``config``)."""
        width, height = config.get("size") or (cls.width, cls.height)
        return cls(width=width, height=height, mouth_fraction=config.get("mouth_fraction") or MOUTH_WIDTH_FRACTION)


def list_pairs(root: Path, split: str) -> list[tuple[Path, Path]]:
    """(image, mask) pairs of a split folder in the shared layout; raises ValueError naming a missing mask."""
    images = sorted((root / split / "images").glob("*.jpg")) + sorted((root / split / "images").glob("*.png"))
    if not images:
        raise ValueError(f"no images in {root / split / 'images'}")
    pairs = []
    for image in images:
        mask = root / split / "masks" / (image.stem + ".png")
        if not mask.is_file():
            raise ValueError(f"missing mask for {image}: expected {mask}")
        pairs.append((image, mask))
    return pairs


class FaceStore:
    """All faces of a split decoded once into memory (BGR uint8) with their masks and mouth boxes."""

    def __init__(self, root: Path, split: str, limit: int | None = None):
        pairs = list_pairs(root, split)[:limit]
        self.ids: list[str] = []
        self.images: list[np.ndarray] = []
        self.masks: list[np.ndarray] = []
        self.boxes: list[MouthBox] = []
        self.skins: list[np.ndarray] = []  # cheek patches: texture for synthetic fingers over other faces
        self.ita: list[float] = []  # skin tone around the lips, for tone-balanced sampling
        patch_rng = np.random.default_rng(0)
        for image_path, mask_path in pairs:
            image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
            mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
            box = box_from_mask(mask > 0) if mask is not None else None
            if image is None or box is None:
                log.warning("skipping %s (unreadable or no mouth)", image_path.name)
                continue
            self.ids.append(image_path.stem)
            self.images.append(image)
            self.masks.append(mask)
            self.boxes.append(box)
            skin = occluders.skin_patch(image, box, patch_rng)
            if skin is not None:
                self.skins.append(cv2.resize(skin, (32, 32), interpolation=cv2.INTER_AREA))
            self.ita.append(ita_degrees(image, mask))

    def __len__(self) -> int:
        return len(self.images)


def jitter_box(box: MouthBox, rng: np.random.Generator, strength: float = 1.0) -> MouthBox:
    """Perturb a box as detector or tracker errors would: scale, shift, roll."""
    scale = math.exp(rng.normal(0.0, 0.12 * strength))
    shift = rng.normal(0.0, 0.07 * strength, size=2) * box.width
    angle = box.angle + rng.normal(0.0, math.radians(7.0) * strength)
    return MouthBox(box.cx + shift[0], box.cy + shift[1], box.width * scale, box.height, angle)


def shift_tone(crop: np.ndarray, lightness: float, chroma: float) -> np.ndarray:
    """Scale CIELAB lightness and chroma of the whole crop, skin and lips together: a darker (or
    lighter) complexion, not just a darker exposure, which would also grey the colours."""
    lab = cv2.cvtColor(crop.astype(np.float32) / 255.0, cv2.COLOR_BGR2LAB)
    lab[..., 0] *= lightness
    lab[..., 1:] *= chroma
    return np.clip(cv2.cvtColor(lab, cv2.COLOR_LAB2BGR) * 255.0, 0, 255)


def _photometric(crop: np.ndarray, rng: np.random.Generator, tone_p: float = 0.0) -> np.ndarray:
    img = crop.astype(np.float32)
    if tone_p and rng.random() < tone_p:
        img = shift_tone(img, rng.uniform(0.45, 1.05), rng.uniform(0.85, 1.35))
    # White balance and exposure, then gamma and contrast.
    img *= rng.uniform(0.8, 1.2, size=3).astype(np.float32) * rng.uniform(0.5, 1.4)
    img = np.clip(img, 0, 255)
    gamma = rng.uniform(0.7, 1.4)
    img = 255.0 * (img / 255.0) ** gamma
    mean = img.mean()
    img = (img - mean) * rng.uniform(0.7, 1.3) + mean
    if rng.random() < 0.3:  # desaturate, as cheap webcams and low light do
        gray = img.mean(axis=2, keepdims=True)
        img = gray + (img - gray) * rng.uniform(0.3, 1.0)
    if rng.random() < 0.3:
        k = int(rng.choice([3, 5]))
        img = cv2.GaussianBlur(img, (k, k), 0)
    if rng.random() < 0.5:
        img += rng.normal(0.0, rng.uniform(2, 10), size=img.shape).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 90))])
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return img


def cut_crop(image: np.ndarray, mask: np.ndarray, box: MouthBox, cfg: CropConfig, rng: np.random.Generator | None,
             flip: bool = False, lowres_p: float = 0.5, min_mouth_px: float = 18.0,
             lowres_interp: str = "bilinear", occlude_p: float = 0.0, skins: list[np.ndarray] | None = None,
             tone_p: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut a (H, W, 3) BGR crop, its (H, W) label crop and an (H, W) bool mask of the lips an occluder
    hides, for ``box``; augment when ``rng`` is given.

    ``lowres_interp`` is how a low-resolution crop is shrunk: "bilinear" samples without a low-pass
    filter (aliased, as apps that scale cheaply or sensors that skip lines); "lowpass" blurs first, as a
    camera's optics do; "mixed" picks lowpass (half the time), bilinear or nearest at random.

    ``occlude_p`` is the share of crops that get a synthetic occluder over the mouth (see
    ``evaluation.occluders``); the lips under it become background. ``skins`` are cheek patches of
    other faces, the texture of synthetic fingers."""
    w, h = cfg.width, cfg.height
    m = crop_matrix(box, w, h, cfg.mouth_fraction)
    shrink = 1.0
    if flip:
        m = np.array([[-1.0, 0.0, w - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack([m, [0, 0, 1]])
    border = cv2.BORDER_REFLECT101
    if rng is not None and rng.random() < lowres_p:
        # Low resolution: render small, then upsample, as for a small face in a webcam frame.
        # The mouth always spans cfg.mouth_fraction of the crop; shrink it to min_mouth_px-70 px wide.
        factor = min(1.0, rng.uniform(min_mouth_px, 70.0) / (w * cfg.mouth_fraction))
        sw, sh = max(8, int(round(w * factor))), max(6, int(round(h * factor)))
        small_m = np.diag([sw / w, sh / h]) @ m
        mode = lowres_interp
        if mode == "mixed":
            mode = str(rng.choice(["lowpass", "lowpass", "bilinear", "nearest"]))
        source = image
        if mode == "lowpass":  # warpAffine has no area filter: blur first
            shrink = 1.0 / math.sqrt(abs(np.linalg.det(small_m[:, :2])))  # source pixels per crop pixel
            if shrink > 1.0:
                source = cv2.GaussianBlur(image, (0, 0), camera_blur_sigma(shrink))
        flags = cv2.INTER_NEAREST if mode == "nearest" else cv2.INTER_LINEAR
        small = cv2.warpAffine(source, small_m, (sw, sh), flags=flags, borderMode=border)
        crop = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        shrink = w / sw
    else:
        crop = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=border)
    labels = cv2.warpAffine(mask, m, (w, h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    hidden = np.zeros(labels.shape, bool)
    if rng is not None and occlude_p and rng.random() < occlude_p:
        crop, visible = _occlude_crop(crop, labels, cfg, rng, skins, shrink)
        hidden = (labels > 0) & (visible == 0)
        labels = visible
    if rng is not None:
        crop = _photometric(crop, rng, tone_p)
    return crop, labels, hidden


def _occlude_crop(crop, labels, cfg: CropConfig, rng, skins, shrink: float):
    """Paste an occluder in crop space (the mouth is centred and level there), as blurred as the crop."""
    mouth = box_from_mask(labels > 0)
    if mouth is None:  # a missed crop: occlude around the centre anyway
        mouth = MouthBox((cfg.width - 1) / 2, (cfg.height - 1) / 2, cfg.width * cfg.mouth_fraction, 1.0, 0.0)
    skin = skins[int(rng.integers(len(skins)))] if skins else None
    color, alpha, origin, _ = occluders.draw(labels.shape, mouth, rng, skin=skin)
    if shrink > 1.0:  # a low-resolution crop: the occluder was imaged as blurred as the face
        sigma = 0.5 * shrink
        color, alpha = cv2.GaussianBlur(color, (0, 0), sigma), cv2.GaussianBlur(alpha, (0, 0), sigma)
    out, visible, _ = occluders.paste(crop, labels, color, alpha, origin)
    return out, visible


def normalise(crop: np.ndarray, cfg: CropConfig) -> np.ndarray:
    """(H, W, 3) uint8 BGR -> (3, H, W) float32, normalised as the model expects."""
    x = (crop.astype(np.float32) - np.array(cfg.mean_bgr, np.float32)) / np.array(cfg.std_bgr, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def edge_weights(labels: np.ndarray, hidden: np.ndarray | None = None, hidden_weight: float = 1.0) -> np.ndarray:
    """Per-pixel loss weight: 3 on class boundaries (where lipstick edges are judged), 1 elsewhere;
    ``hidden_weight`` times that on lips an occluder hides (lipstick there lands on a finger or a mug)."""
    grad = cv2.morphologyEx(labels, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    weights = np.where(grad > 0, 3.0, 1.0).astype(np.float32)
    if hidden is not None and hidden_weight != 1.0:
        weights[hidden] *= hidden_weight
    return weights


class CropDataset:
    """Indexable training/validation samples: (image (3,H,W) f32, labels (H,W) i64, weights (H,W) f32)."""

    def __init__(self, store: FaceStore, cfg: CropConfig, train: bool, seed: int = 0, lowres_p: float = 0.5,
                 min_mouth_px: float = 18.0, lowres_interp: str = "bilinear", wide_scale_p: float = 0.0,
                 occlude_p: float = 0.0, tone_p: float = 0.0, hidden_weight: float = 1.0):
        self.store, self.cfg, self.train, self.seed, self.lowres_p = store, cfg, train, seed, lowres_p
        self.min_mouth_px, self.lowres_interp, self.wide_scale_p = min_mouth_px, lowres_interp, wide_scale_p
        self.occlude_p, self.tone_p, self.hidden_weight = occlude_p, tone_p, hidden_weight
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, i: int):
        rng = np.random.default_rng((self.seed, self.epoch if self.train else 0, i))
        box = self.store.boxes[i]
        if self.train:
            box = jitter_box(box, rng, strength=1.0)
            # Acquisition boxes (the detector's corners, retries sized from the face) can be half or twice
            # the mouth: a share of crops teaches to segment the mouth at its size, not at the usual one.
            if self.wide_scale_p and rng.random() < self.wide_scale_p:
                box = box.scaled(math.exp(rng.uniform(math.log(0.5), math.log(2.0))))
            if rng.random() < 0.04:  # a crop that missed the mouth: teach "no lips here"
                off = rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 1.6) * box.width
                box = MouthBox(box.cx, box.cy + off, box.width, box.height, box.angle)
            crop, labels, hidden = cut_crop(self.store.images[i], self.store.masks[i], box, self.cfg, rng,
                                    flip=bool(rng.random() < 0.5), lowres_p=self.lowres_p,
                                    min_mouth_px=self.min_mouth_px, lowres_interp=self.lowres_interp,
                                    occlude_p=self.occlude_p, skins=self.store.skins, tone_p=self.tone_p)
        else:
            box = jitter_box(box, rng, strength=0.5)
            crop, labels, hidden = cut_crop(self.store.images[i], self.store.masks[i], box, self.cfg, None)
        return normalise(crop, self.cfg), labels.astype(np.int64), edge_weights(labels, hidden, self.hidden_weight)
