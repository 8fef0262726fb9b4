"""The webcam-like evaluation generator: deterministic, and the labels land on the lips they label."""

import math

import cv2
import numpy as np
import pytest

from conftest import ellipse_labels
from vcam_lipstick.evaluation.evaluate import labelled_pairs, read_mask
from vcam_lipstick.evaluation.synth import composite, make_webcam_set
from vcam_lipstick.processing.geometry import box_from_mask


def aligned_face():
    """A 512x512 'aligned face': skin-toned oval, red lips where the mask says, darker inner mouth."""
    image = np.full((512, 512, 3), (120, 110, 100), np.uint8)
    cv2.ellipse(image, (256, 270), (190, 240), 0, 0, 360, (150, 170, 205), -1)
    mask = np.zeros((512, 512), np.uint8)
    mask[300:400, 156:356] = ellipse_labels(100, 200, center=(100, 50), axes=(70, 28))
    image[mask == 1] = (70, 60, 200)
    image[mask == 2] = (80, 70, 210)
    image[mask == 3] = (40, 30, 60)
    return image, mask


def redness(frame, where):
    f = frame.astype(np.float32)
    return float((f[..., 2] - f[..., 1])[where].mean())


def test_same_seed_same_frame_and_labels():
    image, mask = aligned_face()
    a = composite(image, mask, np.random.default_rng((0, 3)))
    b = composite(image, mask, np.random.default_rng((0, 3)))
    c = composite(image, mask, np.random.default_rng((0, 4)))
    assert a[0].shape == (720, 1280, 3) and a[1].shape == (720, 1280)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("fraction,angle", [(0.15, 0.0), (0.3, 25.0), (0.6, -30.0)])
def test_labels_land_on_the_lips(fraction, angle):
    image, mask = aligned_face()
    frame, labels = composite(image, mask, np.random.default_rng(1), face_fraction=fraction, angle=angle, exposure=1.0)
    lips = (labels == 1) | (labels == 2)
    assert lips.any()
    ring = cv2.dilate(lips.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool) & ~cv2.dilate(
        (labels > 0).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    inner = cv2.erode(lips.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    # The labelled lips are the red pixels; the skin just around them is not.
    assert redness(frame, inner if inner.any() else lips) > redness(frame, ring) + 40


def test_face_size_and_roll_follow_the_request():
    image, mask = aligned_face()
    # The same seed each time: the same position, background and noise, only size and roll differ.
    _, small = composite(image, mask, np.random.default_rng(2), face_fraction=0.2, angle=0.0)
    _, large = composite(image, mask, np.random.default_rng(2), face_fraction=0.4, angle=0.0)
    _, rolled = composite(image, mask, np.random.default_rng(2), face_fraction=0.4, angle=30.0)
    # Twice the face height: twice the mouth width, four times the area.
    assert box_from_mask(large > 0).width / box_from_mask(small > 0).width == pytest.approx(2.0, rel=0.06)
    assert (large > 0).sum() / (small > 0).sum() == pytest.approx(4.0, rel=0.1)
    assert abs(math.degrees(box_from_mask(large > 0).angle)) < 2.0
    assert abs(math.degrees(box_from_mask(rolled > 0).angle)) == pytest.approx(30.0, abs=3.0)


def test_written_set_is_an_eval_folder(tmp_path):
    image, mask = aligned_face()
    source = tmp_path / "faces"
    (source / "images").mkdir(parents=True)
    (source / "masks").mkdir()
    for name in ("a", "b"):
        cv2.imwrite(str(source / "images" / f"{name}.jpg"), image)
        cv2.imwrite(str(source / "masks" / f"{name}.png"), mask)
    out = tmp_path / "webcam"
    assert make_webcam_set(source, out, count=3, progress=False) == 3
    pairs = labelled_pairs(out)
    assert len(pairs) == 3
    for image_path, mask_path in pairs:
        frame = cv2.imread(str(image_path))
        labels = read_mask(mask_path, frame.shape[:2])
        assert frame.shape == (720, 1280, 3) and labels.max() <= 3 and (labels > 0).any()
