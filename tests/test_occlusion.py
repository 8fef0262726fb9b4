"""Things in front of the mouth and skin tone: the occlusion-set generator, its scores, and the training crops."""

import cv2
import numpy as np
import pytest

from test_synth import aligned_face
from vcam_lipstick.cli import main
from vcam_lipstick.evaluation.evaluate import evaluate_folder, labelled_pairs
from vcam_lipstick.evaluation.occluders import KINDS, OCCLUDER, OCCLUDER_OVER_LIPS, occlude
from vcam_lipstick.evaluation.synth import make_webcam_set
from vcam_lipstick.processing.geometry import box_from_mask
from vcam_lipstick.processing.metrics import ScoreBoard, occluder_over_lips
from vcam_lipstick.processing.tone import ita_degrees, skin_ring, terciles


@pytest.mark.parametrize("kind", KINDS)
def test_occluder_mask_is_exactly_the_pasted_pixels_and_hides_the_lips_beneath(kind):
    image, mask = aligned_face()
    image = image.copy()
    image[...] = cv2.GaussianBlur(image, (0, 0), 2)  # no flat areas where a pasted colour could match
    box = box_from_mask(mask > 0)
    before = image.copy()
    occ = occlude(image, mask, box, np.random.default_rng(3), kind=kind)
    covered = occ.occluder > 0
    assert covered.any()
    changed = np.abs(occ.image.astype(int) - image.astype(int)).max(axis=2) > 0
    # Every occluder pixel was painted over; outside it only the occluder's soft fringe (alpha < 0.5) may touch.
    assert changed[covered].mean() > 0.99
    # Lips under it are background now, lips beside it are kept, and mask value 2 marks exactly the hidden lips.
    lips = (mask == 1) | (mask == 2)
    assert not ((occ.labels > 0) & covered).any()
    assert np.array_equal(occ.labels[~covered], mask[~covered])
    assert np.array_equal(occ.occluder == OCCLUDER_OVER_LIPS, covered & lips)
    assert np.array_equal(occ.occluder == OCCLUDER, covered & ~lips)
    assert np.array_equal(image, before)  # the input was not modified


def test_the_same_seed_gives_the_same_occlusion_set(tmp_path):
    source = tmp_path / "faces"
    for sub in ("images", "masks"):
        (source / sub).mkdir(parents=True)
    image, mask = aligned_face()
    for i in range(3):
        cv2.imwrite(str(source / "images" / f"f{i}.png"), np.roll(image, 7 * i, axis=1))
        cv2.imwrite(str(source / "masks" / f"f{i}.png"), np.roll(mask, 7 * i, axis=1))
    sets = []
    for run, seed in (("a", 1), ("b", 1), ("c", 2)):
        make_webcam_set(source, tmp_path / run, count=4, seed=seed, occlude=True, progress=False)
        pairs = labelled_pairs(tmp_path / run)
        sets.append([np.concatenate([cv2.imread(str(i)).ravel(), cv2.imread(str(m), 0).ravel(),
                                     cv2.imread(str(tmp_path / run / "occluders" / m.name), 0).ravel()])
                     for i, m in pairs])
    assert len(sets[0]) == 4
    assert all(np.array_equal(a, b) for a, b in zip(sets[0], sets[1]))
    assert not all(np.array_equal(a, c) for a, c in zip(sets[0], sets[2]))
    # The occluder masks moved with the faces into the frame, and each still hides lips.
    for name in sorted((tmp_path / "a" / "occluders").iterdir()):
        assert (cv2.imread(str(name), 0) > 0).any()


def test_painted_on_occluder_and_visible_lip_iou_on_hand_made_masks():
    visible = np.zeros((40, 60), np.uint8)
    visible[10:20, 10:30] = 1  # 200 visible lip pixels
    occluder = np.zeros_like(visible)
    occluder[10:20, 30:50] = OCCLUDER_OVER_LIPS  # 200 hidden lip pixels under a finger
    occluder[20:30, 30:50] = OCCLUDER  # the finger below the lips
    pred = np.zeros_like(visible)
    pred[10:20, 10:30] = 1  # the visible lips...
    pred[10:20, 30:35] = 2  # ...and 50 of the 200 occluder pixels over the lips
    pred[25:30, 30:50] = 1  # lipstick on the finger below the lips does not count as "over the lips"
    board = ScoreBoard()
    score = board.add("a", pred, visible, 1.0, occluder=occluder)
    assert score.painted == pytest.approx(0.25)
    summary = board.summary()
    assert summary["painted_on_occluder"] == pytest.approx(0.25)
    assert summary["visible_lip_iou"] == pytest.approx(200 / 350)
    # Pooled over images: 50 + 0 of 200 + 200.
    board.add("b", visible, visible, 1.0, occluder=occluder)
    assert board.summary()["painted_on_occluder"] == pytest.approx(50 / 400)


