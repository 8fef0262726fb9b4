"""The frame loop: capture thread -> latest-frame slot -> worker (pipeline) -> sink, paced to the fps.

* Latest frame wins: the capture thread overwrites a single slot, so there is never a backlog and
  the added latency is at most one frame.
* If the camera stalls, the last good output is repeated so the meeting never freezes on a
  black frame; if it is gone, a placeholder says so and the source is reopened every 2 s.
* ``stop()`` returns within about a second and releases the source and the sink.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from .devices.sources import FrameSource, SourceError

log = logging.getLogger(__name__)

RETRY_SECONDS = 2.0
STALL_SECONDS = 1.0  # no frame for this long: show the placeholder instead of repeating


def placeholder_frame(width: int, height: int, text: str) -> np.ndarray:
    frame = np.full((height, width, 3), 32, np.uint8)
    scale = max(0.5, width / 1280.0)
    size, _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
    org = ((width - size[0]) // 2, (height + size[1]) // 2)
    cv2.putText(frame, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (230, 230, 230), 2, cv2.LINE_AA)
    return frame


@dataclass
class LoopStats:
    frames_in: int = 0
    frames_out: int = 0
    repeats: int = 0
    placeholders: int = 0
    reconnects: int = 0
    first_frame_at: float | None = None
    process_seconds: float = 0.0


class FrameLoop:
    """Runs ``process(frame) -> frame`` on frames from a source and sends them to a sink.

    ``open_source`` is called to (re)open the source; ``view`` is read for every frame so menu
    changes apply to the next frame. ``max_frames`` stops the loop after that many frames out.
    """

    def __init__(self, open_source: Callable[[], FrameSource], sink, process: Callable[[np.ndarray], np.ndarray],
                 width: int, height: int, fps: float, max_frames: int | None = None,
                 on_status: Callable[[str], None] | None = None):
        self.open_source = open_source
        self.sink = sink
        self.process = process
        self.width, self.height, self.fps = width, height, float(fps)
        self.max_frames = max_frames
        self.on_status = on_status or (lambda message: None)
        self.stats = LoopStats()
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._latest: np.ndarray | None = None
        self._latest_seq = 0
        self._last_frame_time = 0.0
        self._source: FrameSource | None = None
        self._threads: list[threading.Thread] = []
        self.status = "starting"
        self.error: BaseException | None = None
        self._placeholder = placeholder_frame(width, height, "Camera unavailable - retrying")

    # -- capture -----------------------------------------------------------------------------
    def _set_status(self, status: str) -> None:
        if status != self.status:
            self.status = status
            log.info("loop: %s", status)
            self.on_status(status)

    def _capture(self) -> None:
        next_time = time.monotonic()
        while not self._stop.is_set():
            if self._source is None:
                try:
                    self._source = self.open_source()
                    self._set_status("running")
                except SourceError as exc:
                    self._set_status(f"camera unavailable: {exc}")
                    self._stop.wait(RETRY_SECONDS)
                    self.stats.reconnects += 1
                    continue
            try:
                frame = self._source.read()
            except SourceError as exc:
                log.warning("source lost: %s", exc)
                frame = None
                self._close_source()
                self._set_status(f"camera unavailable: {exc}")
                continue
            except Exception:  # a driver error must not end the capture thread
                log.exception("source read failed")
                frame = None
            if frame is None:
                if time.monotonic() - self._last_frame_time > STALL_SECONDS and self._last_frame_time:
                    self._close_source()  # stalled for too long: reopen
                self._stop.wait(0.01)
                continue
            if frame.shape[1] != self.width or frame.shape[0] != self.height:
                frame = cv2.resize(frame, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
            with self._cond:
                self._latest = frame
                self._latest_seq += 1
                self._last_frame_time = time.monotonic()
                self._cond.notify()
            self.stats.frames_in += 1
            if not self._source.paced:  # files and the demo deliver at their own fps
                next_time += 1.0 / self.fps
                delay = next_time - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                else:
                    next_time = time.monotonic()
        self._close_source()

    def _close_source(self) -> None:
        if self._source is not None:
            try:
                self._source.close()
            finally:
                self._source = None

    # -- processing --------------------------------------------------------------------------
    def _work(self) -> None:
        seen = 0
        last_out: np.ndarray | None = None
        interval = 1.0 / self.fps
        try:
            while not self._stop.is_set():
                with self._cond:
                    if self._latest_seq == seen:
                        self._cond.wait(timeout=interval * 1.5)
                    frame, seq = self._latest, self._latest_seq
                if self._stop.is_set():
                    break
                if seq != seen and frame is not None:
                    seen = seq
                    t = time.perf_counter()
                    out = self.process(frame)
                    self.stats.process_seconds += time.perf_counter() - t
                    last_out = out
                elif time.monotonic() - self._last_frame_time < STALL_SECONDS and last_out is not None:
                    out = last_out  # a short stall: repeat the last good frame
                    self.stats.repeats += 1
                else:
                    out = self._placeholder
                    self.stats.placeholders += 1
                self.sink.send(out)
                self.stats.frames_out += 1
                if self.stats.first_frame_at is None:
                    self.stats.first_frame_at = time.monotonic()
                if self.max_frames is not None and self.stats.frames_out >= self.max_frames:
                    self._stop.set()
                if getattr(self.sink, "closed", False):  # the preview window was closed
                    self._stop.set()
        except BaseException as exc:
            self.error = exc
            log.exception("frame loop failed")
            self._stop.set()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "FrameLoop":
        self.started_at = time.monotonic()
        self._threads = [threading.Thread(target=self._capture, name="capture", daemon=True),
                         threading.Thread(target=self._work, name="worker", daemon=True)]
        for t in self._threads:
            t.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the loop stops by itself (frame limit, window closed); True if it did."""
        return self._stop.wait(timeout)

    def stop(self, timeout: float = 1.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._close_source()

    def run(self) -> LoopStats:
        """Start, wait until done, stop; for headless runs."""
        self.start()
        try:
            while not self.wait(0.2):
                pass
        finally:
            self.stop()
        if self.error is not None:
            raise self.error
        return self.stats
