import math

import numpy as np
import pytest

from conftest import ellipse_labels
from vcam_lipstick.processing.geometry import MouthBox, box_from_mask, crop_matrix, invert_affine
from vcam_lipstick.processing.metrics import ScoreBoard, iou


def test_iou_on_hand_made_masks():
    a = np.zeros((10, 10), bool)
    b = np.zeros((10, 10), bool)
    a[0:4, 0:5] = True  # 20 px
    b[2:6, 0:5] = True  # 20 px, 10 shared
    assert iou(a, b) == pytest.approx(10 / 30)
    assert iou(a, a) == 1.0
    assert iou(a, ~a) == 0.0
    assert math.isnan(iou(np.zeros_like(a), np.zeros_like(a)))


def test_scoreboard_mean_and_pooled_differ_as_they_should():
    board = ScoreBoard()
    truth = np.zeros((10, 10), np.uint8)
    truth[0:2, :] = 1  # 20 px upper
    truth[2:4, :] = 2  # 20 px lower
    board.add("perfect", truth.copy(), truth, 1.0)
    pred = np.zeros_like(truth)
    pred[0:2, :] = 1  # only the upper lip found
    board.add("half", pred, truth, 3.0)
    s = board.summary()
    assert s["lip_iou_mean"] == pytest.approx((1.0 + 0.5) / 2)
    assert s["lip_iou_pooled"] == pytest.approx((40 + 20) / (40 + 40))
    assert s["upper_iou_mean"] == pytest.approx(1.0)
    assert s["lower_iou_mean"] == pytest.approx(0.5)  # 1.0 and 0.0
    assert s["recall_pooled"] == pytest.approx(60 / 80)
    # F1 = 2|P & T| / (|P| + |T|), pooled: lips 60 shared of 60 predicted and 80 true.
    assert s["lip_f1_pooled"] == pytest.approx(2 * 60 / (60 + 80))
    assert s["lower_f1_pooled"] == pytest.approx(2 * 20 / (20 + 40))
    assert s["ms_per_image_median"] == pytest.approx(2.0)
    with pytest.raises(ValueError):
        board.add("bad", np.zeros((5, 5), np.uint8), truth, 1.0)


@pytest.mark.parametrize("angle", [-25.0, 0.0, 18.0])
def test_box_from_mask_recovers_centre_width_and_roll(angle):
    labels = ellipse_labels(h=300, w=400, center=(200, 150), axes=(80, 30), angle=angle)
    box = box_from_mask(labels > 0)
    assert box.cx == pytest.approx(200, abs=1.5) and box.cy == pytest.approx(150, abs=1.5)
    assert box.width == pytest.approx(161, abs=3)
    assert math.degrees(box.angle) == pytest.approx(angle, abs=2)


def test_crop_matrix_centres_and_levels_the_mouth():
    box = MouthBox(300.0, 200.0, 100.0, 40.0, math.radians(20))
    m = crop_matrix(box, 128, 96)
    centre = m @ np.array([300.0, 200.0, 1.0])
    assert centre == pytest.approx([63.5, 47.5])
    corner = m @ np.array([300 + 50 * math.cos(box.angle), 200 + 50 * math.sin(box.angle), 1.0])
    assert corner[1] == pytest.approx(47.5)  # the rolled mouth line is level in the crop
    assert corner[0] - 63.5 == pytest.approx(128 * 0.6 / 2)
    back = invert_affine(m) @ np.append(centre, 1.0)
    assert back == pytest.approx([300.0, 200.0])


def test_pooled_iou_pools_pixels_over_images_per_class_and_for_both_lips():
    from vcam_lipstick.processing.metrics import PooledIoU

    truth = np.array([[1, 1, 2, 2, 3, 0]])
    pred = np.array([[1, 2, 2, 2, 0, 3]])
    tally = PooledIoU()
    tally.add(pred, truth)
    tally.add(truth, truth)  # a perfect second image pools in, it does not average
    scores = tally.scores()
    assert scores["upper_iou"] == 3 / 4  # upper: 3 shared pixels of 4 in the union
    assert scores["lower_iou"] == 4 / 5
    assert scores["inner_iou"] == 1 / 3
    assert scores["lip_iou"] == 8 / 8  # both lips together: the upper/lower swap does not count