def test_a_plain_binary_occluder_mask_counts_its_pixels_near_the_visible_lips():
    visible = np.zeros((100, 100), np.uint8)
    visible[40:50, 20:40] = 2
    occluder = np.zeros_like(visible)
    occluder[40:50, 40:60] = 255  # a finger beside the lips; only its first 4 px (a fifth of 20) count
    occluder[90:100, 0:10] = 255  # far away
    over = occluder_over_lips(occluder, visible)
    assert over[40:50, 40:44].all() and not over[90:, :10].any() and not over[40:50, 45:60].any()


def test_skin_tone_terciles_on_hand_made_faces():
    labels = np.zeros((200, 200), np.uint8)
    labels[90:110, 60:140] = 1
    ring = skin_ring(labels)
    assert ring.any() and not (ring & (labels > 0)).any()
    itas = []
    for lightness in (40, 70, 100, 130, 160, 190, 210, 230, 250):
        face = np.full((200, 200, 3), (lightness * 0.75, lightness * 0.85, lightness), np.uint8)
        itas.append(ita_degrees(face, labels))
    assert itas == sorted(itas)  # lighter skin, larger ITA
    assert list(terciles(np.array(itas))) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert list(terciles(np.array([5.0, np.nan, -3.0, 40.0]))) == [1, -1, 0, 2]
    board = ScoreBoard()
    for k, ita in enumerate(itas):
        pred = labels.copy()
        if k < 3:  # the darkest third loses a quarter of its lips
            pred[90:110, 60:80] = 0
        board.add(str(k), pred, labels, 1.0, ita=ita)
    tone = board.summary()["tone"]
    assert tone["lip_iou_by_tercile"] == pytest.approx([0.75, 1.0, 1.0])
    assert tone["spread"] == pytest.approx(0.25)


def write_set(folder, n=2):
    for sub in ("images", "masks"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    image, mask = aligned_face()
    for i in range(n):
        cv2.imwrite(str(folder / "images" / f"f{i}.png"), image)
        cv2.imwrite(str(folder / "masks" / f"f{i}.png"), mask)


def test_eval_names_a_missing_or_wrong_sized_occluder_mask(tmp_path, capsys):
    write_set(tmp_path)
    (tmp_path / "occluders").mkdir()
    cv2.imwrite(str(tmp_path / "occluders" / "f0.png"), np.zeros((512, 512), np.uint8))
    assert main(["eval", "--data", str(tmp_path)]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1 and "f1.png" in err[0] and "occluder" in err[0]
    cv2.imwrite(str(tmp_path / "occluders" / "f1.png"), np.zeros((100, 512), np.uint8))
    assert main(["eval", "--data", str(tmp_path)]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1 and "occluders/f1.png" in err[0] and "512x100" in err[0]


def test_eval_reports_occlusion_and_tone_in_json_and_text(tmp_path, capsys, tracker):
    write_set(tmp_path)
    (tmp_path / "occluders").mkdir()
    for i in range(2):
        cv2.imwrite(str(tmp_path / "occluders" / f"f{i}.png"), np.zeros((512, 512), np.uint8))
    summary = evaluate_folder(tracker, tmp_path, progress=False)
    assert "painted_on_occluder" in summary and "visible_lip_iou" in summary
    assert main(["eval", "--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "painted" in out and "visible-lip IoU" in out


@pytest.mark.parametrize("setup, args, expected", [
    ("none", ["--count", "0"], "count"),
    ("missing", [], "no such folder"),
    ("empty", [], "no images"),
    ("masks only", [], "no images (but 2 masks"),
])
def test_bad_generator_arguments_are_one_line_each(tmp_path, capsys, setup, args, expected):
    source = tmp_path / "src"
    if setup in ("none", "masks only"):
        write_set(source)
    if setup == "empty":
        (source / "images").mkdir(parents=True)
        (source / "masks").mkdir()
    if setup == "masks only":
        for p in (source / "images").iterdir():
            p.unlink()
    try:
        code = main(["synth", "--occlude", "--data", str(source), "--out", str(tmp_path / "out"), *args])
    except SystemExit as usage_error:  # argparse's own usage errors
        code = usage_error.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and expected in err[0], err
