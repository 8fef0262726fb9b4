import logging
import threading
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


def test_stop_ends_both_threads_and_releases_the_camera():
    plug = fakes.Plug()
    with VirtualCameraSink(64, 48, 30, backend="recording") as sink:
        loop = make_loop(plug, sink).start()
        time.sleep(0.3)
        assert loop.stop() is True  # both threads ended within stop()'s timeout
    assert plug.closed == plug.opened == 1


def wait_until(condition, timeout=10.0):
    """Poll until ``condition()`` holds; the timeout only bounds a broken run, it asserts nothing itself."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_a_source_that_raises_now_and_then_keeps_the_call_live():
    plug = fakes.Plug()

    class Hiccups(fakes.Camera):
        def read(self):
            frame = super().read()
            if self.plug.count % 4 == 0:
                raise RuntimeError("driver hiccup")  # now and then, between good frames
            return frame

    sink = ListSink(lambda frame: frame.mean())
    loop = FrameLoop(lambda: Hiccups(plug), sink, lambda f: f, 64, 48, 30.0, max_frames=30)
    stats = loop.run()
    assert stats.frames_out == 30 and loop.error is None
    assert stats.placeholders == 0 and max(sink.frames) < 5  # live frames throughout, never the card
    assert plug.opened == 1  # a hiccup is not a reason to reopen the camera


def test_a_source_failing_before_its_first_frame_backs_off_and_logs_once_per_period(monkeypatch, caplog):
    monkeypatch.setattr("vcam_lipstick.loop.RETRY_SECONDS", 0.5)
    monkeypatch.setattr("vcam_lipstick.loop.STALL_SECONDS", 0.05)
    opened = []

    class Broken:
        paced, width, height, fps = False, 64, 48, 30.0

        def __init__(self):
            opened.append(self)

        def read(self):
            raise ValueError("decoder exploded")

        def close(self):
            pass

    sink = ListSink(lambda frame: frame.mean())
    loop = FrameLoop(Broken, sink, lambda f: f, 64, 48, 30.0)
    with caplog.at_level(logging.WARNING, logger="vcam_lipstick.loop"):
        t = time.monotonic()
        loop.start()
        time.sleep(1.5)
        loop.stop()
        elapsed = time.monotonic() - t
    lines = [r for r in caplog.records if r.name == "vcam_lipstick.loop" and "decoder exploded" in r.getMessage()]
    periods = elapsed / 0.5
    assert 1 <= len(lines) <= periods + 1  # not one per 10 ms try
    assert sum(1 for r in lines if r.exc_info) == 1  # one traceback to debug with
    assert len(opened) <= periods + 2  # reopened with a back-off, not in a busy loop
    assert sink.frames and min(sink.frames) > 20  # the meeting sees the card meanwhile


def test_the_capture_thread_closes_its_source_after_a_read_that_outlives_stop():
    release = threading.Event()
    closes = []

    class Hanging(fakes.Camera):
        def read(self):
            if self.plug.count >= 3:
                release.wait(10)  # a driver stuck in read(), e.g. a camera being unplugged
            return super().read()

        def close(self):
            closes.append((threading.current_thread().name, self.reading_done))
            super().close()

    plug = fakes.Plug()
    sources = []

    def open_source():
        cam = Hanging(plug)
        cam.reading_done = False
        sources.append(cam)
        return cam

    loop = FrameLoop(open_source, ListSink(), lambda f: f, 64, 48, 30.0).start()
    assert wait_until(lambda: plug.count >= 3)
    assert loop.stop(timeout=0.2) is False  # the read is still going on
    assert closes == []  # not closed under the read
    sources[0].reading_done = True
    release.set()
    assert wait_until(lambda: closes)
    assert closes == [("capture", True)]


def test_a_sink_that_fails_mid_run_is_told_once_and_frames_resume():
    plug = fakes.Plug()
    failing = threading.Event()

    class Unplugged(ListSink):
        def send(self, frame):
            if failing.is_set():
                raise OSError(19, "No such device")
            super().send(frame)

    sink = Unplugged(lambda frame: int(frame[0, 0, 0]))
    statuses = []
    loop = make_loop(plug, sink, on_status=statuses.append).start()
    assert wait_until(lambda: len(sink.frames) >= 5)
    failing.set()
    assert wait_until(lambda: loop.stats.send_failures >= 10)
    failing.clear()
    before = len(sink.frames)
    assert wait_until(lambda: len(sink.frames) >= before + 5)
    loop.stop()
    assert loop.error is None
    told = [s for s in statuses if s.startswith("output failed")]
    assert told == ["output failed: [Errno 19] No such device"] and "output restored" in statuses
    assert loop.stats.dropped >= 10  # frames that could not be sent are counted, not published


def test_stats_summary_has_exactly_the_documented_keys_and_measures_latency():
    plug = fakes.Plug()

    def slow(frame):
        time.sleep(0.06)  # slower than the camera: some frames must be dropped
        return frame

    stats = FrameLoop(plug.open, ListSink(), slow, 64, 48, 30.0, max_frames=12).run()
    summary = stats.summary()
    assert list(summary) == ["frames_published", "frames_dropped", "frames_repeated", "latency_ms_p50",
                             "latency_ms_p99", "cpu_percent_of_one_core", "rss_mb_max"]
    assert summary["frames_published"] == 12 and summary["frames_dropped"] >= 3
    assert 60 <= summary["latency_ms_p50"] <= summary["latency_ms_p99"]  # at least the processing time
    assert summary["cpu_percent_of_one_core"] >= 0 and summary["rss_mb_max"] > 10


def test_latency_percentiles():
    from vcam_lipstick.loop import LatencyHistogram

    h = LatencyHistogram()
    assert h.percentile(50) is None
    for ms in range(1, 101):  # 1..100 ms
        h.add(ms / 1000.0)
    assert h.percentile(50) == pytest.approx(50.1, abs=0.11) and h.percentile(99) == pytest.approx(99.1, abs=0.11)
    h.add(5.0)  # slower than the histogram reaches
    assert h.percentile(100) == pytest.approx(1000.1)


def test_demo_frames_are_never_reused_under_a_slow_worker():
    from vcam_lipstick.devices.sources import DemoSource

    with DemoSource(160, 120) as demo:
        held = demo.read()  # a worker still busy with this frame
        kept = held.copy()
        for _ in range(10):
            demo.read()[:] = 0  # later frames, drawn on in place
        assert np.array_equal(held, kept)


# -- the lip model failing --------------------------------------------------------------------
class FlakyTracker:
    def __init__(self, fail_calls=(0,)):
        self.calls, self.resets, self.fail_calls = 0, 0, set(fail_calls)

    def process(self, frame):
        call, self.calls = self.calls, self.calls + 1
        if call in self.fail_calls:
            raise RuntimeError("onnxruntime: bad allocation")
        return ["mouth"]

    def reset(self):
        self.resets += 1


class MarkRenderer:
    def render(self, frame, masks, look):
        frame[0, 0] = 255  # "lipstick"


def lipstick(frame):
    return frame[0, 0, 0] == 255


def test_a_model_failure_pauses_the_lipstick_then_it_comes_back_after_the_back_off():
    from vcam_lipstick.pipeline import LipstickPipeline, View
    from vcam_lipstick.processing.shades import Look, ShadeBook

    now = [100.0]
    notes = []
    tracker = FlakyTracker(fail_calls=(0,))
    pipeline = LipstickPipeline(tracker, MarkRenderer(), on_error=notes.append, retry_seconds=2.0,
                                clock=lambda: now[0])
    shade = ShadeBook.load(None).get("Classic Red")
    view = View(Look(shade, shade.finish))
    frame = lambda: np.zeros((8, 8, 3), np.uint8)  # noqa: E731
    assert not lipstick(pipeline.apply(frame(), view))  # fails: passed through
    now[0] += 1.0
    assert not lipstick(pipeline.apply(frame(), view)) and tracker.calls == 1  # still waiting: not even tried
    now[0] += 1.5
    assert lipstick(pipeline.apply(frame(), view))  # back after the back-off
    assert lipstick(pipeline.apply(frame(), view))
    assert len(notes) == 1 and "Lipstick paused" in notes[0]


def test_a_failing_model_is_tried_less_and_less_often_and_told_once_until_reset():
    from vcam_lipstick.pipeline import LipstickPipeline, View
    from vcam_lipstick.processing.shades import Look, ShadeBook

    now = [0.0]
    notes = []
    tracker = FlakyTracker(fail_calls=range(1000))
    pipeline = LipstickPipeline(tracker, MarkRenderer(), on_error=notes.append, retry_seconds=2.0,
                                clock=lambda: now[0])
    shade = ShadeBook.load(None).get("Classic Red")
    view = View(Look(shade, shade.finish))
    for _ in range(600):  # one minute of frames at 10 fps
        pipeline.apply(np.zeros((8, 8, 3), np.uint8), view)
        now[0] += 0.1
    assert 4 <= tracker.calls <= 6  # 0, 2, 6, 14, 30 s: a doubling back-off
    assert len(notes) == 1
    pipeline.reset()  # a camera change: tried at once, and a new failure is told again
    pipeline.apply(np.zeros((8, 8, 3), np.uint8), view)
    assert len(notes) == 2
