"""Webcam-like evaluation frames: labelled faces composited into 1280x720 scenes, deterministically.

Each face is scaled so it fills 15-60% of the frame height (low-passed first when it shrinks, as
a camera's optics would), rolled up to +-30 degrees, placed at a random position over a procedural
room-like background, then the whole frame gets exposure, white balance, blur, sensor noise and
JPEG compression. The mask goes through the same geometry.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..media import MediaError, read_image, write_image
from ..processing.geometry import box_from_mask, camera_blur_sigma
from . import occluders
from .evaluate import labelled_pairs, read_mask
from .occluders import Occlusion

FRAME_W, FRAME_H = 1280, 720
# In CelebA-HQ style 512x512 crops the face (brow to chin) is about this many pixels tall.
ALIGNED_FACE_PX = 280.0


def _background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A room-like backdrop: muted wall tones, a few darker or lighter blocks (shelves, doors, windows)."""
    k = size[0] / FRAME_W
    base = rng.uniform(60, 200)
    tint = rng.normal(0, 12, size=3)
    low = base + tint + rng.normal(0, 18, size=(3, 5, 1)) + rng.normal(0, 6, size=(3, 5, 3))
    bg = cv2.resize(low.astype(np.float32), size, interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(1, 5))):
        x0, y0 = int(rng.integers(0, FRAME_W - 50) * k), int(rng.integers(0, FRAME_H - 50) * k)
        x1, y1 = x0 + int(rng.integers(60, 500) * k), y0 + int(rng.integers(60, 400) * k)
        tone = base * rng.uniform(0.4, 1.4) + tint + rng.normal(0, 10, size=3)
        cv2.rectangle(bg, (x0, y0), (x1, y1), np.clip(tone, 0, 255).tolist(), -1)
    noise = cv2.resize(rng.normal(0, 5, size=(45, 80, 3)).astype(np.float32), size)
    return cv2.GaussianBlur(bg, (0, 0), 4 * k) + noise


