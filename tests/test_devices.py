"""Real-webcam and device rules, without hardware: a fake cv2.VideoCapture and a fake sysfs tree."""

import logging
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

import fakes
from vcam_lipstick.devices import cameras, sources
from vcam_lipstick.devices.sinks import VirtualCameraSink, fit_size
from vcam_lipstick.devices.sources import CameraSource, SourceError, VirtualCameraError

MJPG = float(cv2.VideoWriter_fourcc(*"MJPG"))


@pytest.fixture
def no_names(monkeypatch):
    """No camera is virtual: these tests are about the capture settings."""
    monkeypatch.setattr(cameras, "list_devices", lambda **kw: [])


def use_captures(monkeypatch, *captures):
    opened = list(captures)
    monkeypatch.setattr(sources, "_open_capture", lambda index: opened.pop(0))


def test_mjpg_is_requested_before_size_and_rate(monkeypatch, no_names):
    cap = fakes.FakeCapture()
    use_captures(monkeypatch, cap)
    with CameraSource(0, 1280, 720, 30.0) as cam:
        assert cam.fourcc == "MJPG" and (cam.width, cam.height) == (1280, 720)
    props = [prop for prop, _ in cap.calls]
    assert props[:4] == [cv2.CAP_PROP_FOURCC, cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT, cv2.CAP_PROP_FPS]
    assert [value for _, value in cap.calls[:4]] == [MJPG, 1280, 720, 30.0]
    assert cap.released


def test_a_camera_that_refuses_mjpg_still_opens_in_its_own_format(monkeypatch, no_names, caplog):
    cap = fakes.FakeCapture(formats=("YUYV",))
    use_captures(monkeypatch, cap)
    with caplog.at_level(logging.INFO, logger="vcam_lipstick.devices.sources"):
        with CameraSource(0, 1280, 720, 30.0) as cam:
            assert cam.read() is not None
    assert cam.fourcc == "YUYV"
    assert (cv2.CAP_PROP_FRAME_WIDTH, 1280) in cap.calls and (cv2.CAP_PROP_FPS, 30.0) in cap.calls
    assert "refused MJPG" in caplog.text and "got 1280x720@30 YUYV" in caplog.text


def test_a_camera_that_takes_mjpg_but_sends_nothing_is_reopened_without_it(monkeypatch, no_names):
    silent, plain = fakes.FakeCapture(frames_in=("YUYV",)), fakes.FakeCapture(frames_in=("YUYV",))
    use_captures(monkeypatch, silent, plain)
    with CameraSource(0, 1280, 720, 30.0) as cam:
        assert cam.read() is not None and cam.fourcc == "YUYV"
    assert silent.released
    assert all(prop != cv2.CAP_PROP_FOURCC for prop, _ in plain.calls)  # the second try asks for no format


@pytest.mark.parametrize("delivered, told", [(10.0, True), (29.0, False)])
def test_delivered_fps_is_measured_over_the_first_second_and_told_once(monkeypatch, no_names, delivered, told):
    clock = [0.0]
    use_captures(monkeypatch, fakes.FakeCapture(delivered_fps=delivered, clock=clock))
    notes = []
    with CameraSource(0, 1280, 720, 30.0, on_notice=notes.append, clock=lambda: clock[0]) as cam:
        for _ in range(int(3 * delivered)):  # three seconds of frames
            cam.read()
        assert cam.delivered_fps == pytest.approx(delivered, rel=0.1)
    assert len(notes) == int(told)
    if told:
        assert "delivers 10 fps, not 30" in notes[0] and "640x480" in notes[0]


def test_camera_that_does_not_open_is_one_line(monkeypatch, no_names):
    use_captures(monkeypatch, fakes.FakeCapture(opened=False))
    with pytest.raises(SourceError, match="camera 3 is not available"):
        CameraSource(3)


# -- virtual cameras ------------------------------------------------------------------------
def records(*names):
    return lambda api: [SimpleNamespace(index=i, name=n) for i, n in names]


def test_virtual_cameras_are_recognised_by_name_and_by_sysfs(tmp_path, monkeypatch):
    monkeypatch.setattr("sys.platform", "linux")
    sysfs = fakes.sysfs_tree(tmp_path, {0: ("Integrated Webcam", False), 2: ("HD Pro Webcam C920", False),
                                        10: ("Lipstick Cam", True), 11: ("OBS Cam", True), 12: ("Loop", True)})
    listed = records((0, "Integrated Webcam"), (2, "HD Pro Webcam C920"), (10, "Lipstick Cam"), (11, "OBS Cam"),
                     (12, "Loop"), (5, "OBS Virtual Camera"))
    devices = cameras.list_devices(api=cv2.CAP_V4L2, enumerate=listed, sysfs_root=sysfs)
    assert [(d.index, d.virtual) for d in devices] == [(0, False), (2, False), (5, True), (10, True), (11, True),
                                                       (12, True)]  # 12: a loopback device under any label


