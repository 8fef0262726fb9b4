import cv2
import numpy as np
import pytest

from conftest import ellipse_labels
from vcam_lipstick.processing.mask import LipMask
from vcam_lipstick.processing.render import LipRenderer, gamut_band, lip_alpha, rgb_to_lab
from vcam_lipstick.processing.shades import Finish, Look, Shade

RED = Shade("Test Red", "reds", (192, 20, 30), Finish.MATTE)


def lip_scene(seed=0):
    """Skin-coloured frame with textured pinkish lips, white teeth and a known label map."""
    rng = np.random.default_rng(seed)
    labels = ellipse_labels()
    frame = np.empty(labels.shape + (3,), np.uint8)
    frame[:] = (150, 170, 210)  # skin, BGR
    lip = np.array([120, 110, 190], np.float32)
    texture = rng.normal(0, 9, labels.shape).astype(np.float32)
    creases = 10 * np.sin(np.arange(labels.shape[1]) / 3.0)[None, :].astype(np.float32)
    lips = (labels == 1) | (labels == 2)
    frame[lips] = np.clip(lip + (texture + creases)[lips][:, None], 0, 255).astype(np.uint8)
    frame[labels == 3] = (235, 240, 240)  # teeth
    return frame, labels


def lab_of(img):
    return cv2.cvtColor(img.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)


