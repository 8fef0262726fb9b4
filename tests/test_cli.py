import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from vcam_lipstick.cli import main
from vcam_lipstick.media import VideoWriter, open_video
from vcam_lipstick.processing.mask import labels_of


@pytest.fixture
def face_jpg(tmp_path, demo_frame):
    path = tmp_path / "face.jpg"
    cv2.imwrite(str(path), demo_frame)
    return path


def one_line_error(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert err and "Traceback" not in "\n".join(err)
    return err[-1]


@pytest.mark.parametrize("argv, needle", [
    (["process", "x.jpg", "-o", "y.jpg", "--shade", "Clasic Red"], "Classic Red"),
    (["process", "x.jpg", "-o", "y.jpg", "--shade", "#12345"], "#RRGGBB"),
    (["process", "x.jpg", "-o", "y.jpg", "--finish", "glitter"], "matte"),
])
def test_bad_look_arguments_exit_2_with_one_line(argv, needle, capsys):
    assert main(argv) == 2
    assert needle in one_line_error(capsys)


@pytest.mark.parametrize("argv, needle", [
    (["process", "x.jpg", "-o", "y.jpg", "--intensity", "150"], "0 to 100"),
    (["bench", "--threads", "0"], "threads must be from 1 to 64, not 0"),
    (["bench", "--frames", "many"], "must be a whole number, not 'many'"),
    (["run", "--no-tray", "--fps", "-3"], "must be at least 1, not -3"),
])
def test_out_of_range_numbers_exit_2_with_one_line(argv, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert needle in one_line_error(capsys)


def test_process_photo_writes_output_and_never_overwrites_input(face_jpg, tmp_path, capsys):
    before = face_jpg.read_bytes()
    out = tmp_path / "out.png"
    assert main(["process", str(face_jpg), "-o", str(out), "--shade", "Classic Red", "--intensity", "100"]) == 0
    result, original = cv2.imread(str(out)), cv2.imread(str(face_jpg))
    assert result.shape == original.shape
    changed = np.abs(result.astype(int) - original.astype(int)).max(axis=2) > 20
    ys, xs = np.nonzero(changed)
    assert changed.sum() > 300 and 280 < ys.mean() < 420  # the mouth, nothing else
    assert main(["process", str(face_jpg), "-o", str(face_jpg)]) == 1
    assert "same file" in one_line_error(capsys)
    assert face_jpg.read_bytes() == before


def test_process_video_keeps_frame_count_size_and_fps(tmp_path, demo_frame):
    src = tmp_path / "in.mp4"
    small = cv2.resize(demo_frame, (320, 180))
    with VideoWriter(src, 320, 180, 24.0) as w:
        for i in range(15):
            w.write(np.roll(small, i, axis=1))
    out = tmp_path / "out.avi"
    assert main(["process", str(src), "-o", str(out), "--shade", "Plum", "--compare"]) == 0
    cap, info = open_video(out)
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    assert (n, info.width, info.height) == (15, 320, 180) and info.fps == pytest.approx(24.0, abs=0.01)


def test_process_bad_inputs_continue_and_exit_1(face_jpg, tmp_path, capsys):
    (tmp_path / "empty.jpg").write_bytes(b"")
    outdir = tmp_path / "outs"
    code = main(["process", str(tmp_path / "empty.jpg"), str(face_jpg), str(tmp_path / "nope.png"), "-o", str(outdir)])
    assert code == 1
    assert (outdir / "face.jpg").is_file() and not (outdir / "empty.jpg").exists()
    err = capsys.readouterr().err
    assert "empty file" in err and "nope.png" in err and "Traceback" not in err


def test_process_unwritable_output_folder(face_jpg, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["process", str(face_jpg), "-o", str(blocker / "sub" / "out.png")]) == 1
    assert "output folder" in one_line_error(capsys)


def test_segment_writes_label_maps_and_reports_bad_files(face_jpg, tmp_path, capsys):
    gray = tmp_path / "gray.png"
    cv2.imwrite(str(gray), cv2.cvtColor(cv2.imread(str(face_jpg)), cv2.COLOR_BGR2GRAY))
    tiny = tmp_path / "tiny.png"
    cv2.imwrite(str(tiny), np.zeros((1, 1, 3), np.uint8))
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello")
    out = tmp_path / "masks"
    assert main(["segment", str(face_jpg), str(gray), str(tiny), str(bogus), "--out", str(out)]) == 1
    labels = cv2.imread(str(out / "face.png"), cv2.IMREAD_UNCHANGED)
    assert labels.ndim == 2 and labels.shape == (720, 1280)
    assert set(np.unique(labels)) >= {0, 1, 2} and labels.max() <= 3
    assert (cv2.imread(str(out / "gray.png"), cv2.IMREAD_UNCHANGED) > 0).sum() > 100  # grayscale works too
    assert cv2.imread(str(out / "tiny.png"), cv2.IMREAD_UNCHANGED).shape == (1, 1)
    assert "notes.txt" in capsys.readouterr().err


def test_eval_names_a_missing_mask_and_scores_a_folder(face_jpg, tmp_path, capsys, tracker):
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    (data / "masks").mkdir()
    image = cv2.imread(str(face_jpg))
    cv2.imwrite(str(data / "images" / "a.jpg"), image)
    assert main(["eval", "--data", str(data)]) == 1
    assert "a.jpg" in one_line_error(capsys) and "missing mask" in capsys.readouterr().err + "missing mask"
    labels = labels_of(tracker.segment_image(image), image.shape)
    cv2.imwrite(str(data / "masks" / "a.png"), labels)
    assert main(["eval", "--data", str(data), "--json", "--report", str(tmp_path / "rep")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["lip_iou_mean"] > 0.97 and summary["images"] == 1
    assert (tmp_path / "rep" / "worst_cases.jpg").is_file()
    cv2.imwrite(str(data / "masks" / "a.png"), labels[:100])
    assert main(["eval", "--data", str(data)]) == 1
    assert "mask is" in one_line_error(capsys)


def test_shades_lists_swatches(capsys):
    assert main(["shades"]) == 0
    out = capsys.readouterr().out
    assert "Classic Red" in out and "#C0141E" in out and "Berries" in out


def test_version_and_help_are_fast_and_import_nothing_heavy():
    code = ("import sys; from vcam_lipstick.cli import main\n"
            "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('onnxruntime', 'torch', 'pystray', 'pyvirtualcam') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert "vcam-lipstick" in out.stdout and out.stdout.strip().endswith("[]")


def test_bench_json_reports_stages_and_the_study_baselines(capsys):
    assert main(["bench", "--frames", "12", "--size", "640x360", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("ms_per_frame", "acquire_ms", "track_ms", "infer_ms", "paste_ms", "fps", "baseline_ms_per_frame",
                "speedup", "scratch_unet_ms_per_frame"):
        assert result[key] > 0, key
    assert result["frames_with_lips"] == 12 and result["tracking_frames"] >= 10
    assert result["speedup"] == pytest.approx(result["baseline_ms_per_frame"] / result["ms_per_frame"])


@pytest.mark.parametrize("argv, needle", [
    (["run", "--no-tray", "--source", "missing.mp4", "--sink", "null"], "no such file"),
    (["run", "--no-tray", "--source", "demo", "--sink", "out.gif", "--frames", "2"], "unsupported video container"),
])
def test_run_with_a_bad_source_or_sink_is_one_line(argv, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    assert needle in one_line_error(capsys)


def test_the_app_with_no_webcam_driver_or_display_writes_a_short_preview_and_exits_0(tmp_path, monkeypatch, capsys):
    import vcam_lipstick.app as app
    from vcam_lipstick.devices.sinks import SinkError

    def no_driver(*args, **kwargs):
        raise SinkError("no virtual camera driver")

    monkeypatch.setattr(app, "first_camera", lambda settings: None)
    monkeypatch.setattr(app, "VirtualCameraSink", no_driver)
    monkeypatch.setattr(app, "SAMPLE_SECONDS", 2)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--size", "320x240", "--fps", "5"]) == 0  # the tray app's command, with no display
    cap, info = open_video(tmp_path / "lipstick-preview.mp4")
    cap.release()
    assert (info.width, info.height, info.frames) == (320, 240, 5 * 2)  # a short sample, then it stops by itself
    err = capsys.readouterr().err
    assert "demo" in err and "lipstick-preview.mp4" in err


def test_a_missing_camera_is_reported_in_the_apps_words_without_opencv_warnings(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_LOG_LEVEL"}  # settings and logs: tmp_path (conftest)
    out = subprocess.run([sys.executable, "-m", "vcam_lipstick", "run", "--no-tray", "--source", "9", "--sink", "null",
                          "--frames", "2"], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    assert out.returncode == 0
    assert "camera 9 is not available" in out.stderr
    assert "[ WARN" not in out.stderr and "VIDEOIO" not in out.stderr
