"""Look book: a grid to judge the look at a glance.

Two rows per face (photos from ../shared/data/clips/photos, or the bundled public-domain demo face):
original, the original study's flat tint (cv2.addWeighted 0.7/0.3), then ours in several shades and
each finish; below, the original and ombré looks (the main shade at the lip line, the second one
blended in towards the middle of the mouth). Cells are cropped around the mouth.

    python benchmarks/lookbook.py --out /tmp/lookbook.jpg            # shared photos (internal only)
    python benchmarks/lookbook.py --demo --out docs/lookbook.jpg     # redistributable README picture
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vcam_lipstick.devices.sources import load_demo_face  # noqa: E402
from vcam_lipstick.media import read_image, write_image  # noqa: E402
from vcam_lipstick.model.bundle import load_tracker  # noqa: E402
from vcam_lipstick.processing.mask import labels_of  # noqa: E402
from vcam_lipstick.processing.render import LipRenderer  # noqa: E402
from vcam_lipstick.processing.shades import Finish, Look, ShadeBook  # noqa: E402

COLUMNS = [("Classic Red", Finish.MATTE), ("Rose Petal", Finish.SATIN), ("Cherry", Finish.GLOSS),
           ("Rose Gold", Finish.SHIMMER), ("Deep Plum", Finish.MATTE), ("Bare Nude", Finish.SATIN),
           ("Coral Reef", Finish.GLOSS)]
# Ombré: (outer shade, inner shade, finish), one cell each; as many as COLUMNS + 1 so the rows line up.
OMBRE = [("Wine Berry", "Ballet Pink", Finish.SATIN), ("Classic Red", "Peach Coral", Finish.MATTE),
         ("Deep Plum", "Mauve", Finish.SATIN), ("Chocolate", "Bare Nude", Finish.MATTE),
         ("Violet", "Hot Pink", Finish.SATIN), ("Cherry", "Watermelon", Finish.GLOSS),
         ("Brick Red", "Apricot", Finish.MATTE), ("Bronze", "Rose Gold", Finish.SHIMMER)]
STUDY_SHADE = "Classic Red"


def label(img, *lines):
    for i, text in enumerate(lines):
        y = 18 + 17 * i
        cv2.putText(img, text, (6, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(img, text, (6, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return img


def row_for(image, tracker, book, renderer, cell):
    masks = tracker.segment_image(image)
    if not masks:
        return None
    labels = labels_of(masks, image.shape)
    ys, xs = np.nonzero(labels > 0)
    cy, cx = int(ys.mean()), int(xs.mean())
    half = int((xs.max() - xs.min()) * 0.55) + 4  # the mouth fills most of the cell's height
    y0, y1 = max(0, cy - half), min(image.shape[0], cy + half)
    x0, x1 = max(0, cx - int(half * 1.2)), min(image.shape[1], cx + int(half * 1.2))

    def crop(img):
        return cv2.resize(img[y0:y1, x0:x1], (int(cell * 1.2), cell), interpolation=cv2.INTER_AREA)

    tiles = [label(crop(image), "original")]
    shade = book.get(STUDY_SHADE)
    lips = (labels == 1) | (labels == 2)
    color = np.zeros_like(image)
    color[:] = shade.rgb[::-1]
    study = image.copy()
    study[lips] = cv2.addWeighted(image, 0.7, color, 0.3, 0)[lips]
    tiles.append(label(crop(study), "study: addWeighted"))
    for name, finish in COLUMNS:
        out = renderer.render(image.copy(), masks, Look(book.get(name), finish, 0.9))
        tiles.append(label(crop(out), f"{name}, {finish.value}"))
    ombre = [label(crop(image), "original")]
    for outer, inner, finish in OMBRE:
        out = renderer.render(image.copy(), masks, Look(book.get(outer), finish, 0.9, ombre=book.get(inner)))
        ombre.append(label(crop(out), f"ombre: {outer}", f"> {inner}, {finish.value}"))
    return np.vstack([np.hstack(tiles), np.hstack(ombre)])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/clips/photos")
    ap.add_argument("--demo", action="store_true", help="use only the bundled public-domain face")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cell", type=int, default=150)
    ap.add_argument("--limit", type=int, default=12)
    args = ap.parse_args()
    tracker, book, renderer = load_tracker(), ShadeBook.load(), LipRenderer()
    if args.demo:
        face = load_demo_face()
        images = [cv2.resize(face, (1024, 1024), interpolation=cv2.INTER_CUBIC)]
    else:
        images = [read_image(p) for p in sorted(args.photos.glob("*"))[: args.limit]]
    rows = [r for r in (row_for(img, tracker, book, renderer, args.cell) for img in images) if r is not None]
    if not rows:
        print("no faces found", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_image(args.out, np.vstack(rows))
    print(f"wrote {args.out} ({2 * len(rows)} rows, {len(rows)} faces)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
