"""Renderer targets: colour accuracy, texture kept, nothing else changed, stability, speed, ombré.

    python benchmarks/render_metrics.py [--data ../shared/data/lips/val] [--faces 40] [--json]

Colour/texture/outside use ground-truth lip masks on well-exposed labelled faces (lip L* 40-75);
stability and speed use the built-in demo face at 1280x720 with the tracker's own masks.

Ombré (``--shade A --ombre B --intensity 100``), on the same faces and on the demo face: lip pixels
are ranked by distance from the lip line (the mouth's outline); the inner quarter (75th percentile
and deeper) should be within 8 a*b* units of B, and the band from the 25th to the 50th percentile
within 4 of a plain render with A (the a*b* distance of the region's median colour; p90 of the
per-pixel distance is printed beside it). ``ombre_ms_added`` is the render time with ombré minus
without, interleaved, on the 720p demo frame (target <= 0.3 ms).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vcam_lipstick.processing.mask import LipMask  # noqa: E402
from vcam_lipstick.processing.render import LipRenderer, rgb_to_lab  # noqa: E402
from vcam_lipstick.processing.shades import Finish, Look, ShadeBook  # noqa: E402

# (outer, inner) pairs for ombré: a classic dark-to-light, a deep one, and pairs whose hues differ.
OMBRE_PAIRS = [("Wine Berry", "Ballet Pink"), ("Classic Red", "Peach Coral"), ("Deep Plum", "Mauve"),
               ("Chocolate", "Bare Nude"), ("Violet", "Hot Pink")]


def lab(img):
    return cv2.cvtColor(img.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)


def well_exposed_faces(folder: Path, count: int):
    out = []
    for image_path in sorted((folder / "images").glob("*.jpg")):
        image = cv2.imread(str(image_path))
        labels = cv2.imread(str(folder / "masks" / f"{image_path.stem}.png"), cv2.IMREAD_GRAYSCALE)
        lips = (labels == 1) | (labels == 2)
        if lips.sum() < 1500:
            continue
        if 40 <= lab(image)[..., 0][lips].mean() <= 75:
            out.append((image_path.stem, image, labels))
        if len(out) >= count:
            break
    return out


def lip_depth(labels):
    """Distance from the lip line of every pixel, the lip pixels, and their 25/50/75th percentiles."""
    mouth = np.pad((labels > 0).astype(np.uint8), 1)
    dist = cv2.distanceTransform(mouth, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    lips = (labels == 1) | (labels == 2)
    return dist, lips, np.percentile(dist[lips], [25, 50, 75])


def ombre_errors(image, masks, labels, renderer, book, finish=Finish.MATTE):
    """Per ombré pair, in a*b* units: the inner quarter vs B (region median, per-pixel p90), vs a plain
    render with B (what the renderer reaches with B alone on these pixels), and the 25-50 band vs a
    plain render with A (region median, per-pixel p90)."""
    dist, lips, (p25, p50, p75) = lip_depth(labels)
    inner, band = lips & (dist >= p75), lips & (dist >= p25) & (dist < p50)

    def median_ab(img, region):
        return np.median(img[region][:, 1:], axis=0)

    out = []
    for outer_name, inner_name in OMBRE_PAIRS:
        a_shade, b_shade = book.get(outer_name), book.get(inner_name)
        plain_a = lab(renderer.render(image.copy(), masks, Look(a_shade, finish, 1.0)))
        plain_b = lab(renderer.render(image.copy(), masks, Look(b_shade, finish, 1.0)))
        ombre = lab(renderer.render(image.copy(), masks, Look(a_shade, finish, 1.0, ombre=b_shade)))
        b_ab = rgb_to_lab(b_shade.rgb)[1:]
        out.append({
            "pair": f"{outer_name} > {inner_name}",
            "inner_vs_B": float(np.hypot(*(median_ab(ombre, inner) - b_ab))),
            "inner_vs_B_pixel_p90": float(np.percentile(np.hypot(*(ombre[inner][:, 1:] - b_ab).T), 90)),
            "inner_vs_plain_B": float(np.hypot(*(median_ab(ombre, inner) - median_ab(plain_b, inner)))),
            "band_vs_plain_A": float(np.hypot(*(median_ab(ombre, band) - median_ab(plain_a, band)))),
            "band_vs_plain_A_pixel_p90": float(np.percentile(np.hypot(*(ombre[band][:, 1:] - plain_a[band][:, 1:]).T),
                                                             90)),
        })
    return out


def summarise_ombre(errors: list[dict]) -> dict:
    """Medians and worst cases over faces (and finishes), overall and per pair."""
    keys = [k for k in errors[0] if k != "pair"]
    out = {}
    for key in keys:
        values = [e[key] for e in errors]
        out[f"{key}_median"] = round(float(np.median(values)), 2)
        out[f"{key}_worst"] = round(float(np.max(values)), 2)
    out["inner_vs_B_median_per_pair"] = {
        pair: round(float(np.median([e["inner_vs_B"] for e in errors if e["pair"] == pair])), 2)
        for pair in dict.fromkeys(e["pair"] for e in errors)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/lips/val")
    ap.add_argument("--faces", type=int, default=40)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    renderer = LipRenderer()
    book = ShadeBook.load()
    shades = list(book)
    result: dict = {}

    if args.data.is_dir():
        faces = well_exposed_faces(args.data, args.faces)
        per_shade, texture, texture_flat, outside, inner, ombre = {}, [], [], [], [], []
        for _, image, labels in faces:
            mask = LipMask.from_labels(labels)
            lips = ((labels == 1) | (labels == 2)).astype(np.uint8)
            core = cv2.erode(lips, np.ones((5, 5), np.uint8)) > 0
            far = (cv2.dilate(lips | (labels == 3), np.ones((9, 9), np.uint8)) == 0)
            teeth = cv2.erode((labels == 3).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            before_L = lab(image)[..., 0][core]
            for shade in shades:
                out = renderer.render(image.copy(), [mask], Look(shade, Finish.MATTE, 1.0))
                got = lab(out)[core]
                target = rgb_to_lab(shade.rgb)
                per_shade.setdefault(shade.name, []).append(
                    (np.median(got[:, 1]) - target[1], np.median(got[:, 2]) - target[2]))
                texture.append(got[:, 0].std() / max(before_L.std(), 1e-6))
                diff = np.abs(out.astype(np.int16) - image.astype(np.int16)).mean(axis=2)
                outside.append(diff[far].mean())
                if teeth.any():
                    inner.append(diff[teeth].mean())
                color = np.zeros_like(image)
                color[:] = shade.rgb[::-1]
                flat = cv2.addWeighted(image, 0.7, color, 0.3, 0)  # the original study's tint
                texture_flat.append(lab(flat)[..., 0][core].std() / max(before_L.std(), 1e-6))
            ombre += ombre_errors(image, [mask], labels, renderer, book)
        colour = {name: {"da": float(np.median([d[0] for d in v])), "db": float(np.median([d[1] for d in v]))}
                  for name, v in per_shade.items()}
        within = [n for n, c in colour.items() if abs(c["da"]) <= 8 and abs(c["db"]) <= 8]
        result.update({
            "faces": len(faces),
            "shades": len(colour),
            "shades_within_8_ab": len(within),
            "shades_outside_8_ab": {n: {k: round(v, 1) for k, v in c.items()} for n, c in colour.items()
                                    if n not in within},
            "worst_abs_da_db": round(max(max(abs(c["da"]), abs(c["db"])) for c in colour.values()), 2),
            "texture_L_std_ratio_median": round(float(np.median(texture)), 3),
            "texture_L_std_ratio_p10": round(float(np.percentile(texture, 10)), 3),
            "texture_ratio_addweighted_baseline": round(float(np.median(texture_flat)), 3),
            "outside_change_mean_levels": round(float(np.mean(outside)), 3),
            "inner_mouth_change_mean_levels": round(float(np.mean(inner)), 3) if inner else None,
        })
        if ombre:
            result["ombre_ground_truth_masks"] = summarise_ombre(ombre)

    # Stability and speed on the demo face with tracked masks.
    from vcam_lipstick.devices.sources import DemoSource
    from vcam_lipstick.model.bundle import load_tracker

    tracker = load_tracker()
    with DemoSource(1280, 720) as source:
        frame = source.read().copy()
    # Flicker added by rendering: (a) the same frame again and again must render identically;
    # (b) with fresh sensor noise each frame, the output may change no more than the input does.
    shimmer = Look(book.get("Rose Gold"), Finish.SHIMMER, 1.0)
    rng = np.random.default_rng(0)
    for name, noise in (("static_frame", 0.0), ("sensor_noise_3", 3.0)):
        tracker.reset()
        prev_in = prev_out = None
        added, lips_area = [], None
        for i in range(60):
            frame_in = np.clip(frame + rng.normal(0, noise, frame.shape), 0, 255).astype(np.uint8) if noise else frame
            masks = tracker.process(frame_in)
            out = renderer.render(frame_in.copy(), masks, shimmer)
            if lips_area is None and masks:
                lips_area = np.zeros(frame.shape[:2], bool)
                for m in masks:
                    lips_area |= m.labels(frame.shape) > 0
            if prev_out is not None and i > 5:
                d_out = np.abs(out.astype(np.int16) - prev_out).mean(axis=2)[lips_area].mean()
                d_in = np.abs(frame_in.astype(np.int16) - prev_in).mean(axis=2)[lips_area].mean()
                added.append(d_out - d_in)
            prev_in, prev_out = frame_in.astype(np.int16), out.astype(np.int16)
        result[f"shimmer_flicker_added_levels_{name}"] = round(float(np.mean(added)), 3)

    masks = tracker.process(frame)
    times = {}
    for finish in Finish:
        look = Look(book.get("Classic Red"), finish, 0.8)
        ts = []
        for _ in range(100):
            f = frame.copy()
            t = time.perf_counter()
            renderer.render(f, masks, look)
            ts.append(time.perf_counter() - t)
        times[finish.value] = round(float(np.median(ts)) * 1000, 3)
    result["render_ms_1280x720"] = times

    # Ombré on the demo face with the tracker's masks: accuracy per finish, and what it adds to a 720p render.
    demo_labels = np.zeros(frame.shape[:2], np.uint8)
    for m in masks:
        m.paint_labels(demo_labels)
    per_finish = {finish.value: ombre_errors(frame, masks, demo_labels, renderer, book, finish) for finish in Finish}
    result["ombre_demo_tracked_masks"] = summarise_ombre([e for errors in per_finish.values() for e in errors])
    result["ombre_demo_inner_vs_B_worst_pair_per_finish"] = {
        finish: round(max(e["inner_vs_B"] for e in errors), 2) for finish, errors in per_finish.items()}
    added = {}
    outer, inner_shade = book.get(OMBRE_PAIRS[0][0]), book.get(OMBRE_PAIRS[0][1])
    for finish in Finish:
        looks = {"plain": Look(outer, finish, 0.8), "ombre": Look(outer, finish, 0.8, ombre=inner_shade)}
        ts = {k: [] for k in looks}
        for _ in range(300):  # interleaved, so a busy machine slows both alike
            for k, look in looks.items():
                f = frame.copy()
                t = time.perf_counter()
                renderer.render(f, masks, look)
                ts[k].append(time.perf_counter() - t)
        added[finish.value] = round((float(np.median(ts["ombre"])) - float(np.median(ts["plain"]))) * 1000, 3)
    result["ombre_ms_added_1280x720"] = added
    print(json.dumps(result) if args.json else json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
