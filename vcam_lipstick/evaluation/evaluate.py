"""Score the full-frame path (acquire + segment, as ``segment`` runs it) on a labelled folder."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..media import IMAGE_EXTS, MediaError, read_image, write_image
from ..processing.mask import labels_of
from ..processing.metrics import ImageScore, ScoreBoard
from ..processing.tone import ita_degrees


def labelled_pairs(folder: Path) -> list[tuple[Path, Path]]:
    """(image, mask) pairs of a folder with images/ and masks/; MediaError names what is wrong."""
    folder = Path(folder)
    images_dir, masks_dir = folder / "images", folder / "masks"
    if not images_dir.is_dir() or not masks_dir.is_dir():
        hint = ""
        if (folder / "val" / "images").is_dir():
            hint = f" (did you mean {folder / 'val'}?)"
        raise MediaError(f"{folder}: expected images/ and masks/ folders inside{hint}")
    images = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    if not images:
        masks = sum(1 for p in masks_dir.iterdir() if p.suffix.lower() == ".png")
        raise MediaError(f"{images_dir}: no images" + (f" (but {masks} masks in {masks_dir})" if masks else ""))
    pairs = []
    for image in images:
        mask = masks_dir / f"{image.stem}.png"
        if not mask.is_file():
            raise MediaError(f"{image.name}: missing mask {mask}")
        pairs.append((image, mask))
    return pairs


def read_mask(path: Path, shape: tuple[int, int], max_value: int | None = 3) -> np.ndarray:
    """A single-channel label image of ``shape``; MediaError names the file when it is not one."""
    mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise MediaError(f"{path}: unreadable mask")
    if mask.ndim != 2:
        raise MediaError(f"{path}: mask must be single-channel")
    name = f"{path.parent.name}/{path.name}"  # masks/ or occluders/
    if mask.shape != shape:
        raise MediaError(f"{name}: mask is {mask.shape[1]}x{mask.shape[0]} but its image is {shape[1]}x{shape[0]}")
    if max_value is not None and mask.max() > max_value:
        raise MediaError(f"{name}: mask has values above 3 (expected 0 bg, 1 upper, 2 lower, 3 inner)")
    return mask


def occluder_masks(folder: Path, pairs: list[tuple[Path, Path]]) -> list[Path] | None:
    """``folder/occluders/<stem>.png`` for every image when the folder has occluder masks, else None;
    MediaError names the first image whose occluder mask is missing."""
    occ_dir = Path(folder) / "occluders"
    if not occ_dir.is_dir():
        return None
    paths = [occ_dir / f"{image.stem}.png" for image, _ in pairs]
    for (image, _), path in zip(pairs, paths):
        if not path.is_file():
            raise MediaError(f"{image.name}: missing occluder mask {path}")
    return paths


def predict_labels(tracker, image: np.ndarray) -> np.ndarray:
    return labels_of(tracker.segment_image(image), image.shape)


def evaluate_folder(tracker, folder: Path, report: Path | None = None, worst: int = 24,
                    progress: bool = True) -> dict:
    """Score ``folder`` (images/, masks/, and optionally occluders/); a dict of pooled and mean scores.

    With occluder masks it adds ``painted_on_occluder`` and ``visible_lip_iou``; it always adds the
    union IoU per skin-tone tercile (``tone``). ``report`` writes a sheet of the worst cases: the most
    painted-on occluders when there are occluders, else the lowest IoU."""
    pairs = labelled_pairs(folder)
    occluders = occluder_masks(folder, pairs)
    board = ScoreBoard()
    kept: list[tuple[ImageScore, Path, Path]] = []
    for k, (image_path, mask_path) in enumerate(tqdm(pairs, desc="eval", disable=not progress, leave=False)):
        image = read_image(image_path)
        truth = read_mask(mask_path, image.shape[:2])
        occluder = read_mask(occluders[k], image.shape[:2], max_value=None) if occluders else None
        t = time.perf_counter()
        pred = predict_labels(tracker, image)
        ms = (time.perf_counter() - t) * 1000.0
        score = board.add(image_path.name, pred, truth, ms, ita_degrees(image, truth), occluder)
        kept.append((score, image_path, mask_path))
    summary = board.summary()
    if report is not None:
        def badness(k):
            s = k[0]
            if occluders:
                return -(s.painted if s.painted == s.painted else -1.0)
            return s.lip if s.lip == s.lip else -1.0

        kept.sort(key=badness)
        summary["report"] = str(write_contact_sheet(tracker, kept[:worst], Path(report)))
    summary["worst"] = [{"image": s.name, "lip_iou": round(s.lip, 4)} for s, _, _ in
                        sorted(kept, key=lambda k: k[0].lip)[:5]]
    return summary


_COLORS = np.array([[0, 0, 0], [60, 60, 255], [60, 255, 60], [255, 120, 60]], np.uint8)


def overlay(image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    colored = _COLORS[labels]
    out = image.copy()
    sel = labels > 0
    out[sel] = (0.5 * image[sel] + 0.5 * colored[sel]).astype(np.uint8)
    return out


def write_contact_sheet(tracker, items, folder: Path, tile: int = 256) -> Path:
    """Rows of (image, truth overlay, prediction overlay), cropped around the mouth, worst first."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for score, image_path, mask_path in items:
        image = read_image(image_path)
        truth = read_mask(mask_path, image.shape[:2])
        pred = predict_labels(tracker, image)
        ys, xs = np.nonzero((truth > 0) | (pred > 0))
        if ys.size:
            cy, cx = int(ys.mean()), int(xs.mean())
            half = int(max(np.ptp(xs), np.ptp(ys), 32) * 1.2)
        else:
            cy, cx, half = image.shape[0] // 2, image.shape[1] // 2, min(image.shape[:2]) // 2
        y0, y1 = max(0, cy - half), min(image.shape[0], cy + half)
        x0, x1 = max(0, cx - half), min(image.shape[1], cx + half)
        tiles = [cv2.resize(t[y0:y1, x0:x1], (tile, tile)) for t in (image, overlay(image, truth), overlay(image, pred))]
        row = np.hstack(tiles)
        caption = f"{score.name[:28]} lip IoU {score.lip:.3f}"
        if score.painted == score.painted:
            caption += f" painted {100 * score.painted:.0f}%"
        cv2.putText(row, caption, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        rows.append(row)
    sheet = np.vstack(rows) if rows else np.zeros((tile, tile * 3, 3), np.uint8)
    path = folder / "worst_cases.jpg"
    write_image(path, sheet)
    return path
