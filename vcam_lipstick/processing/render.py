"""Lipstick rendering: recolour the lips in CIELAB while keeping their own texture and light.

Only the mouth region is touched. Per region:
  * lightness moves to the shade's (adapted to the exposure of the lips), keeping the lip's own
    local detail (creases, shading, highlights) as an offset around its mean;
  * chroma and hue move to the shade's a*/b*, keeping a little of the lip's own variation;
  * the finish reshapes the detail: matte damps highlights, gloss adds a specular highlight that
    follows the lip's own highlights, shimmer adds sparkle fixed to the lips (stable over time);
  * the result is blended with a feathered mask (upper + lower lip only, never the inner mouth);
  * ombré: a second shade takes over towards the middle of the mouth, by distance from the lip line.
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

from .shades import Finish, Look

# Lightness of bare lips in good light; exposure adaptation is relative to it.
REFERENCE_LIP_L = 55.0
_SPARKLE_SIZE = (256, 192)  # sparkle texture, in units of the lips' crop (2x the 128x96 crop)


def rgb_to_lab(rgb: tuple[int, int, int]) -> np.ndarray:
    """(r, g, b) 0-255 -> float32 (L 0-100, a, b), via OpenCV's float conversion (D65)."""
    px = np.array([[[rgb[2], rgb[1], rgb[0]]]], np.float32) / 255.0
    return cv2.cvtColor(px, cv2.COLOR_BGR2Lab)[0, 0]


def _sparkle_texture() -> np.ndarray:
    """Sparse bright points with a soft falloff, fixed by seed so shimmer never flickers."""
    rng = np.random.default_rng(1234)
    w, h = _SPARKLE_SIZE
    tex = np.zeros((h, w), np.float32)
    n = w * h // 40
    xs, ys = rng.integers(0, w, n), rng.integers(0, h, n)
    tex[ys, xs] = rng.uniform(0.3, 1.0, n).astype(np.float32)
    tex = cv2.GaussianBlur(tex, (0, 0), 0.8)
    return tex / tex.max()


_SPARKLE = _sparkle_texture()

# sRGB holds a saturated colour only over a band of lightness: Peach Coral's a*b* between L* 23 and 70,
# Hot Pink's between 42 and 62. A lip lit brighter or darker than that would have its colour clipped
# by the conversion back to BGR (a washed-out tan for Peach Coral on bright lips), so lightness is eased
# into the band instead, keeping the shade's hue and chroma. Table of the band per (a*, b*):
_GAMUT_AB = (-64.0, 96.0, 4.0)  # a* and b* from, to, step
_GAMUT_KNEE = 4.0  # L* units over which a pixel's lightness is eased into the band (detail kept inside)
_GAMUT_MARGIN = 8.0  # the lips' mean lightness stays this far inside the band: room for their detail


@cache
def _gamut_bands() -> tuple[np.ndarray, np.ndarray]:
    """(lowest, highest) L* at which each (a*, b*) of the table is in the sRGB gamut; where no L*
    holds it, both are the L* that comes closest."""
    lo_ab, hi_ab, step = _GAMUT_AB
    ab = np.arange(lo_ab, hi_ab + step / 2, step, dtype=np.float32)
    lightness = np.arange(0.0, 100.5, 1.0, dtype=np.float32)
    grid = np.stack(np.meshgrid(lightness, ab, ab, indexing="ij"), axis=-1)  # (L, a, b, 3)
    flat = grid.reshape(len(lightness), -1, 3)
    back = cv2.cvtColor(cv2.cvtColor(flat, cv2.COLOR_Lab2BGR), cv2.COLOR_BGR2Lab)  # float BGR is clipped to 0-1
    error = np.abs(back[..., 1:] - flat[..., 1:]).max(axis=-1).reshape(len(lightness), len(ab), len(ab))
    inside = error < 1.5
    closest = lightness[error.argmin(axis=0)]
    low = np.where(inside.any(axis=0), lightness[inside.argmax(axis=0)], closest)
    high = np.where(inside.any(axis=0), lightness[len(lightness) - 1 - inside[::-1].argmax(axis=0)], closest)
    return low.astype(np.float32), high.astype(np.float32)


def gamut_band(a: float, b: float) -> tuple[float, float]:
    """Lowest and highest L* (a little inside) at which sRGB shows the chroma (a*, b*)."""
    low_table, high_table = _gamut_bands()
    lo_ab, _, step = _GAMUT_AB
    last = low_table.shape[0] - 1
    ia = min(max(round((float(a) - lo_ab) / step), 0), last)
    ib = min(max(round((float(b) - lo_ab) / step), 0), last)
    low, high = float(low_table[ia, ib]) + 1.0, float(high_table[ia, ib]) - 1.0
    return low, max(high, low)