def test_matte_full_intensity_reaches_the_shade_colour():
    frame, labels = lip_scene()
    out = LipRenderer().render(frame.copy(), [LipMask.from_labels(labels)], Look(RED, Finish.MATTE, 1.0))
    core = cv2.erode(((labels == 1) | (labels == 2)).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    target = rgb_to_lab(RED.rgb)
    lab = lab_of(out)[core]
    assert abs(np.median(lab[:, 1]) - target[1]) < 8
    assert abs(np.median(lab[:, 2]) - target[2]) < 8


def test_texture_is_kept_not_flattened():
    frame, labels = lip_scene()
    core = cv2.erode(((labels == 1) | (labels == 2)).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    out = LipRenderer().render(frame.copy(), [LipMask.from_labels(labels)], Look(RED, Finish.SATIN, 1.0))
    before = lab_of(frame)[..., 0][core].std()
    after = lab_of(out)[..., 0][core].std()
    flat = cv2.addWeighted(frame, 0.7, np.full_like(frame, (30, 20, 192)), 0.3, 0)
    assert after >= 0.6 * before
    assert after > lab_of(flat)[..., 0][core].std()  # better than the study's flat blend


def test_teeth_and_skin_outside_the_lips_are_untouched():
    frame, labels = lip_scene()
    out = LipRenderer().render(frame.copy(), [LipMask.from_labels(labels)], Look(RED, Finish.GLOSS, 1.0))
    diff = np.abs(out.astype(int) - frame.astype(int)).max(axis=2)
    lips = ((labels == 1) | (labels == 2)).astype(np.uint8)
    far = cv2.dilate(lips, np.ones((9, 9), np.uint8)) == 0
    teeth = cv2.erode((labels == 3).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert diff[far & (labels == 0)].mean() <= 2.0
    assert diff[teeth].mean() <= 2.0
    assert diff[lips > 0].mean() > 20  # and the lips did change


def test_edges_are_feathered_in_proportion_to_the_mouth():
    labels = ellipse_labels()
    mask = LipMask.from_labels(labels)
    alpha = lip_alpha(mask.alpha, mouth_width=120)
    row = alpha[110 - mask.y0, :]  # across the lower lip's left and right edges
    ramp = row[(row > 0.05) & (row < 0.95)]
    assert ramp.size >= 2  # soft, not a hard step
    small = lip_alpha(LipMask.from_labels(labels).alpha, mouth_width=20)
    wide = lip_alpha(LipMask.from_labels(labels).alpha, mouth_width=400)
    assert ((wide > 0.05) & (wide < 0.95)).sum() > ((small > 0.05) & (small < 0.95)).sum()


def test_intensity_zero_changes_nothing_and_half_is_between():
    frame, labels = lip_scene()
    masks = [LipMask.from_labels(labels)]
    r = LipRenderer()
    assert np.array_equal(r.render(frame.copy(), masks, Look(RED, Finish.MATTE, 0.0)), frame)
    full = r.render(frame.copy(), masks, Look(RED, Finish.MATTE, 1.0)).astype(int)
    half = r.render(frame.copy(), masks, Look(RED, Finish.MATTE, 0.5)).astype(int)
    lips = (labels == 1) | (labels == 2)
    d_half = np.abs(half - frame)[lips].mean()
    d_full = np.abs(full - frame)[lips].mean()
    assert 0.35 * d_full < d_half < 0.65 * d_full


def test_shimmer_is_stable_on_a_static_face_and_adds_sparkle():
    frame, labels = lip_scene()
    masks = [LipMask.from_labels(labels)]
    r = LipRenderer()
    a = r.render(frame.copy(), masks, Look(RED, Finish.SHIMMER, 1.0))
    b = r.render(frame.copy(), masks, Look(RED, Finish.SHIMMER, 1.0))
    assert np.array_equal(a, b)
    satin = r.render(frame.copy(), masks, Look(RED, Finish.SATIN, 1.0))
    lips = (labels == 1) | (labels == 2)
    assert lab_of(a)[..., 0][lips].max() > lab_of(satin)[..., 0][lips].max() + 3


def test_gloss_brightens_existing_highlights_more_than_matte():
    frame, labels = lip_scene()
    frame[95:99, 120:180][(labels[95:99, 120:180] > 0) & (labels[95:99, 120:180] < 3)] = (200, 200, 250)
    masks = [LipMask.from_labels(labels)]
    gloss = lab_of(LipRenderer().render(frame.copy(), masks, Look(RED, Finish.GLOSS, 1.0)))[..., 0]
    matte = lab_of(LipRenderer().render(frame.copy(), masks, Look(RED, Finish.MATTE, 1.0)))[..., 0]
    spot = np.zeros(labels.shape, bool)
    spot[95:99, 120:180] = True
    spot &= (labels == 1) | (labels == 2)
    assert gloss[spot].mean() > matte[spot].mean() + 5


def test_known_lab_patch_maps_to_the_shade_lab():
    """A flat lip patch at the reference lightness takes the shade's L*, a*, b* exactly (within 2)."""
    labels = ellipse_labels()
    frame = np.full(labels.shape + (3,), 128, np.uint8)
    lab_grey = lab_of(frame[:1, :1])[0, 0]
    target = rgb_to_lab((190, 90, 110))
    ref = np.array([[[55.0, 20.0, 10.0]]], np.float32)  # a lip at the reference lightness
    lip_bgr = np.clip(cv2.cvtColor(ref, cv2.COLOR_Lab2BGR) * 255 + 0.5, 0, 255).astype(np.uint8)[0, 0]
    frame[(labels == 1) | (labels == 2)] = lip_bgr
    out = LipRenderer().render(frame.copy(), [LipMask.from_labels(labels)],
                               Look(Shade("x", "custom", (190, 90, 110)), Finish.MATTE, 1.0))
    core = cv2.erode(((labels == 1) | (labels == 2)).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    got = np.median(lab_of(out)[core], axis=0)
    assert np.allclose(got, target, atol=2.0), (got, target)
    assert np.allclose(lab_of(out)[labels == 0].mean(axis=0), lab_grey, atol=0.5)


def test_render_rejects_wrong_dtype():
    with pytest.raises(TypeError):
        LipRenderer().render(np.zeros((4, 4, 3), np.float32), [], Look(RED, Finish.MATTE, 1.0))


@pytest.mark.parametrize("lip_L, rgb", [(80.0, (255, 140, 105)), (25.0, (240, 60, 150))])
def test_a_shade_keeps_its_colour_on_lips_too_bright_or_dark_for_it(lip_L, rgb):
    """sRGB shows a saturated shade only over a band of lightness (a peach coral up to L* 70, a hot pink
    from L* 42). On lips lit outside that band the shade's a*b* must survive, not clip to a dull tone."""
    labels = ellipse_labels()
    frame = np.full(labels.shape + (3,), 128, np.uint8)
    lip = np.array([[[lip_L, 12.0, 8.0]]], np.float32)
    frame[(labels == 1) | (labels == 2)] = np.clip(cv2.cvtColor(lip, cv2.COLOR_Lab2BGR) * 255 + 0.5, 0, 255)[0, 0]
    out = LipRenderer().render(frame.copy(), [LipMask.from_labels(labels)],
                               Look(Shade("x", "custom", rgb), Finish.MATTE, 1.0))
    core = cv2.erode(((labels == 1) | (labels == 2)).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    got = np.median(lab_of(out)[core], axis=0)
    target = rgb_to_lab(rgb)
    assert np.hypot(*(got[1:] - target[1:])) < 3.0, (got, target)
    low, high = gamut_band(target[1], target[2])
    assert low <= got[0] <= high
