"""Ombré: a second shade for the middle of the lips, blended in from the lip line.

The targets (issue 15), checked on synthetic mouths: with ``--intensity 100`` the inner quarter of
the lips by distance from the lip line is within 8 a*b* units of the ombré shade, and the band
between the 25th and 50th percentile of that distance stays within 4 of a plain render.
"""

import json
import logging

import cv2
import numpy as np
import pytest

from conftest import ellipse_labels
from vcam_lipstick.processing.mask import LipMask
from vcam_lipstick.processing.render import LipRenderer, rgb_to_lab
from vcam_lipstick.processing.shades import Finish, Look, Shade, ShadeBook
from vcam_lipstick.settings import Settings, SettingsStore

RED = Shade("Test Red", "reds", (192, 20, 30), Finish.MATTE)
PINK = Shade("Test Pink", "pinks", (224, 138, 158), Finish.GLOSS)


def scene(labels, seed=0):
    """Skin with textured pinkish lips and white teeth on ``labels`` (0 bg, 1 upper, 2 lower, 3 inner)."""
    rng = np.random.default_rng(seed)
    frame = np.empty(labels.shape + (3,), np.uint8)
    frame[:] = (150, 170, 210)
    lips = (labels == 1) | (labels == 2)
    texture = rng.normal(0, 9, labels.shape) + 10 * np.sin(np.arange(labels.shape[1]) / 3.0)[None, :]
    frame[lips] = np.clip(np.array([120, 110, 190]) + texture[lips][:, None], 0, 255).astype(np.uint8)
    frame[labels == 3] = (235, 240, 240)
    return frame


def lab_of(img):
    return cv2.cvtColor(img.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)