def _ease_into(value: np.ndarray, low, high, knee: float) -> np.ndarray:
    """``value`` unchanged inside [low + knee, high - knee], eased smoothly to at most ``low``/``high``."""
    knee = np.maximum(np.minimum(knee, (high - low) / 2), 0.25)  # a narrow band: a shorter easing
    # Past a knee's edge by d, a value moves back by d^2 / (knee + d): smooth, and never beyond the band.
    # Most lips sit inside the band, and the checks cost less than the easing.
    over = value - (high - knee)
    if over.max() > 0:
        over = np.maximum(over, 0.0)
        value = value - over * over / (knee + over)
    under = (low + knee) - value
    if under.max() > 0:
        under = np.maximum(under, 0.0)
        value = value + under * under / (knee + under)
    return value


def _feather(alpha: np.ndarray, mouth_width: float) -> np.ndarray:
    sigma = max(0.5, 0.012 * mouth_width)
    return cv2.GaussianBlur(alpha, (0, 0), sigma)


def lip_alpha(mask_alpha: np.ndarray, mouth_width: float) -> np.ndarray:
    """Blend weight (h, w) float32 from (h, w, 3) upper/lower/inner probabilities.

    Feathered in proportion to the mouth's size, then cut back where the inner mouth is, so
    teeth and tongue stay untouched even where the feathering would reach them.
    """
    lips = mask_alpha[..., 0] + mask_alpha[..., 1]
    soft = _feather(lips, mouth_width)
    inner = mask_alpha[..., 2]
    return np.clip(soft * (1.0 - inner) ** 2, 0.0, 1.0)


def ombre_weight(mouth: np.ndarray, lips: np.ndarray) -> np.ndarray:
    """Weight (h, w) float32 in [0, 1] of the ombré shade, rising from the lip line inward.

    ``mouth`` is the (h, w) bool mouth (lips and inner mouth) and ``lips`` the lip pixels, both in
    the mask's own pixels. The distance from the lip line (the mouth's outline) is ranked over the
    lip pixels of this mouth: the weight is 0 up to the median distance and rises smoothly to 1 at
    the 75th percentile, so the outer half of the lips keeps the main shade whatever the mouth's
    size, and the inner quarter takes the ombré shade. 0 outside the mouth.
    """
    # A zero border: the distance is to the lip line even where the mouth touches the region's edge.
    padded = cv2.copyMakeBorder(mouth.astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_5)[1:-1, 1:-1]
    ranked = dist[lips]
    if ranked.size < 4:
        return np.zeros(mouth.shape, np.float32)
    k50, k75 = ranked.size // 2, (3 * ranked.size) // 4
    part = np.partition(ranked, (k50, k75))
    d50, d75 = float(part[k50]), float(part[k75])
    t = np.clip((dist - d50) * (1.0 / max(d75 - d50, 1e-3)), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)  # smoothstep: no visible seam where the blend starts or ends


def _finish_detail(detail: np.ndarray, finish: Finish) -> np.ndarray:
    """Reshape the lip's lightness detail (L minus its local mean) for the finish."""
    if finish is Finish.MATTE:
        # Keep creases and shading, flatten the shine.
        return np.where(detail > 0, detail * 0.45, detail * 0.9)
    if finish is Finish.SATIN:
        return np.where(detail > 0, detail * 0.8, detail)
    return detail


def _lit_within_gamut(target: np.ndarray, exposure: float) -> tuple[float, float, float, float, float]:
    """The shade's (L*, a*, b*) under the lips' exposure, its lightness kept far enough inside the band
    where sRGB shows its chroma that the lip's own shading and detail fit around it; then the band."""
    a, b = float(target[1]), float(target[2])
    low, high = gamut_band(a, b)
    margin = min(_GAMUT_MARGIN, (high - low) / 2)
    return min(max(float(target[0]) * exposure, low + margin), high - margin), a, b, low, high


