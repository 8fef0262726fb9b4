import time

import numpy as np
import pytest

import fakes
from vcam_lipstick.devices.sinks import SinkError, VirtualCameraSink
from vcam_lipstick.loop import FrameLoop


class ListSink:
    """Keeps what it is sent; ``keep`` maps each frame to what is stored."""

    name = "list"

    def __init__(self, keep=lambda frame: frame.copy()):
        self.frames, self.keep = [], keep

    def send(self, frame):
        self.frames.append(self.keep(frame))

    def close(self):
        pass


def make_loop(plug, sink, **kw):
    return FrameLoop(plug.open, sink, lambda f: f, 64, 48, 30.0, **kw)


def test_frames_flow_to_the_virtual_camera_in_bgr_and_stop_at_the_limit():
    plug = fakes.Plug()
    with VirtualCameraSink(64, 48, 30, backend="recording") as sink:
        stats = make_loop(plug, sink, max_frames=10).run()
    backend = fakes.RecordingBackend.instances[-1]
    assert stats.frames_out == 10 and len(backend.frames) == 10
    assert backend.closed and plug.closed == plug.opened == 1  # camera and virtual device released
    assert backend.frames[0].shape == (48, 64, 3)


def test_odd_width_is_made_even_for_the_driver():
    with VirtualCameraSink(65, 48, 30, backend="recording") as sink:
        sink.send(np.zeros((48, 65, 3), np.uint8))
    assert fakes.RecordingBackend.instances[-1].width == 64
    assert fakes.RecordingBackend.instances[-1].frames[0].shape == (48, 64, 3)


def test_missing_driver_is_a_one_line_sink_error_with_the_reason():
    with pytest.raises(SinkError) as exc:
        VirtualCameraSink(64, 48, 30, backend="broken")
    # One line, no final stop, so the app can go on with "... Run 'vcam-lipstick doctor' ...".
    message = str(exc.value)
    assert message.startswith("no virtual camera: ") and "\n" not in message
    assert message.endswith("No v4l2 loopback device found. Did you run 'modprobe v4l2loopback'?")


def test_latest_frame_wins_no_backlog():
    """A slow pipeline skips frames instead of queueing them."""
    plug = fakes.Plug()
    sink = ListSink(lambda frame: int(frame[0, 0, 0]))
    sent = sink.frames

    def slow(frame):
        time.sleep(0.1)
        return frame

    loop = FrameLoop(plug.open, sink, slow, 64, 48, 30.0, max_frames=5)
    loop.run()
    gaps = np.diff(sent)
    assert gaps.max() >= 2  # frames captured during processing were dropped, not queued
    assert plug.count - sent[-1] <= 4  # and the output is never far behind the camera


def test_camera_unplugged_shows_placeholder_then_resumes(monkeypatch):
    monkeypatch.setattr("vcam_lipstick.loop.RETRY_SECONDS", 0.2)
    plug = fakes.Plug()
    sink = ListSink()
    frames = sink.frames
    loop = make_loop(plug, sink).start()
    time.sleep(0.3)
    plug.connected.clear()  # unplugged
    time.sleep(1.6)
    during = len(frames)
    plug.connected.set()  # back
    time.sleep(0.8)
    loop.stop()
    placeholder = [f for f in frames if f.mean() > 20]  # the grey card with text; camera frames are ~black
    assert placeholder, "no placeholder while the camera was gone"
    assert len(frames) > during + 5  # kept going, at the output rate, and resumed
    assert plug.opened >= 2 and frames[-1].mean() < 5  # reopened by itself; live frames again
    assert loop.stats.reconnects >= 1


def test_stall_repeats_the_last_good_frame():
    plug = fakes.Plug()

    class Stalling(fakes.Camera):
        def read(self):
            if self.plug.count >= 3:
                time.sleep(0.05)
                return None  # no frame right now
            return super().read()

    loop = FrameLoop(lambda: Stalling(plug), ListSink(), lambda f: f, 64, 48, 30.0).start()
    time.sleep(0.5)
    loop.stop()
    assert loop.stats.repeats > 3 and loop.stats.placeholders == 0


def test_stop_is_prompt_and_releases_the_camera():
    plug = fakes.Plug()
    with VirtualCameraSink(64, 48, 30, backend="recording") as sink:
        loop = make_loop(plug, sink).start()
        time.sleep(0.3)
        t = time.monotonic()
        loop.stop()
        assert time.monotonic() - t < 1.0
    assert plug.closed == plug.opened
