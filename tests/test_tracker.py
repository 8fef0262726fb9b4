import math

import cv2
import numpy as np
import pytest

from vcam_lipstick.model.detector import NMS_IOU, Face, non_max_suppression
from vcam_lipstick.model.tracker import (RETRY_MAX_FACE_WIDTH, blend_probs, box_from_face, mouth_covers,
                                         mouth_fits_face, smooth_box)
from vcam_lipstick.processing.geometry import MouthBox
from vcam_lipstick.processing.mask import lip_pixels
from vcam_lipstick.processing.metrics import iou


def test_acquires_the_demo_face_mouth_on_a_full_frame(tracker, demo_frame):
    masks = tracker.segment_image(demo_frame)
    assert len(masks) == 1
    lips = lip_pixels(masks, demo_frame.shape)
    ys, xs = np.nonzero(lips)
    # The demo face's mouth sits in the lower middle of the frame, a few dozen pixels wide.
    assert 40 < np.ptp(xs) < 200 and 10 < np.ptp(ys) < 120
    assert 560 < xs.mean() < 720 and 280 < ys.mean() < 420


def test_no_face_means_no_mask(tracker):
    tracker.reset()
    blank = np.full((480, 640, 3), 90, np.uint8)
    assert tracker.segment_image(blank) == []
    for _ in range(5):
        assert tracker.process(blank) == []


