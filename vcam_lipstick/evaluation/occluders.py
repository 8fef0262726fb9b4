"""Synthetic things in front of the mouth: fingers, hands, microphones, cups, pens, phones, hair, objects.

Used twice, the same way: training pastes them over the mouth and sets the lips beneath to background,
and ``synth --occlude`` writes an occlusion test set from them. Every occluder is drawn in the image's
own pixels around a ``MouthBox``, so it scales with the face, and comes as a colour layer plus an
alpha matte (soft or hard edges). Drawing is limited to a window around the mouth to stay cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..processing.geometry import MouthBox

KINDS = ("finger", "hand", "microphone", "cup", "pen", "phone", "hair", "object")
#: Occluder mask values written by ``synth --occlude``: the occluder elsewhere, and over (hidden) lips.
OCCLUDER, OCCLUDER_OVER_LIPS = 1, 2


@dataclass(frozen=True)
class Occlusion:
    """An occluded image and what it hides. ``occluder`` is (H, W) uint8: 0, OCCLUDER or OCCLUDER_OVER_LIPS."""

    image: np.ndarray
    labels: np.ndarray
    occluder: np.ndarray
    kind: str


def skin_patch(image: np.ndarray, box: MouthBox, rng: np.random.Generator) -> np.ndarray | None:
    """A square of cheek skin beside and above the mouth (BGR uint8), or None if it falls off the image."""
    side = int(round(box.width * 0.45))
    sign = 1.0 if rng.random() < 0.5 else -1.0
    c, s = math.cos(box.angle), math.sin(box.angle)
    u, v = sign * 0.85 * box.width, -0.55 * box.width
    x, y = box.cx + u * c - v * s, box.cy + u * s + v * c
    x0, y0 = int(round(x - side / 2)), int(round(y - side / 2))
    if side < 6 or x0 < 0 or y0 < 0 or x0 + side > image.shape[1] or y0 + side > image.shape[0]:
        return None
    return image[y0:y0 + side, x0:x0 + side].copy()


class _Canvas:
    """A window of the image around the mouth, in which shapes are drawn in mouth-relative units."""

    def __init__(self, shape: tuple[int, int], box: MouthBox, reach: float = 2.2):
        h, w = shape
        r = reach * box.width
        self.x0, self.y0 = max(0, int(box.cx - r)), max(0, int(box.cy - r))
        self.x1, self.y1 = min(w, int(box.cx + r) + 1), min(h, int(box.cy + r) + 1)
        self.box = box
        self.shape = (max(1, self.y1 - self.y0), max(1, self.x1 - self.x0))
        self.c, self.s = math.cos(box.angle), math.sin(box.angle)

    def point(self, u: float, v: float) -> tuple[float, float]:
        """Mouth units (u along the mouth, v down, 1 = the mouth's width) -> window pixels."""
        w = self.box.width
        x = self.box.cx + (u * self.c - v * self.s) * w - self.x0
        y = self.box.cy + (u * self.s + v * self.c) * w - self.y0
        return x, y

    def px(self, units: float) -> float:
        return units * self.box.width

    def zeros(self) -> np.ndarray:
        return np.zeros(self.shape, np.float32)

    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        ys, xs = np.mgrid[0:self.shape[0], 0:self.shape[1]].astype(np.float32)
        return xs, ys


def _capsule(canvas: _Canvas, a, b, radius_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Alpha of a rounded bar from ``a`` to ``b`` (window pixels) and a cylinder shading across it (0.55-1)."""
    xs, ys = canvas.grid()
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    length2 = max(dx * dx + dy * dy, 1e-6)
    t = np.clip(((xs - ax) * dx + (ys - ay) * dy) / length2, 0.0, 1.0)
    dist = np.hypot(xs - (ax + t * dx), ys - (ay + t * dy))
    alpha = np.clip(radius_px + 0.5 - dist, 0.0, 1.0)
    across = np.clip(dist / max(radius_px, 0.5), 0.0, 1.0)
    shade = 0.55 + 0.45 * np.cos(across * math.pi / 2.0)
    return alpha, shade.astype(np.float32)


def _skin_color(rng: np.random.Generator, skin: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """A skin layer: texture tiled from a cheek patch when given, else a skin tone with mottling."""
    h, w = shape
    if skin is not None and skin.size:
        tile = cv2.resize(skin, (max(8, w // 3), max(8, h // 3)), interpolation=cv2.INTER_LINEAR)
        reps = (h // tile.shape[0] + 1, w // tile.shape[1] + 1, 1)
        layer = np.tile(tile, reps)[:h, :w].astype(np.float32)
        layer = cv2.GaussianBlur(layer, (0, 0), 1.0)
        # Hands are a little lighter or darker than the cheek they are held to.
        return layer * np.float32(rng.uniform(0.8, 1.15))
    lightness = rng.uniform(0.15, 0.95)
    tone = np.array([60 + 140 * lightness, 90 + 120 * lightness, 130 + 110 * lightness], np.float32)
    tone *= rng.uniform(0.9, 1.1, 3).astype(np.float32)
    mottle = cv2.resize(rng.normal(0, 6, (8, 8)).astype(np.float32), (w, h))[..., None]
    return np.clip(tone + mottle, 0, 255)


def _texture(rng: np.random.Generator, shape: tuple[int, int], base: np.ndarray, grain: float,
             amount: float) -> np.ndarray:
    """``base`` colour with noise of ``amount`` levels at a grain of ``grain`` pixels."""
    h, w = shape
    small = rng.normal(0.0, amount, (max(1, int(h / grain)), max(1, int(w / grain)), 1)).astype(np.float32)
    noise = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    noise = noise[..., None] if noise.ndim == 2 else noise
    return np.clip(base.astype(np.float32) + noise, 0, 255)


def _random_color(rng: np.random.Generator) -> np.ndarray:
    hsv = np.uint8([[[rng.integers(0, 180), rng.integers(40, 256), rng.integers(40, 256)]]])
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)


def _finger(canvas, rng, skin, width_units=None, tip=None, direction=None):
    width = canvas.px(width_units if width_units is not None else rng.uniform(0.12, 0.3))
    tip = tip if tip is not None else (rng.uniform(-0.45, 0.45), rng.uniform(-0.25, 0.3))
    angle = direction if direction is not None else math.pi / 2 + rng.normal(0, 0.6)  # mostly from below
    base = (tip[0] + 3.0 * math.cos(angle), tip[1] + 3.0 * math.sin(angle))
    alpha, shade = _capsule(canvas, canvas.point(*tip), canvas.point(*base), width / 2)
    color = _skin_color(rng, skin, canvas.shape) * shade[..., None]
    if rng.random() < 0.5:  # a nail near the tip
        nail_tip = (tip[0] + 0.05 * math.cos(angle), tip[1] + 0.05 * math.sin(angle))
        nail_end = (tip[0] + 0.2 * math.cos(angle), tip[1] + 0.2 * math.sin(angle))
        nail, _ = _capsule(canvas, canvas.point(*nail_tip), canvas.point(*nail_end), width * 0.3)
        nail_color = np.array([190, 195, 230], np.float32) * rng.uniform(0.7, 1.05)
        color = color * (1 - 0.6 * nail[..., None]) + nail_color * 0.6 * nail[..., None]
    return color, alpha


def _hand(canvas, rng, skin):
    n = int(rng.integers(2, 5))
    width = rng.uniform(0.14, 0.24)
    angle = math.pi / 2 + rng.normal(0, 0.5)
    start = rng.uniform(-0.5, 0.3)
    color, alpha = canvas.zeros()[..., None].repeat(3, 2), canvas.zeros()
    skin_layer = _skin_color(rng, skin, canvas.shape)
    for k in range(n):
        tip = (start + k * width * 1.05 * -math.sin(angle) + rng.normal(0, 0.03),
               rng.uniform(-0.3, 0.25) + k * width * 1.05 * math.cos(angle))
        a, shade = _capsule(canvas, canvas.point(*tip),
                            canvas.point(tip[0] + 3 * math.cos(angle), tip[1] + 3 * math.sin(angle)), canvas.px(width) / 2)
        color = color * (1 - a[..., None]) + skin_layer * shade[..., None] * a[..., None]
        alpha = np.maximum(alpha, a)
    return color, alpha


def _microphone(canvas, rng):
    r = canvas.px(rng.uniform(0.25, 0.7))
    center = canvas.point(rng.uniform(-0.5, 0.5), rng.uniform(-0.1, 0.6))
    xs, ys = canvas.grid()
    dist = np.hypot(xs - center[0], ys - center[1])
    alpha = np.clip(r + 0.5 - dist, 0.0, 1.0)
    ball_shade = 0.6 + 0.4 * np.sqrt(np.clip(1.0 - (dist / r) ** 2, 0.0, 1.0))
    if rng.random() < 0.5:  # foam: dark or coloured, fine irregular grain
        base = np.array([30, 30, 30], np.float32) if rng.random() < 0.6 else _random_color(rng) * 0.7
        color = _texture(rng, canvas.shape, base, grain=max(1.0, r / 12), amount=18)
    else:  # mesh grille: metal with a grid of dark holes
        base = np.full(3, rng.uniform(90, 200), np.float32)
        pitch = max(2.0, r / rng.uniform(5, 10))
        grid = ((np.sin(xs * math.pi / pitch) * np.sin(ys * math.pi / pitch)) > 0.3).astype(np.float32)
        color = base * (1.0 - 0.55 * grid[..., None])
    color = color * ball_shade[..., None]
    # The handle, away from the face.
    angle = math.pi / 2 + rng.normal(0, 0.5)
    end = (center[0] + 4 * r * math.cos(angle), center[1] + 4 * r * math.sin(angle))
    handle, shade = _capsule(canvas, center, end, r * rng.uniform(0.25, 0.4))
    handle_color = np.full(3, rng.uniform(20, 80), np.float32) * shade[..., None]
    color = np.where(alpha[..., None] > 0, color, handle_color)
    return color, np.maximum(alpha, handle)


def _cup(canvas, rng):
    top = rng.uniform(-0.3, 0.35)
    half = rng.uniform(0.5, 1.3)
    cx = rng.uniform(-0.4, 0.4)
    tilt = rng.normal(0, 0.15)
    corners = [(cx - half, top), (cx + half, top), (cx + half * 0.9, top + 3), (cx - half * 0.9, top + 3)]
    c, s = math.cos(tilt), math.sin(tilt)
    pts = np.array([canvas.point(cx + (u - cx) * c - (v - top) * s, top + (u - cx) * s + (v - top) * c)
                    for u, v in corners], np.float32)
    mask = np.zeros(canvas.shape, np.uint8)
    cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    alpha = mask.astype(np.float32) / 255.0
    xs, _ = canvas.grid()
    centre_x = canvas.point(cx, top)[0]
    across = np.clip(np.abs(xs - centre_x) / canvas.px(half), 0, 1)
    shade = 0.6 + 0.4 * np.cos(across * math.pi / 2)
    base = np.full(3, rng.uniform(180, 245), np.float32) if rng.random() < 0.4 else _random_color(rng)
    color = _texture(rng, canvas.shape, base, grain=4, amount=4) * shade[..., None]
    rim = np.zeros(canvas.shape, np.uint8)
    a, b = canvas.point(cx - half, top), canvas.point(cx + half, top)
    cv2.line(rim, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), 255, max(1, int(canvas.px(0.04))), cv2.LINE_AA)
    rim_a = (rim.astype(np.float32) / 255.0)[..., None]
    color = color * (1 - rim_a) + np.float32(min(255, base.mean() * 1.2 + 20)) * rim_a
    return color, alpha


def _pen(canvas, rng):
    angle = rng.uniform(0, math.pi)
    mid = (rng.uniform(-0.4, 0.4), rng.uniform(-0.2, 0.25))
    a = (mid[0] - 2 * math.cos(angle), mid[1] - 2 * math.sin(angle))
    b = (mid[0] + rng.uniform(0.0, 2.0) * math.cos(angle), mid[1] + rng.uniform(0.0, 2.0) * math.sin(angle))
    alpha, shade = _capsule(canvas, canvas.point(*a), canvas.point(*b), canvas.px(rng.uniform(0.03, 0.08)))
    return _random_color(rng) * shade[..., None], alpha


def _phone(canvas, rng):
    side = -1.0 if rng.random() < 0.5 else 1.0
    edge = side * rng.uniform(-0.3, 0.45)
    width, height = rng.uniform(0.6, 1.1), rng.uniform(1.4, 2.2)
    u0, u1 = (edge, edge + side * width)
    v0 = rng.uniform(-1.2, -0.3)
    pts = np.array([canvas.point(u, v) for u, v in ((u0, v0), (u1, v0), (u1, v0 + height), (u0, v0 + height))],
                   np.float32)
    mask = np.zeros(canvas.shape, np.uint8)
    cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    alpha = mask.astype(np.float32) / 255.0
    xs, ys = canvas.grid()
    gloss = (xs + ys) / max(1.0, float(xs.max() + ys.max()))
    base = np.full(3, rng.uniform(10, 70), np.float32) if rng.random() < 0.7 else _random_color(rng)
    color = base + 60.0 * gloss[..., None] * rng.uniform(0.2, 1.0)
    return color, alpha


def _hair(canvas, rng):
    color_base = np.array([[20, 20, 25], [25, 40, 70], [40, 80, 130], [90, 150, 200]][int(rng.integers(0, 4))], np.float32)
    layer = np.zeros(canvas.shape, np.float32)
    for _ in range(int(rng.integers(3, 14))):
        u_start = rng.uniform(-1.0, 1.0)
        pts = [(u_start + rng.normal(0, 0.1) + k * rng.uniform(-0.2, 0.2), -1.0 + k * 0.5) for k in range(5)]
        poly = np.array([canvas.point(u, v) for u, v in pts], np.float32)
        thickness = max(1, int(round(canvas.px(rng.uniform(0.01, 0.03)))))
        cv2.polylines(layer, [np.round(poly * 16).astype(np.int32)], False, 1.0, thickness, cv2.LINE_AA, shift=4)
    alpha = np.clip(layer, 0, 1) * np.float32(rng.uniform(0.75, 1.0))
    color = _texture(rng, canvas.shape, color_base * rng.uniform(0.7, 1.3), grain=2, amount=10)
    return color, alpha


def _object(canvas, rng):
    center = np.array([rng.uniform(-0.4, 0.4), rng.uniform(-0.2, 0.4)])
    radius = rng.uniform(0.2, 0.8)
    angles = np.sort(rng.uniform(0, 2 * math.pi, int(rng.integers(3, 9))))
    pts = np.array([canvas.point(*(center + radius * rng.uniform(0.5, 1.0) * np.array([math.cos(a), math.sin(a)])))
                    for a in angles], np.float32)
    mask = np.zeros(canvas.shape, np.uint8)
    cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    base = _random_color(rng)
    if rng.random() < 0.5:  # stripes
        xs, ys = canvas.grid()
        period = max(2.0, canvas.px(rng.uniform(0.03, 0.2)))
        stripes = (np.sin((xs * math.cos(radius * 7) + ys * math.sin(radius * 7)) * math.pi / period) > 0)
        color = np.where(stripes[..., None], base, _random_color(rng))
    else:
        color = _texture(rng, canvas.shape, base, grain=max(1.0, canvas.px(rng.uniform(0.02, 0.2))), amount=30)
    return color.astype(np.float32), mask.astype(np.float32) / 255.0


def draw(shape: tuple[int, int], box: MouthBox, rng: np.random.Generator, kind: str | None = None,
         skin: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, tuple[int, int], str]:
    """One occluder near the mouth: (colour (h, w, 3) float32 BGR, alpha (h, w) float32 0-1,
    (x0, y0) of that window in the image, kind). ``skin`` is a BGR patch for fingers and hands."""
    kind = kind or str(rng.choice(KINDS))
    if kind not in KINDS:
        raise ValueError(f"unknown occluder {kind!r}; expected one of {', '.join(KINDS)}")
    canvas = _Canvas(shape, box)
    makers = {"finger": lambda: _finger(canvas, rng, skin), "hand": lambda: _hand(canvas, rng, skin),
              "microphone": lambda: _microphone(canvas, rng), "cup": lambda: _cup(canvas, rng),
              "pen": lambda: _pen(canvas, rng), "phone": lambda: _phone(canvas, rng),
              "hair": lambda: _hair(canvas, rng), "object": lambda: _object(canvas, rng)}
    color, alpha = makers[kind]()
    if kind != "hair" and rng.random() < 0.5:  # soft edges: motion, defocus
        alpha = cv2.GaussianBlur(alpha, (0, 0), max(0.3, canvas.px(rng.uniform(0.005, 0.04))))
    return color.astype(np.float32), alpha.astype(np.float32), (canvas.x0, canvas.y0), kind


def occlude(image: np.ndarray, labels: np.ndarray, box: MouthBox, rng: np.random.Generator, kind: str | None = None,
            skin: np.ndarray | None = None) -> Occlusion:
    """Paste one occluder over the mouth of ``image`` (BGR uint8); labels it hides become background.

    A pixel counts as occluded where the occluder's alpha is at least 0.5. Inputs are not modified."""
    color, alpha, origin, kind = draw(labels.shape, box, rng, kind, skin)
    out, visible, covered = paste(image, labels, color, alpha, origin)
    occluder = np.zeros(labels.shape, np.uint8)
    occluder[covered] = OCCLUDER
    occluder[covered & ((labels == 1) | (labels == 2))] = OCCLUDER_OVER_LIPS
    return Occlusion(out, visible, occluder, kind)


def paste(image: np.ndarray, labels: np.ndarray, color: np.ndarray, alpha: np.ndarray,
          origin: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blend an occluder layer into copies of ``image``; returns (image, labels with what it covers set
    to background, covered (H, W) bool). Covered means alpha >= 0.5."""
    x0, y0 = origin
    h, w = alpha.shape
    out, visible = image.copy(), labels.copy()
    region = out[y0:y0 + h, x0:x0 + w].astype(np.float32)
    a = alpha[..., None]
    out[y0:y0 + h, x0:x0 + w] = np.clip(region * (1 - a) + color * a + 0.5, 0, 255).astype(np.uint8)
    covered = np.zeros(labels.shape, bool)
    covered[y0:y0 + h, x0:x0 + w] = alpha >= 0.5
    visible[covered] = 0
    return out, visible, covered