def depth(labels):
    """Each pixel's distance from the lip line (the mouth's outline) and the lip pixels' quartiles."""
    mouth = np.pad((labels > 0).astype(np.uint8), 1)
    dist = cv2.distanceTransform(mouth, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    lips = (labels == 1) | (labels == 2)
    return dist, lips, np.percentile(dist[lips], [25, 50, 75])


def ab_distance(lab_pixels, ab):
    """a*b* distance of the region's median colour from ``ab``."""
    return float(np.hypot(*(np.median(lab_pixels[:, 1:], axis=0) - ab)))


MOUTHS = {
    "open": ellipse_labels(),
    "closed": np.where(ellipse_labels() == 3, 2, ellipse_labels()).astype(np.uint8),
    "large, tilted": ellipse_labels(h=400, w=600, center=(300, 200), axes=(180, 70), angle=12),
    "small": ellipse_labels(h=80, w=120, center=(60, 40), axes=(24, 10)),
}


@pytest.mark.parametrize("finish", list(Finish))
@pytest.mark.parametrize("mouth", list(MOUTHS))
def test_inner_quarter_takes_the_ombre_shade_and_the_outer_band_keeps_the_main_one(mouth, finish):
    labels = MOUTHS[mouth]
    frame = scene(labels)
    masks = [LipMask.from_labels(labels)]
    dist, lips, (p25, p50, p75) = depth(labels)
    inner_quarter, band = lips & (dist >= p75), lips & (dist >= p25) & (dist < p50)
    plain = lab_of(LipRenderer().render(frame.copy(), masks, Look(RED, finish, 1.0)))
    ombre = lab_of(LipRenderer().render(frame.copy(), masks, Look(RED, finish, 1.0, ombre=PINK)))
    pink, red = rgb_to_lab(PINK.rgb)[1:], rgb_to_lab(RED.rgb)[1:]
    assert np.hypot(*(pink - red)) > 30  # the two shades are far apart, so the check below means something
    assert ab_distance(ombre[inner_quarter], pink) <= 8
    assert ab_distance(ombre[band], np.median(plain[band][:, 1:], axis=0)) <= 4
    per_pixel = np.hypot(*(ombre[band][:, 1:] - plain[band][:, 1:]).T)
    assert np.percentile(per_pixel, 95) <= 4


def test_the_blend_is_gradual_from_the_median_depth_to_the_inner_quarter():
    labels = MOUTHS["large, tilted"]
    frame = scene(labels)
    masks = [LipMask.from_labels(labels)]
    dist, lips, (_, p50, p75) = depth(labels)
    ombre = lab_of(LipRenderer().render(frame.copy(), masks, Look(RED, Finish.MATTE, 1.0, ombre=PINK)))
    red, pink = rgb_to_lab(RED.rgb)[1:], rgb_to_lab(PINK.rgb)[1:]
    step = pink - red
    # How far along red -> pink the median colour is, per 1-pixel ring of depth.
    rings = np.arange(int(p50) - 3, int(p75) + 4)
    along = []
    for d in rings:
        ring = lips & (dist >= d) & (dist < d + 1)
        along.append(float(np.dot(np.median(ombre[ring][:, 1:], axis=0) - red, step) / np.dot(step, step)))
    along = np.array(along)
    assert along[0] < 0.1 and along[-1] > 0.9
    assert np.all(np.diff(along) > -0.05)  # only ever towards the ombré shade
    assert np.sum((along > 0.15) & (along < 0.85)) >= 3  # several rings in between: no hard seam
    assert np.max(np.diff(along)) < 0.5


def test_the_feathered_edge_teeth_and_skin_are_exactly_as_without_ombre():
    labels = MOUTHS["open"]
    frame = scene(labels)
    masks = [LipMask.from_labels(labels)]
    dist, lips, (_, p50, _) = depth(labels)
    plain = LipRenderer().render(frame.copy(), masks, Look(RED, Finish.SATIN, 1.0))
    ombre = LipRenderer().render(frame.copy(), masks, Look(RED, Finish.SATIN, 1.0, ombre=PINK))
    outer = (labels == 0) | (lips & (dist < p50 - 0.5))  # the skin, the feather and the outer half of the lips
    assert np.array_equal(ombre[outer], plain[outer])
    assert np.array_equal(ombre[labels == 3], plain[labels == 3])
    assert np.abs(ombre.astype(int) - plain.astype(int))[lips & (dist > p50)].mean() > 5  # the inside changed


def test_each_mouth_gets_its_own_ombre():
    big = ellipse_labels(h=400, w=900, center=(250, 200), axes=(180, 70))
    small = ellipse_labels(h=400, w=900, center=(700, 200), axes=(40, 15))
    frame = scene(np.maximum(big, small))
    masks = [LipMask.from_labels(big), LipMask.from_labels(small)]
    out = lab_of(LipRenderer().render(frame, masks, Look(RED, Finish.MATTE, 1.0, ombre=PINK)))
    pink, red = rgb_to_lab(PINK.rgb)[1:], rgb_to_lab(RED.rgb)[1:]
    for labels in (big, small):
        dist, lips, (p25, p50, p75) = depth(labels)
        assert ab_distance(out[lips & (dist >= p75)], pink) <= 8
        assert ab_distance(out[lips & (dist >= p25) & (dist < p50)], red) <= 8


def test_ombre_at_half_intensity_is_between_the_bare_lips_and_full():
    labels = MOUTHS["open"]
    frame = scene(labels)
    masks = [LipMask.from_labels(labels)]
    dist, lips, (_, _, p75) = depth(labels)
    inner = lips & (dist >= p75)
    full = LipRenderer().render(frame.copy(), masks, Look(RED, Finish.MATTE, 1.0, ombre=PINK)).astype(int)
    half = LipRenderer().render(frame.copy(), masks, Look(RED, Finish.MATTE, 0.5, ombre=PINK)).astype(int)
    d_full, d_half = np.abs(full - frame)[inner].mean(), np.abs(half - frame)[inner].mean()
    assert 0.35 * d_full < d_half < 0.65 * d_full


def test_look_refuses_an_ombre_that_is_not_a_shade():
    with pytest.raises(TypeError):
        Look(RED, Finish.MATTE, 1.0, ombre="#E08A9E")


# -- settings: the palette and the tray store the ombré by name --------------------------------------------------

def test_ombre_setting_survives_a_restart_and_defaults_to_off(tmp_path):
    store = SettingsStore(tmp_path)
    assert store.load().ombre is None
    store.save(Settings(shade="Wine Berry", ombre="Ballet Pink"))
    assert SettingsStore(tmp_path).load().ombre == "Ballet Pink"
    store.save(Settings(ombre=None))
    assert json.loads((tmp_path / "settings.json").read_text())["ombre"] is None
    assert SettingsStore(tmp_path).load().ombre is None


@pytest.mark.parametrize("value, expected, warned", [
    (None, None, False), ("", None, False), ("#E08A9E", "#E08A9E", False),
    (5, None, True), (["Plum"], None, True), ("x" * 500, None, True), ("Evil\x1b[2J", None, True),
])
def test_a_bad_ombre_setting_is_reset_to_off_with_one_warning(tmp_path, caplog, value, expected, warned):
    (tmp_path / "settings.json").write_text(json.dumps({"shade": "Plum", "ombre": value}))
    with caplog.at_level(logging.WARNING):
        s = SettingsStore(tmp_path).load()
    assert s.ombre == expected and s.shade == "Plum"
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == (1 if warned else 0) and all("ombre" in line and "\x1b" not in line for line in lines)


# -- the command line -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, needle", [("Balet Pink", "Ballet Pink"), ("#12345", "#RRGGBB"), ("#GG0000", "#RRGGBB")])
def test_process_with_a_bad_ombre_is_one_line_and_exit_2(capsys, tmp_path, value, needle):
    from vcam_lipstick.cli import main

    out = tmp_path / "out.png"
    assert main(["process", str(tmp_path / "in.jpg"), "-o", str(out), "--ombre", value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--ombre" in err[0] and needle in err[0], err
    assert not out.exists()


def test_process_with_ombre_recolours_the_middle_of_the_lips(tmp_path, demo_frame, tracker):
    from vcam_lipstick.cli import main

    src = tmp_path / "face.png"
    cv2.imwrite(str(src), demo_frame)
    plain, ombre = tmp_path / "plain.png", tmp_path / "ombre.png"
    assert main(["process", str(src), "-o", str(plain), "--shade", "Wine Berry", "--intensity", "100"]) == 0
    assert main(["process", str(src), "-o", str(ombre), "--shade", "Wine Berry", "--ombre", "Ballet Pink",
                 "--intensity", "100"]) == 0
    labels = tracker.segment_image(demo_frame)[0].labels(demo_frame.shape)
    dist, lips, (p25, p50, p75) = depth(labels)
    got_plain, got_ombre = lab_of(cv2.imread(str(plain))), lab_of(cv2.imread(str(ombre)))
    pink = rgb_to_lab(ShadeBook.load().get("Ballet Pink").rgb)[1:]
    assert ab_distance(got_ombre[lips & (dist >= p75)], pink) <= 8
    band = lips & (dist >= p25) & (dist < p50)
    assert ab_distance(got_ombre[band], np.median(got_plain[band][:, 1:], axis=0)) <= 4


# -- the tray's "matching lighter shade" ---------------------------------------------------------------------------

def _lab_hue(rgb):
    lab = rgb_to_lab(rgb)
    return lab[0], np.degrees(np.arctan2(lab[2], lab[1]))


@pytest.mark.parametrize("name", [s.name for s in ShadeBook.load()])
def test_every_shade_has_a_lighter_match_of_about_the_same_hue(name):
    book = ShadeBook.load()
    shade = book.get(name)
    match = book.lighter_match(shade)
    (L0, h0), (L1, h1) = _lab_hue(shade.rgb), _lab_hue(match.rgb)
    assert match.name != shade.name
    assert L1 >= L0 + 8, (match.name, L0, L1)
    assert abs((h1 - h0 + 180) % 360 - 180) <= 25, (match.name, h0, h1)
    assert book.get(match.name).rgb == match.rgb  # a name the settings can store and the book can give back


def test_lighter_match_prefers_a_built_in_and_falls_back_to_a_lighter_mix():
    book = ShadeBook.load()
    assert book.lighter_match(book.get("Deep Plum")).family == "plums"
    lightest = book.get("Ballet Pink")
    mixed = book.lighter_match(lightest)
    assert mixed.family == "custom" and all(m > c for m, c in zip(mixed.rgb, lightest.rgb) if c < 255)
