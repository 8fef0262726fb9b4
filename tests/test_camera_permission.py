"""macOS camera permission (issue 14, item 3), with a fake AVFoundation: asked on the main thread
before OpenCV opens a camera; "waiting for camera permission" meanwhile, never "no webcam"; a denial
says where to allow it."""

import threading
import time

import pytest

import fakes
from vcam_lipstick import camera_permission as cp
from vcam_lipstick.app import Controller, SourceKind
from vcam_lipstick.devices import cameras, sources
from vcam_lipstick.settings import SettingsStore

MAIN = threading.main_thread()


def wait_until(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


class FakeAVFoundation:
    """``AVCaptureDevice``'s two class methods, as pyobjc exposes them; ``answer()`` plays the user."""

    AVMediaTypeVideo = "vide"

    def __init__(self, status=cp.NOT_DETERMINED):
        self.AVCaptureDevice = self
        self.status = status
        self.requests = []
        self.handler = None

    def authorizationStatusForMediaType_(self, media_type):
        assert media_type == "vide"
        return self.status

    def requestAccessForMediaType_completionHandler_(self, media_type, handler):
        self.requests.append((media_type, threading.current_thread()))
        self.handler = handler

    def answer(self, granted):
        """The user clicks; AVFoundation calls the handler on one of its dispatch queues."""
        self.status = cp.AUTHORIZED if granted else cp.DENIED
        threading.Thread(target=self.handler, args=(granted,), name="avfoundation-queue").start()


@pytest.fixture
def mac(tmp_path, monkeypatch):
    """A Mac with one webcam that has never been asked for; records every camera OpenCV opens."""
    opened = []

    def open_capture(index):
        opened.append((index, threading.current_thread().name))
        return fakes.FakeCapture()

    monkeypatch.setattr(cameras, "list_devices", lambda **kw: [cameras.CameraDevice(0, "FaceTime HD Camera", False)])
    monkeypatch.setattr(sources, "_open_capture", open_capture)
    monkeypatch.setattr("vcam_lipstick.loop.RETRY_SECONDS", 0.05)
    av = FakeAVFoundation()
    notes = []
    c = Controller(SettingsStore(tmp_path / "cfg"), notify=notes.append, tracker_factory=lambda: None,
                   camera_permission=cp.CameraPermission(av=av, platform="darwin"))
    c.settings.width, c.settings.height = 64, 48
    yield c, av, notes, opened
    c.stop()


def test_the_first_launch_asks_on_the_main_thread_waits_and_then_uses_the_webcam(mac):
    c, av, notes, opened = mac
    loop = c.start(None, "null")
    assert av.requests == [("vide", MAIN)]  # asked once, from the main thread, before any camera was opened
    assert wait_until(lambda: loop.status == "source unavailable: waiting for camera permission")
    assert opened == []  # neither the loop nor the camera probe let OpenCV open it (and fail) meanwhile
    assert notes == [cp.WAITING_MESSAGE]  # said once; not "no webcam", not the demo, not "Camera unavailable"
    assert c.source.kind is SourceKind.CAMERA
    av.answer(True)
    assert wait_until(lambda: loop.stats.frames_in >= 3)  # the webcam, once allowed, without a restart
    assert opened and c.source.label == "camera 0"
    assert wait_until(lambda: c.cameras == (0,))  # the Camera menu is filled once it may probe
    assert av.requests == [("vide", MAIN)]
    assert not any("webcam found" in n or "is back" in n for n in notes)


def test_a_denial_says_where_to_allow_the_camera_and_never_opens_it(mac):
    c, av, notes, opened = mac
    loop = c.start(None, "null")
    av.answer(False)
    assert wait_until(lambda: cp.DENIED_MESSAGE in notes)
    sent = loop.stats.frames_out
    assert wait_until(lambda: loop.stats.frames_out > sent)  # the meeting sees the placeholder card meanwhile
    assert loop.status.startswith("source unavailable")
    assert opened == []
    denied = [n for n in notes if "Privacy" in n]
    assert denied == [cp.DENIED_MESSAGE] and "System Settings > Privacy & Security > Camera" in denied[0]
    assert "\n" not in denied[0]
    assert not any("webcam found" in n for n in notes)


def test_access_already_denied_is_said_once_without_asking_again(mac):
    c, av, notes, opened = mac
    av.status = cp.DENIED
    c.start("0", "null")  # a camera named on the command line waits the same way
    assert av.requests == []  # the system shows its prompt only once; the app says where to change it
    assert notes == [cp.DENIED_MESSAGE]
    c.set_camera(0)  # picking it again in the menu does not repeat the line
    assert notes == [cp.DENIED_MESSAGE] and opened == []


def test_a_mac_without_a_webcam_is_not_asked_and_shows_the_demo(mac, monkeypatch):
    c, av, notes, opened = mac
    monkeypatch.setattr(cameras, "list_devices", lambda **kw: [])
    c.start(None, "null")
    assert av.requests == [] and c.source.kind is SourceKind.DEMO
    assert any("No webcam found" in n for n in notes)


def test_other_systems_never_load_avfoundation():
    class Untouchable:
        def __getattr__(self, name):
            raise AssertionError(f"AVFoundation.{name} used off macOS")

    permission = cp.CameraPermission(av=Untouchable(), platform="linux")
    assert permission.status() is cp.Access.GRANTED
    assert permission.request() is cp.Access.GRANTED


def test_without_pyobjc_the_mac_falls_back_to_opencvs_own_prompt(monkeypatch, caplog):
    import sys

    monkeypatch.setitem(sys.modules, "AVFoundation", None)  # import AVFoundation -> ImportError
    permission = cp.CameraPermission(platform="darwin")
    assert permission.status() is cp.Access.GRANTED
    assert "pyobjc-framework-AVFoundation is missing" in caplog.text


def test_a_yes_that_overtakes_the_loops_last_wait_tells_nothing_false(mac):
    """The loop can report its last "waiting for camera permission" just after the user said yes: that
    report must not turn into "Camera unavailable" (and then "Camera is back")."""
    c, av, notes, opened = mac
    c.start(None, "null")
    av.status = cp.AUTHORIZED  # the user said yes; the loop's status below was already on its way
    c._on_status(f"source unavailable: {cp.WAITING_REASON}")
    c._on_status("running")
    assert notes == [cp.WAITING_MESSAGE]