def test_auto_pick_and_the_camera_menu_never_offer_a_virtual_camera(monkeypatch):
    from vcam_lipstick.app import first_camera
    from vcam_lipstick.settings import Settings

    listed = [cameras.CameraDevice(0, "OBS Virtual Camera", True), cameras.CameraDevice(1, "USB Camera", False),
              cameras.CameraDevice(2, "Lipstick Cam", True), cameras.CameraDevice(3, "Other USB Camera", False)]
    monkeypatch.setattr(cameras, "list_devices", lambda **kw: listed)
    probed = []

    def capture(index):
        probed.append(index)
        return fakes.FakeCapture()

    monkeypatch.setattr(sources, "_open_capture", capture)
    camera = first_camera(Settings())
    assert camera.index == 1
    camera.close()
    assert sources.list_cameras() == [1, 3]
    assert 0 not in probed and 2 not in probed  # virtual cameras are not even opened


def test_a_virtual_camera_asked_for_by_index_is_refused_with_one_line(monkeypatch):
    monkeypatch.setattr(cameras, "list_devices", lambda **kw: [cameras.CameraDevice(1, "OBS Virtual Camera", True)])
    monkeypatch.setattr(sources, "_open_capture", lambda index: pytest.fail("a virtual camera was opened"))
    with pytest.raises(VirtualCameraError) as exc:
        CameraSource(1)
    message = str(exc.value)
    assert "'OBS Virtual Camera'" in message and "virtual camera" in message and "\n" not in message


def test_run_with_a_virtual_camera_as_source_exits_with_one_line(monkeypatch, capsys):
    from vcam_lipstick.cli import main

    monkeypatch.setattr(cameras, "list_devices", lambda **kw: [cameras.CameraDevice(2, "Lipstick Cam", True)])
    assert main(["run", "--no-tray", "--source", "2", "--sink", "null", "--frames", "2"]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "camera 2 is 'Lipstick Cam', a virtual camera" in err[0]


def test_a_saved_virtual_camera_is_skipped_with_a_note(tmp_path, monkeypatch):
    from vcam_lipstick.app import Controller
    from vcam_lipstick.settings import SettingsStore

    listed = [cameras.CameraDevice(0, "OBS Virtual Camera", True), cameras.CameraDevice(1, "USB Camera", False)]
    monkeypatch.setattr(cameras, "list_devices", lambda **kw: listed)
    monkeypatch.setattr(sources, "_open_capture", lambda index: fakes.FakeCapture())
    notes = []
    c = Controller(SettingsStore(tmp_path), notify=notes.append, tracker_factory=lambda: None)
    c.settings.camera = 0
    _, first = c.open_source_factory(None)
    first.close()
    assert first.index == 1 and c.source_label == "camera 1"
    assert any("'OBS Virtual Camera', a virtual camera" in n for n in notes)


# -- the virtual camera sink on Linux ---------------------------------------------------------
def test_frames_go_to_the_loopback_device_labelled_lipstick_cam(tmp_path, monkeypatch):
    monkeypatch.setattr("sys.platform", "linux")
    sysfs = fakes.sysfs_tree(tmp_path, {0: ("Integrated Webcam", False), 4: ("OBS Virtual Camera", True),
                                        10: ("Lipstick Cam", True)})
    assert cameras.find_loopback_device("Lipstick Cam", sysfs) == "/dev/video10"
    with VirtualCameraSink(64, 48, 30, backend="recording", sysfs_root=sysfs) as sink:
        sink.send(np.zeros((48, 64, 3), np.uint8))
    assert fakes.RecordingBackend.instances[-1].device_path == "/dev/video10"


def test_without_our_label_the_driver_chooses(tmp_path, monkeypatch):
    monkeypatch.setattr("sys.platform", "linux")
    sysfs = fakes.sysfs_tree(tmp_path, {4: ("OBS Virtual Camera", True)})
    assert cameras.find_loopback_device("Lipstick Cam", sysfs) is None
    assert cameras.find_loopback_device("Lipstick Cam", tmp_path / "no-sysfs") is None
    with VirtualCameraSink(64, 48, 30, backend="recording", sysfs_root=sysfs):
        pass
    assert fakes.RecordingBackend.instances[-1].device_path is None


@pytest.mark.parametrize("box, shown", [((400, 400), (400, 225)),  # bars above and below
                                        ((1000, 300), (533, 300)),  # bars left and right
                                        ((1280, 720), (1280, 720)),  # the same shape fills the window
                                        ((1, 1), (1, 1))])  # never an empty image
def test_the_preview_scales_a_frame_to_its_window_keeping_the_shape(box, shown):
    assert fit_size((640, 360), box) == shown