class LipRenderer:
    """Applies a ``Look`` to the lip regions of a frame, in place. Holds no state between calls."""

    def render(self, frame: np.ndarray, masks, look: Look) -> np.ndarray:
        """Recolour each ``LipMask`` region of a BGR uint8 frame in place and return the frame."""
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise TypeError("frame must be an (H, W, 3) uint8 BGR array")
        if look.intensity <= 0.0:
            return frame
        for mask in masks:
            self._render_region(frame, mask, look)
        return frame

    def _render_region(self, frame: np.ndarray, mask, look: Look) -> None:
        alpha = lip_alpha(mask.alpha, mask.mouth_width)
        touched = (alpha > 0.004).astype(np.uint8)
        if cv2.countNonZero(touched) < 4:
            return
        # Work on the tight box of the blend weight only (cv2's box: 10x faster than numpy's nonzero).
        x0, y0, w, h = cv2.boundingRect(touched)
        y1, x1 = y0 + h, x0 + w
        alpha = alpha[y0:y1, x0:x1]
        fy0, fx0 = mask.y0 + y0, mask.x0 + x0
        region = frame[fy0 : fy0 + (y1 - y0), fx0 : fx0 + (x1 - x0)]
        lab = cv2.cvtColor(region.astype(np.float32) * (1.0 / 255.0), cv2.COLOR_BGR2Lab)
        L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]

        weights = alpha * (alpha > 0.5)
        total = float(weights.sum())
        if total < 1.0:
            return
        # The three weighted means in one product (three separate ones cost three temporaries each).
        L_mean, a_mean, b_mean = (weights.reshape(1, -1) @ lab.reshape(-1, 3))[0] / total

        exposure = float(np.clip((L_mean / REFERENCE_LIP_L) ** 0.5, 0.6, 1.15))
        target = rgb_to_lab(look.shade.rgb)
        target_L, target_a, target_b, low, high = _lit_within_gamut(target, exposure)
        if look.ombre is not None:
            probs = mask.alpha[y0:y1, x0:x1]
            lips = probs[..., 0] + probs[..., 1]
            inner_L, inner_a, inner_b, inner_low, inner_high = _lit_within_gamut(rgb_to_lab(look.ombre.rgb), exposure)
            w_in = ombre_weight(lips + probs[..., 2] > 0.5, lips > 0.5)
            target_L = target_L + (inner_L - target_L) * w_in
            target_a = target_a + (inner_a - target_a) * w_in
            target_b = target_b + (inner_b - target_b) * w_in
            low = low + (inner_low - low) * w_in
            high = high + (inner_high - high) * w_in
        # Local detail around a smooth base; the base carries the large-scale shading, scaled to the shade.
        base = cv2.GaussianBlur(L, (0, 0), max(1.0, 0.04 * mask.mouth_width))
        detail = _finish_detail(L - base, look.finish)
        shading = (base - L_mean) * np.clip(target_L / max(L_mean, 1.0), 0.7, 1.2)
        # Into the band where sRGB shows the shade's chroma; gloss and shimmer highlights, added below,
        # whiten as they brighten, as real highlights do.
        new_L = _ease_into(target_L + shading + detail, low, high, _GAMUT_KNEE)

        chroma_keep = 0.15
        new_a = target_a + chroma_keep * (a - a_mean)
        new_b = target_b + chroma_keep * (b - b_mean)

        if look.finish is Finish.GLOSS:
            # Specular highlight where the lip already catches light, whitening as it brightens.
            spec = np.clip(L - base - 2.0, 0.0, None)
            spec = cv2.GaussianBlur(spec, (0, 0), max(0.8, 0.015 * mask.mouth_width))
            gain = 2.2
            new_L = new_L + gain * spec
            fade = 1.0 / (1.0 + 0.08 * spec)
            new_a = new_a * fade
            new_b = new_b * fade
        elif look.finish is Finish.SHIMMER:
            sparkle = self._sparkle(mask, fx0, fy0, alpha.shape)
            lit = np.clip((base - L_mean) / 15.0 + 0.6, 0.2, 1.2)
            new_L = new_L + 18.0 * sparkle * lit
            new_a = new_a * (1.0 - 0.3 * sparkle)
            new_b = new_b * (1.0 - 0.3 * sparkle) + 6.0 * sparkle  # a warm metallic glint

        if look.liner:
            edge = np.clip(alpha * (1.0 - alpha) * 4.0, 0.0, 1.0)
            new_L = new_L - 8.0 * edge

        lab[..., 0] = np.clip(new_L, 0.0, 100.0)
        lab[..., 1] = new_a
        lab[..., 2] = new_b
        painted = cv2.convertScaleAbs(cv2.cvtColor(lab, cv2.COLOR_Lab2BGR), alpha=255.0)  # rounded, saturated
        w = alpha * float(look.intensity)
        np.copyto(region, cv2.blendLinear(region, painted, 1.0 - w, w))

    @staticmethod
    def _sparkle(mask, fx0: int, fy0: int, shape: tuple[int, int]) -> np.ndarray:
        """The fixed sparkle texture mapped onto the lips through the mouth's crop frame."""
        m = mask.matrix.copy()
        m = m * 2.0  # the texture is at twice the crop's resolution
        m[:, 2] += m[:, :2] @ np.array([fx0, fy0], np.float64)
        h, w = shape
        return cv2.warpAffine(_SPARKLE, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_WRAP)
