"""Opt-in (-m clips): real talking-head clips and photos from ../shared/data (skipped when absent)."""

import cv2
import pytest

pytestmark = pytest.mark.clips


@pytest.mark.parametrize("clip", ["v02_woman-indoor-wide-speaking.mp4", "v11_man-darker-skin-studio.mp4",
                                  "v08_man-yawn-wide-open.mp4"])
def test_lips_found_in_nearly_every_frame_of_a_real_clip(shared_data, tracker, clip):
    path = shared_data / "clips" / "videos" / clip
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), f"cannot open {path}"
    tracker.reset()
    frames = found = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames += 1
        found += bool(tracker.process(frame))
    cap.release()
    assert frames > 50 and found / frames >= 0.99


def test_every_face_photo_gets_lips(shared_data, tracker):
    from vcam_lipstick.media import read_image

    folder = shared_data / "clips" / "photos"
    photos = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    assert photos, f"no photos in {folder}"  # an empty or missing folder must not pass
    missed = [p.name for p in photos if not tracker.segment_image(read_image(p))]
    assert not missed, missed
