import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import symlink_or_skip
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
    (["run", "--no-tray", "--source", "demo", "--sink", "null", "--frames", "2", "--shade", ""], "unknown shade ''"),
])
def test_bad_look_arguments_exit_2_with_one_line(argv, needle, capsys):
    assert main(argv) == 2
    assert needle in one_line_error(capsys)


@pytest.mark.parametrize("argv, needle", [
    (["process", "x.jpg", "-o", "y.jpg", "--intensity", "150"], "0 to 100"),
    (["bench", "--threads", "0"], "threads must be from 1 to 64, not 0"),
    (["bench", "--frames", "many"], "must be a whole number, not 'many'"),
    (["run", "--no-tray", "--fps", "-3"], "--fps: fps must be from 1 to 120, not -3"),
    (["run", "--no-tray", "--fps", "1000"], "--fps: fps must be from 1 to 120, not 1000"),
    (["run", "--size", "7680x7680"], "out of range (16x16 to 7680x4320)"),
])
def test_out_of_range_numbers_exit_2_with_one_line(argv, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "usage:" not in err[0]  # one line, not argparse's usage block
    assert err[0].startswith("vcam-lipstick ") and needle in err[0]


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
    line = one_line_error(capsys)
    assert "a.jpg" in line and "missing mask" in line
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


@pytest.mark.parametrize("flag, needle", [("--version", "vcam-lipstick "), ("--help", "usage: vcam-lipstick")])
def test_version_and_help_print_without_importing_heavy_modules(flag, needle):
    """Quick to answer because nothing heavy loads; the time itself is not measured here."""
    code = ("import sys; from vcam_lipstick.cli import main\n"
            f"try:\n    main([{flag!r}])\nexcept SystemExit as exc:\n    print('exit', exc.code)\n"
            "print(sorted(m for m in ('onnxruntime', 'torch', 'pystray', 'pyvirtualcam', 'cv2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert needle in out.stdout, out.stdout + out.stderr
    assert out.stdout.rstrip().endswith("exit 0\n[]"), out.stdout + out.stderr


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
    (["run", "--no-tray", "--source", "", "--sink", "null"], "no file named"),
    (["run", "--no-tray", "--source", "folder.mp4", "--sink", "null"], "is a folder, not a file"),
    (["eval", "--data", "folder.mp4/notes.txt"], "not a folder"),
    (["run", "--no-tray", "--source", "demo", "--sink", "out.gif", "--frames", "2"], "unsupported video container"),
])
def test_a_bad_source_sink_or_data_folder_is_one_line(argv, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder.mp4").mkdir()
    (tmp_path / "folder.mp4" / "notes.txt").write_text("not a data set")
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
    assert "vcam-lipstick doctor" in err  # where to get the missing driver


def test_a_missing_camera_is_reported_in_the_apps_words_without_opencv_warnings(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_LOG_LEVEL"}  # settings and logs: tmp_path (conftest)
    out = subprocess.run([sys.executable, "-m", "vcam_lipstick", "run", "--no-tray", "--source", "9", "--sink", "null",
                          "--frames", "2"], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    assert out.returncode == 0
    assert "camera 9 is not available" in out.stderr
    assert "[ WARN" not in out.stderr and "VIDEOIO" not in out.stderr


@pytest.mark.parametrize("argv, verbose", [(["-v"], True), ([], False), (["run", "-v"], True), (["-v", "run"], True)])
def test_no_command_starts_the_tray_app_and_keeps_v(argv, verbose, monkeypatch):
    import vcam_lipstick.cli as cli

    seen = []
    monkeypatch.setitem(cli.COMMANDS, "run", lambda args: seen.append(args) or 0)
    assert main(argv) == 0
    (args,) = seen
    assert (args.command, args.verbose, args.no_tray) == ("run", verbose, False)


HEADLESS_RUN = ["run", "--no-tray", "--source", "demo", "--sink", "null", "--frames", "2"]


@pytest.mark.parametrize("mode, says, never", [("headless", "without a tray icon", "system tray"),
                                              ("tray", "system tray", "without a tray icon")])
def test_a_refused_second_instance_changes_nothing_and_says_where_the_first_is(mode, says, never, capsys):
    from vcam_lipstick.settings import config_dir
    from vcam_lipstick.system import SingleInstance

    settings = config_dir() / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text('{"shade": "Plum"}')
    with SingleInstance(config_dir(), mode=mode):
        assert main([*HEADLESS_RUN, "--shade", "Classic Red"]) == 1
    assert settings.read_text() == '{"shade": "Plum"}'  # its --shade was not saved
    line = one_line_error(capsys)
    assert "already running" in line and says in line and never not in line


def test_a_lock_file_that_is_a_folder_is_one_line(capsys):
    from vcam_lipstick.settings import config_dir

    (config_dir() / "app.lock").mkdir(parents=True)
    assert main(HEADLESS_RUN) == 1
    line = one_line_error(capsys)
    assert "app.lock" in line and "folder" in line
    assert (config_dir() / "app.lock").is_dir()


@pytest.mark.parametrize("content", [bytes(range(128, 256)), b"[" * 2_000_000], ids=["not-utf8", "deep"])
def test_the_app_starts_whatever_settings_json_holds_and_keeps_it_as_bak(content, capsys):
    from vcam_lipstick.settings import config_dir

    config_dir().mkdir(parents=True)
    (config_dir() / "settings.json").write_bytes(content)
    assert main(HEADLESS_RUN) == 0
    assert (config_dir() / "settings.json.bak").read_bytes() == content
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if "settings" in line and "settings.json.bak" in line]


@pytest.mark.parametrize("command", [["shades"], ["process", "face.jpg", "-o", "out.jpg"]])
def test_a_deeply_nested_shades_file_is_one_warning_and_the_builtins(command, tmp_path, face_jpg):
    from vcam_lipstick.settings import config_dir

    config_dir().mkdir(parents=True)
    (config_dir() / "shades.json").write_bytes(b"[" * 50_000_000)
    out = subprocess.run([sys.executable, "-m", "vcam_lipstick", *command], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stderr.splitlines() if "shades.json" in line]
    assert len(lines) == 1 and "built-ins only" in lines[0] and "Traceback" not in out.stderr
    assert (config_dir() / "shades.json").stat().st_size == 50_000_000


@pytest.fixture
def clip_mp4(tmp_path, demo_frame):
    path = tmp_path / "call.mp4"
    with VideoWriter(path, 320, 240, 10.0) as writer:
        for _ in range(3):
            writer.write(cv2.resize(demo_frame, (320, 240)))
    return path


@pytest.mark.parametrize("extra, needle", [
    (["--sink", "{clip}"], "output is the same file as the input"),
    (["--sink", "null", "--stats", "{clip}"], "output is the same file as the input"),
    (["--sink", "{out}", "--stats", "{out}"], "the stats and the video would be the same file"),
    (["--sink", "{folder}"], "is a folder"),
    (["--sink", "null", "--stats", "{folder}"], "is a folder"),
    (["--sink", "null", "--stats", ""], "is a folder"),
])
def test_run_never_writes_over_its_source_its_video_or_a_folder(extra, needle, clip_mp4, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    before = clip_mp4.read_bytes()
    names = {"clip": str(clip_mp4), "out": str(tmp_path / "out.mp4"), "folder": str(tmp_path / "folder")}
    argv = ["run", "--no-tray", "--source", str(clip_mp4), "--frames", "2", *(a.format(**names) for a in extra)]
    assert main(argv) == 1
    assert needle in one_line_error(capsys)
    assert clip_mp4.read_bytes() == before and not (tmp_path / "out.mp4").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_stats_onto_a_pipe_is_refused_before_the_run(tmp_path, capsys):
    fifo = tmp_path / "stats.json"
    os.mkfifo(fifo)
    assert main(["run", "--no-tray", "--source", "demo", "--sink", "null", "--frames", "2", "--stats", str(fifo)]) == 1
    assert "not a regular file" in one_line_error(capsys)


def test_stats_through_a_symbolic_link_update_its_target_and_keep_the_link(tmp_path, capsys):
    target = tmp_path / "runs" / "stats.json"
    target.parent.mkdir()
    target.write_text("{}")
    link = tmp_path / "latest.json"
    symlink_or_skip(link, target)
    assert main(["run", "--no-tray", "--source", "demo", "--sink", "null", "--frames", "3", "--stats", str(link)]) == 0
    assert link.is_symlink() and json.loads(target.read_text())["frames_published"] >= 3


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_pipe_or_a_device_as_an_input_photo_is_one_line_not_a_hang(tmp_path, capsys):
    fifo = tmp_path / "face.jpg"
    os.mkfifo(fifo)
    commands = [["process", str(fifo), "-o", str(tmp_path / "out.jpg")]]
    if os.path.exists("/dev/zero"):  # read whole, it would fill the memory
        commands.append(["segment", "/dev/zero", "--out", str(tmp_path / "labels")])
    for argv in commands:
        assert main(argv) == 1
        out = capsys.readouterr()
        assert "not a regular file" in out.out + out.err and "Traceback" not in out.out + out.err


def test_a_symbolic_link_loop_as_an_input_is_one_line(tmp_path, capsys):
    loop = tmp_path / "loop.jpg"
    symlink_or_skip(loop, loop)
    assert main(["process", str(loop), "-o", str(tmp_path / "out.jpg")]) == 1
    assert "loops back on itself" in one_line_error(capsys)


def test_a_made_up_name_for_a_same_name_input_never_replaces_a_file_already_there(face_jpg, tmp_path, capsys):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "face.jpg").write_bytes(face_jpg.read_bytes())
    out = tmp_path / "out"
    out.mkdir()
    (out / "face-2.jpg").write_bytes(b"the user's own photo")
    assert main(["process", str(tmp_path / "a" / "face.jpg"), str(tmp_path / "b" / "face.jpg"), "-o", str(out)]) == 0
    assert (out / "face-2.jpg").read_bytes() == b"the user's own photo"
    assert (out / "face.jpg").is_file() and (out / "face-3.jpg").is_file()


@pytest.mark.parametrize("command", ["eval", "synth"])
def test_eval_and_synth_never_write_into_the_data_set_they_read(command, face_jpg, tmp_path, capsys):
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    (data / "masks").mkdir()
    (data / "images" / "face.jpg").write_bytes(face_jpg.read_bytes())
    cv2.imwrite(str(data / "masks" / "face.png"), np.zeros((8, 8), np.uint8))
    before = sorted(p.name for p in data.rglob("*"))
    argv = (["eval", "--data", str(data), "--report", str(data / "images")] if command == "eval"
            else ["synth", "--data", str(data), "--out", str(data), "--count", "1"])
    assert main(argv) == 1
    assert "is inside the data folder" in one_line_error(capsys)
    assert sorted(p.name for p in data.rglob("*")) == before


@pytest.mark.parametrize("argv, needle", [
    (["synth", "--data", "d", "--out", "o", "--seed", "-1"], "seed must be at least 0, not -1"),
    (["bench", "--frames", "1"], "frames must be at least 2, not 1"),
])
def test_a_seed_or_frame_count_that_cannot_work_is_a_usage_line(argv, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and needle in capsys.readouterr().err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 display names")
def test_a_preview_window_that_cannot_open_ends_the_run_with_an_error_not_success(monkeypatch, capsys):
    monkeypatch.setenv("DISPLAY", ":987")  # names a screen that is not there
    assert main(["run", "--no-tray", "--source", "demo", "--sink", "window", "--frames", "600"]) == 1
    err = capsys.readouterr().err
    assert "the preview window could not open" in err and "frames to" not in err
