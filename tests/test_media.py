import cv2
import numpy as np
import pytest

from vcam_lipstick.media import MediaError, VideoWriter, check_output, open_video, read_image


def write(path, data):
    path.write_bytes(data)
    return path


def test_bad_images_give_one_line_errors(tmp_path):
    ok, jpg = cv2.imencode(".jpg", np.full((64, 64, 3), 128, np.uint8))
    cases = {
        "empty.jpg": b"",
        "truncated.jpg": jpg.tobytes()[: len(jpg) // 2],
        "text.png": b"this is not an image at all",
    }
    for name, data in cases.items():
        with pytest.raises(MediaError) as err:
            read_image(write(tmp_path / name, data))
        assert "\n" not in str(err.value) and name in str(err.value)
    with pytest.raises(MediaError, match="folder"):
        read_image(tmp_path)
    with pytest.raises(MediaError, match="cannot read"):
        read_image(tmp_path / "missing.png")


def test_unusual_pixel_formats_become_bgr8(tmp_path):
    gray = np.full((20, 30), 200, np.uint8)
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 2] = 255
    deep = np.full((20, 30, 3), 40000, np.uint16)
    for name, img in {"g.png": gray, "a.png": rgba, "d.png": deep, "one.png": np.zeros((1, 1, 3), np.uint8)}.items():
        cv2.imwrite(str(tmp_path / name), img)
        out = read_image(tmp_path / name)
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    assert read_image(tmp_path / "a.png")[0, 0].tolist() == [0, 0, 255]
    assert read_image(tmp_path / "d.png")[0, 0, 0] == 40000 >> 8


def test_output_never_overwrites_the_input(tmp_path):
    src = tmp_path / "in.jpg"
    src.write_bytes(b"x")
    with pytest.raises(MediaError, match="same file"):
        check_output(tmp_path / "." / "in.jpg", [src])


def test_video_round_trip_keeps_count_size_and_fps(tmp_path):
    path = tmp_path / "clip.mp4"
    with VideoWriter(path, 160, 120, 25.0) as w:
        for i in range(12):
            w.write(np.full((120, 160, 3), i * 10, np.uint8))
    cap, info = open_video(path)
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    assert (info.width, info.height, n) == (160, 120, 12)
    assert info.fps == pytest.approx(25.0, abs=0.01)


def test_failed_video_leaves_no_partial_file(tmp_path):
    path = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(path, 64, 48, 30.0) as w:
            w.write(np.zeros((48, 64, 3), np.uint8))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_unsupported_container_and_non_video(tmp_path):
    with pytest.raises(MediaError, match="unsupported video container"):
        VideoWriter(tmp_path / "x.gif", 64, 48, 30)
    with pytest.raises(MediaError, match="not a video"):
        open_video(write(tmp_path / "fake.mp4", b"nope" * 100))