def composite(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, size: tuple[int, int] = (FRAME_W, FRAME_H),
              face_fraction: float | None = None, angle: float | None = None,
              exposure: float | None = None, extra: np.ndarray | None = None):
    """One (frame BGR uint8, labels uint8) pair of ``size`` from an aligned face and its mask.

    Face size (share of the frame height), roll in degrees and exposure are random unless given;
    the random stream is drawn the same either way, so the default frames never change. ``extra``
    (an (H, W) uint8 map such as an occluder mask) is moved with the labels and returned third.
    """
    frame_w, frame_h = size
    h, w = image.shape[:2]
    drawn_fraction = rng.uniform(0.15, 0.60)
    face_fraction = drawn_fraction if face_fraction is None else face_fraction
    scale = face_fraction * frame_h / (ALIGNED_FACE_PX * h / 512.0)
    drawn_angle = rng.uniform(-30.0, 30.0)
    angle = drawn_angle if angle is None else angle
    ys, xs = np.nonzero(mask > 0)
    mouth = np.array([xs.mean(), ys.mean()]) if xs.size else np.array([w / 2, h * 0.7])
    # Place the face (brow to chin, about 0.55 x 0.43 of the aligned crop) anywhere inside the frame.
    face_h, face_w = ALIGNED_FACE_PX * h / 512.0 * scale, 0.43 * h * scale
    above, below = 0.75 * face_h, 0.25 * face_h  # the mouth sits low in the face
    x_lo, x_hi = face_w / 2, frame_w - face_w / 2
    y_lo, y_hi = above, frame_h - below
    target = np.array([rng.uniform(x_lo, max(x_lo, x_hi)), rng.uniform(y_lo, max(y_lo, y_hi))])
    m = cv2.getRotationMatrix2D((float(mouth[0]), float(mouth[1])), angle, scale)
    m[:, 2] += target - mouth
    bg = _background(rng, size)
    if scale < 1.0:
        # A camera images a small face through its optics, it does not skip pixels: low-pass the face
        # before shrinking it.
        image = cv2.GaussianBlur(image, (0, 0), camera_blur_sigma(1.0 / scale))
    face = cv2.warpAffine(image, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    labels = cv2.warpAffine(mask, m, size, flags=cv2.INTER_NEAREST, borderValue=0)
    head = np.zeros((h, w), np.float32)
    cv2.ellipse(head, (w // 2, int(h * 0.52)), (int(w * 0.46), int(h * 0.5)), 0, 0, 360, 1.0, -1)
    head = cv2.GaussianBlur(head, (0, 0), w * 0.03)
    alpha = cv2.warpAffine(head, m, size, flags=cv2.INTER_LINEAR, borderValue=0)[..., None]
    frame = bg * (1.0 - alpha) + face.astype(np.float32) * alpha

    white_balance = rng.uniform(0.85, 1.15, 3).astype(np.float32)
    drawn_exposure = rng.uniform(0.45, 1.25)
    frame *= white_balance * (drawn_exposure if exposure is None else exposure)
    frame = 255.0 * (np.clip(frame, 0, 255) / 255.0) ** rng.uniform(0.8, 1.25)
    if rng.random() < 0.35:
        frame = cv2.GaussianBlur(frame, (0, 0), rng.uniform(0.6, 1.6))
    frame += rng.normal(0.0, rng.uniform(1.5, 7.0), frame.shape).astype(np.float32)
    frame = np.clip(frame, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(55, 92))])
    frame = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if extra is not None:
        return frame, labels, cv2.warpAffine(extra, m, size, flags=cv2.INTER_NEAREST, borderValue=0)
    return frame, labels


def occluded_face(pairs, i: int, seed: int) -> Occlusion:
    """Face ``i`` of ``pairs`` with an occluder over its mouth (the kinds taken in turn), fingers and
    hands textured with the cheek skin of another face of the set."""
    image_path, mask_path = pairs[i % len(pairs)]
    image = read_image(image_path)
    mask = read_mask(mask_path, image.shape[:2])
    rng = np.random.default_rng((seed, i, 1))
    box = box_from_mask(mask > 0)
    if box is None:
        raise MediaError(f"{mask_path.name}: no lips to occlude")
    donor_path, donor_mask_path = pairs[(i + 1 + int(rng.integers(max(1, len(pairs) - 1)))) % len(pairs)]
    donor = read_image(donor_path)
    donor_box = box_from_mask(read_mask(donor_mask_path, donor.shape[:2]) > 0)
    skin = occluders.skin_patch(donor, donor_box, rng) if donor_box is not None else None
    return occluders.occlude(image, mask, box, rng, kind=occluders.KINDS[i % len(occluders.KINDS)], skin=skin)


def make_webcam_set(source: Path, out: Path, count: int | None = None, seed: int = 0, progress: bool = True,
                    occlude: bool = False, aligned: bool = False) -> int:
    """Write ``out/images/*.jpg`` and ``out/masks/*.png`` from the labelled folder ``source``.

    ``occlude`` puts an occluder over each mouth: the masks then hold the visible lips only, and
    ``out/occluders/*.png`` marks the occluder (1) and the part of it in front of the lips (2).
    ``aligned`` keeps the source faces as they are instead of compositing them into webcam frames."""
    pairs = labelled_pairs(source)
    count = len(pairs) if count is None else count
    if count < 1:
        raise MediaError(f"count must be at least 1, not {count}")
    folders = ("images", "masks", "occluders") if occlude else ("images", "masks")
    for folder in folders:
        (out / folder).mkdir(parents=True, exist_ok=True)
    for i in tqdm(range(count), desc="synth", disable=not progress, leave=False):
        image_path, mask_path = pairs[i % len(pairs)]
        if occlude:
            occ = occluded_face(pairs, i, seed)
            image, mask, occluder = occ.image, occ.labels, occ.occluder
        else:
            image = read_image(image_path)
            mask, occluder = read_mask(mask_path, image.shape[:2]), None
        rng = np.random.default_rng((seed, i))
        if aligned:
            frame, labels = image, mask
        elif occluder is not None:
            frame, labels, occluder = composite(image, mask, rng, extra=occluder)
        else:
            frame, labels = composite(image, mask, rng)
        name = f"{'aligned' if aligned else 'webcam'}_{i:04d}_{image_path.stem[:16]}"
        write_image(out / "images" / f"{name}.jpg", frame)
        write_image(out / "masks" / f"{name}.png", labels)
        if occluder is not None:
            write_image(out / "occluders" / f"{name}.png", occluder)
    return count