def test_small_and_rolled_face_is_found(tracker, demo_frame):
    """The demo portrait rolled by 25 degrees and shrunk so the face is ~20% of the frame height."""
    h, w = demo_frame.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h * 0.5), 25, 0.6)
    frame = cv2.warpAffine(demo_frame, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    masks = tracker.segment_image(frame)
    assert masks, "mouth not found"
    assert lip_pixels(masks, frame.shape).sum() > 100


def test_tracking_follows_motion_without_the_detector(tracker, demo_frame):
    tracker.reset()
    h, w = demo_frame.shape[:2]
    acquired = 0
    centres = []
    for i in range(30):
        shift = np.float32([[1, 0, 3 * i], [0, 1, 0]])
        frame = cv2.warpAffine(demo_frame, shift, (w, h), borderMode=cv2.BORDER_REPLICATE)
        masks = tracker.process(frame)
        acquired += tracker.times.acquired
        assert masks, f"lost at frame {i}"
        ys, xs = np.nonzero(lip_pixels(masks, frame.shape))
        centres.append(xs.mean())
    assert acquired == 1  # the detector ran once; the rest was tracking
    moved = centres[-1] - centres[0]
    assert 87 * 0.85 < moved < 87 * 1.15  # followed the 87 px pan


def test_masks_are_stable_under_sensor_noise(tracker, demo_frame):
    tracker.reset()
    rng = np.random.default_rng(0)
    previous, scores = None, []
    for _ in range(30):
        noisy = np.clip(demo_frame.astype(np.int16) + rng.normal(0, 4, demo_frame.shape), 0, 255).astype(np.uint8)
        lips = lip_pixels(tracker.process(noisy), demo_frame.shape)
        if previous is not None:
            scores.append(iou(lips, previous))
        previous = lips
    assert min(scores[5:]) >= 0.95
    assert np.mean(scores[5:]) >= 0.98


def test_all_faces_option_tracks_two_faces(demo_frame):
    from vcam_lipstick.model.bundle import load_tracker

    h, w = demo_frame.shape[:2]
    half = cv2.resize(demo_frame, (w // 2, h // 2))
    frame = np.full_like(demo_frame, 120)
    frame[h // 4 : h // 4 + h // 2, : w // 2] = half
    frame[h // 4 : h // 4 + h // 2, w // 2 :] = half
    assert len(load_tracker(all_faces=True).segment_image(frame)) == 2
    assert len(load_tracker(all_faces=False).segment_image(frame)) == 1


def test_box_smoothing_damps_jitter_but_follows_motion():
    box = MouthBox(100, 100, 60, 25, 0.0)
    jitter = smooth_box(box, MouthBox(100.6, 100, 60, 25, 0.0))
    assert abs(jitter.cx - 100) < 0.3
    moved = smooth_box(box, MouthBox(130, 100, 60, 25, 0.0))
    assert moved.cx > 128


def test_probability_blend_averages_noise_and_takes_motion():
    prev = np.full((3, 4, 4), 0.5, np.float32)
    noisy = prev + 0.04
    assert np.allclose(blend_probs(prev, noisy), 0.5 + 0.15 * 0.04)
    closed = np.full_like(prev, 0.05)
    assert np.allclose(blend_probs(closed, np.full_like(prev, 0.95)), 0.95)  # the mouth moved: no lag


def test_box_from_face_uses_the_mouth_corners():
    class F:
        landmarks = np.array([[80, 50], [120, 50], [100, 70], [85, 90], [115, 90]], np.float32)

    box = box_from_face(F())
    assert box.width == 30 * 1.04
    assert abs(box.cx - 100) < 1e-6 and box.cy > 90 and abs(box.angle) < 1e-6
    F.landmarks = np.array([[80, 50], [120, 50 + 40 * math.tan(0.3)], [100, 70], [85, 90], [115, 90 + 30 * math.tan(0.3)]],
                           np.float32)
    assert abs(box_from_face(F()).angle - 0.3) < 0.01


def test_a_detector_miss_during_a_recheck_keeps_the_track(demo_frame):
    from vcam_lipstick.model.bundle import load_tracker

    tracker = load_tracker()
    tracker.options.redetect_every = 2
    assert tracker.process(demo_frame)
    tracker.detector.detect = lambda frame, min_score=None: []  # the detector now sees nothing
    for _ in range(6):
        assert tracker.process(demo_frame), "lipstick blinked off when the detector missed"


def shrunk_into_320x240(frame, factor):
    small = cv2.resize(frame, (320, 240), interpolation=cv2.INTER_AREA)
    m = cv2.getRotationMatrix2D((160.0, 120.0), 0, factor)
    return cv2.warpAffine(small, m, (320, 240), borderMode=cv2.BORDER_REPLICATE)


def test_a_small_face_in_a_320x240_frame_is_found(tracker, demo_frame):
    """A 320x240 webcam with the face about 10-15% of the frame height: the detector must look closer."""
    faces = tracker.detector.detect(shrunk_into_320x240(demo_frame, 0.25))
    assert len(faces) == 1
    x0, y0, x1, y1 = faces[0].box
    assert abs((x0 + x1) / 2 - 160) < 6 and 8 < y1 - y0 < 40
    frame = shrunk_into_320x240(demo_frame, 0.35)
    ys, xs = np.nonzero(lip_pixels(tracker.segment_image(frame), frame.shape))
    assert xs.size and abs(xs.mean() - 160) < 5 and abs(ys.mean() - 116) < 5


@pytest.mark.parametrize("spread", [0.25, 0.0, 3.0])
def test_misplaced_mouth_corners_still_give_the_whole_mouth(demo_frame, spread):
    """On a yawn or a turned head the detector puts the mouth corners too close together (or, rarely,
    too far apart); a crop placed by them cuts the lips off or shows them too small. Acquisition must
    still end on the whole mouth, for a still image and for the first video frame."""
    import dataclasses

    from vcam_lipstick.model.bundle import load_tracker

    tracker = load_tracker()
    whole = lip_pixels(tracker.segment_image(demo_frame), demo_frame.shape)
    detect = tracker.detector.detect

    def corners_moved(frame, min_score=None):
        faces = []
        for face in detect(frame):
            lm = face.landmarks.copy()
            mid = (lm[3] + lm[4]) / 2
            lm[3:5] = mid + (lm[3:5] - mid) * spread
            faces.append(dataclasses.replace(face, landmarks=lm))
        return faces

    tracker.detector.detect = corners_moved
    assert iou(lip_pixels(tracker.segment_image(demo_frame), demo_frame.shape), whole) > 0.9
    tracker.reset()
    assert iou(lip_pixels(tracker.process(demo_frame), demo_frame.shape), whole) > 0.85


def test_lips_must_lie_in_the_lower_part_of_their_face():
    face = Face(box=(100.0, 100.0, 300.0, 350.0), score=0.99, landmarks=np.zeros((5, 2), np.float32))
    assert mouth_fits_face(MouthBox(200, 290, 80, 30, 0.0), face)
    assert mouth_fits_face(MouthBox(200, 300, 70, 70, 0.0), face)  # a wide-open mouth
    assert not mouth_fits_face(MouthBox(200, 150, 80, 30, 0.0), face)  # on the eyes
    assert not mouth_fits_face(MouthBox(420, 290, 80, 30, 0.0), face)  # beside the face
    assert not mouth_fits_face(MouthBox(200, 290, 190, 60, 0.0), face)  # wider than a mouth can be
    # A wide retry crop over a small face can take the mouth and the skin around it for lips (a ring):
    # lips that wide (65% of the face) are refused from a retry, though a first crop may find them.
    ring = MouthBox(200, 290, 130, 45, 0.0)
    assert mouth_fits_face(ring, face) and not mouth_fits_face(ring, face, RETRY_MAX_FACE_WIDTH)


def test_mouth_covers_points_in_its_rotated_box():
    level = MouthBox(200, 300, 80, 30, 0.0)
    assert mouth_covers(level, 200, 300) and mouth_covers(level, 245, 300)  # 40 + 8 margin
    assert not mouth_covers(level, 200, 330)  # the chin below
    tilted = MouthBox(200, 300, 80, 30, math.radians(90))  # width now runs down the image
    assert mouth_covers(tilted, 200, 345) and not mouth_covers(tilted, 245, 300)


def with_mouth_covered(tracker, frame):
    """The frame with its lips hidden under a skin-coloured patch (as by a hand or a mask)."""
    ys, xs = np.nonzero(lip_pixels(tracker.segment_image(frame), frame.shape))
    x0, x1, y0, y1 = xs.min() - 15, xs.max() + 15, ys.min() - 12, ys.max() + 12
    skin = np.median(frame[y0 - 40 : y0 - 25, x0:x1].reshape(-1, 3), axis=0)
    noise = np.random.default_rng(0).normal(0, 3, (y1 - y0, x1 - x0, 3))
    covered = frame.copy()
    covered[y0:y1, x0:x1] = np.clip(skin + noise, 0, 255).astype(np.uint8)
    return covered


def test_a_covered_mouth_gets_no_lipstick_anywhere(tracker, demo_frame):
    """Lips hidden: the wider retry crops must not take the patch's edge or the chin for lips."""
    frame = with_mouth_covered(tracker, demo_frame)
    assert not lip_pixels(tracker.segment_image(frame), frame.shape).any()
    tracker.reset()
    for _ in range(6):
        assert not lip_pixels(tracker.process(frame), frame.shape).any()


def test_covering_the_mouth_mid_call_removes_the_lipstick_at_once(tracker, demo_frame):
    """A hand over the mouth while tracking: no lipstick on the hand, and it is back when the hand goes."""
    covered = with_mouth_covered(tracker, demo_frame)
    tracker.reset()
    for _ in range(5):
        assert lip_pixels(tracker.process(demo_frame), demo_frame.shape).any()
    for _ in range(6):
        assert not lip_pixels(tracker.process(covered), covered.shape).any()
    # While no lips are seen the detector runs every few frames only (a face hidden for minutes must not
    # cost a core), so the lipstick may take up to that many frames to come back.
    wait = tracker.options.idle_detect_every
    back = [lip_pixels(tracker.process(demo_frame), demo_frame.shape).any() for _ in range(wait + 3)]
    assert all(back[wait:]), f"lipstick did not come back within {wait} frames of uncovering"


def with_finger(frame, tip, width, skin):
    """The frame with a shaded, skin-coloured finger reaching up from below the frame to ``tip``."""
    layer = np.zeros(frame.shape[:2], np.float32)
    cv2.line(layer, (int(tip[0]), int(tip[1])), (int(tip[0]) + 40, frame.shape[0] + 50), 1.0, width, cv2.LINE_AA)
    covered = layer >= 0.5
    shade = cv2.GaussianBlur(layer, (0, 0), width / 4.0)[..., None]
    out = frame.astype(np.float32) * (1 - layer[..., None]) + (skin * (0.6 + 0.4 * shade)) * layer[..., None]
    return np.clip(out, 0, 255).astype(np.uint8), covered


def test_a_finger_sliding_over_the_mouth_never_gets_lipstick(tracker, demo_frame):
    """Live: on every frame the finger moves further over the lips, none of it is painted, and the
    lipstick on the lips it leaves uncovered stays."""
    lips = lip_pixels(tracker.segment_image(demo_frame), demo_frame.shape)
    ys, xs = np.nonzero(lips)
    skin = np.median(demo_frame[ys.min() - 40 : ys.min() - 25, xs.min() : xs.max()].reshape(-1, 3), axis=0)
    width = int(0.25 * np.ptp(xs))
    tracker.reset()
    for _ in range(5):
        tracker.process(demo_frame)
    cx = int(xs.mean())
    for tip_y in np.linspace(ys.max() + 30, ys.min() - 10, 8):
        frame, finger = with_finger(demo_frame, (cx, tip_y), width, skin)
        painted = lip_pixels(tracker.process(frame), frame.shape)
        # The finger less its 2-pixel rim, where the lipstick's feathered edge meets it.
        hidden = cv2.erode(finger.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & lips
        if np.count_nonzero(hidden) >= 50:
            share = np.count_nonzero(painted & hidden) / np.count_nonzero(hidden)
            assert share <= 0.02, f"{share:.0%} of the finger over the lips got lipstick (tip at y={tip_y:.0f})"
        visible = lips & ~cv2.dilate(finger.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
        assert np.count_nonzero(painted & visible) >= 0.6 * np.count_nonzero(visible)


def test_a_still_mouth_skips_the_network_but_any_change_in_it_runs_it(tracker, demo_frame):
    """A listener sits still for most of a call: while the mouth crop shows what it showed under a webcam's
    sensor noise (sigma 4 levels), the mask is kept (and identical), not recomputed; a change as small as a lip parting a few pixels is segmented
    on the frame it appears, and a long still spell is still re-checked."""
    tracker.reset()
    runs = []
    infer = tracker.segmenter.infer
    tracker.segmenter.infer = lambda blob: runs.append(1) or infer(blob)
    try:
        rng = np.random.default_rng(1)
        for _ in range(3):
            tracker.process(demo_frame)
        runs.clear()
        previous = lip_pixels(tracker.process(demo_frame), demo_frame.shape)
        runs.clear()
        for _ in range(30):
            noisy = np.clip(demo_frame + rng.normal(0, 4, demo_frame.shape), 0, 255).astype(np.uint8)
            before = len(runs)
            lips = lip_pixels(tracker.process(noisy), demo_frame.shape)
            if len(runs) == before:
                assert np.array_equal(lips, previous)  # kept as it was
            previous = lips
        assert 2 <= len(runs) <= 10  # at most every 9th frame: re-checked, not frozen
        runs.clear()
        ys, xs = np.nonzero(previous)
        parted = demo_frame.copy()
        cy, cx = int(ys.mean()), int(xs.mean())
        parted[cy - 2 : cy + 2, cx - 8 : cx + 8] = (40, 30, 60)  # a dark gap opening between the lips
        tracker.process(parted)
        assert runs == [1]
    finally:
        tracker.segmenter.infer = infer


def test_the_pasted_mask_keeps_every_pixel_the_lipstick_could_reach(tracker, demo_frame):
    """Only the mouth's part of the crop is pasted into the frame; nothing that could paint is cut off:
    every frame pixel where the whole crop carries mouth probability above the renderer's cut-off lies
    inside the pasted region, with the same value."""
    from vcam_lipstick.model.segmenter import paste

    tracker.reset()
    tracker.process(demo_frame)
    result = tracker.tracks[0].result
    mask = paste(result, demo_frame.shape)
    h, w = demo_frame.shape[:2]
    whole = cv2.warpAffine(result.probs, result.matrix, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    reach = cv2.dilate((whole.sum(axis=2) > 0.004).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    inside = np.zeros((h, w), bool)
    inside[mask.y0 : mask.y0 + mask.shape[0], mask.x0 : mask.x0 + mask.shape[1]] = True
    assert reach.any() and not (reach & ~inside).any()
    region = whole[mask.y0 : mask.y0 + mask.shape[0], mask.x0 : mask.x0 + mask.shape[1]]
    assert np.abs(region - mask.alpha).max() < 1e-3  # the same, up to the warp's sub-pixel rounding
    assert inside.sum() < 0.8 * np.count_nonzero(cv2.warpAffine(np.ones(result.probs.shape[:2], np.float32), result.matrix,
                                                               (w, h), flags=cv2.WARP_INVERSE_MAP))


def test_overlapping_detections_of_one_face_become_one_and_two_faces_stay_two():
    boxes = np.array([[100, 100, 200, 220],    # a face
                      [104, 98, 204, 216],     # the same face, a neighbouring anchor, lower score
                      [300, 100, 400, 220],    # a second face beside it
                      [190, 100, 290, 220]],   # overlaps both faces by ~10%: a third face
                     np.float32)
    scores = np.array([0.9, 0.95, 0.8, 0.7], np.float32)
    assert non_max_suppression(boxes, scores, NMS_IOU) == [1, 2, 3]
    assert non_max_suppression(boxes[:0], scores[:0], NMS_IOU) == []


def test_face_suppression_matches_opencv_dnn_where_that_module_exists():
    if not hasattr(cv2, "dnn"):
        pytest.skip("this OpenCV has no dnn module (the minimal build)")
    rng = np.random.default_rng(3)
    for _ in range(20):
        xy = rng.uniform(0, 300, (40, 2)).astype(np.float32)
        boxes = np.hstack([xy, xy + rng.uniform(20, 120, (40, 2)).astype(np.float32)])
        scores = rng.uniform(0.1, 1.0, 40).astype(np.float32)
        expected = cv2.dnn.NMSBoxes([[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]
                                     for b in boxes], scores.astype(float).tolist(), 0.0, NMS_IOU)
        assert non_max_suppression(boxes, scores, NMS_IOU) == list(np.array(expected).reshape(-1))
