"""Frame sinks: the virtual camera, a preview window, a video file. All take BGR uint8 frames."""

from __future__ import annotations

import logging
import os
import queue
import sys
from pathlib import Path
from typing import Protocol

import numpy as np

from . import Closable

log = logging.getLogger(__name__)

VIRTUAL_CAMERA_LABEL = "Lipstick Cam"


class SinkError(RuntimeError):
    """The sink cannot be opened (no driver, no display, unwritable file)."""


class FrameSink(Protocol):
    name: str

    def send(self, frame: np.ndarray) -> None: ...

    def close(self) -> None: ...


class VirtualCameraSink(Closable):
    """pyvirtualcam in BGR (no colour flip on the hot path). ``backend`` selects a registered backend.

    On Linux, with no ``device`` given, frames go to the v4l2loopback device labelled "Lipstick Cam"
    (found under ``sysfs_root``), not to whichever loopback device comes first: that may be OBS's.
    """

    def __init__(self, width: int, height: int, fps: float, backend: str | None = None, device: str | None = None,
                 sysfs_root: Path | None = None):
        try:
            import pyvirtualcam
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise SinkError(f"pyvirtualcam is not installed ({exc})") from None
        if device is None and sys.platform.startswith("linux"):
            from .cameras import find_loopback_device

            device = find_loopback_device(VIRTUAL_CAMERA_LABEL, sysfs_root)
            if device is None:
                log.info("no v4l2loopback device labelled %r; pyvirtualcam picks the first free one",
                         VIRTUAL_CAMERA_LABEL)
        # Virtual camera drivers want an even width; drop the last column if needed.
        self.width = width - (width % 2)
        self.height = height
        try:
            self.cam = pyvirtualcam.Camera(self.width, self.height, fps, fmt=pyvirtualcam.PixelFormat.BGR,
                                           backend=backend, device=device, print_fps=False)
        except Exception as exc:  # pyvirtualcam raises RuntimeError with the driver's reason
            reason = str(exc).splitlines()[0].rstrip(". ") if str(exc) else type(exc).__name__
            raise SinkError(f"no virtual camera: {reason}") from None  # one line, no final stop: callers add to it
        self.name = self.cam.device
        log.info("virtual camera %s (%s backend) %dx%d@%g", self.cam.device, self.cam.backend, self.width, height, fps)

    def send(self, frame: np.ndarray) -> None:
        if self.cam is None:
            return
        if frame.shape[1] != self.width:
            frame = np.ascontiguousarray(frame[:, : self.width])
        self.cam.send(frame)

    def close(self) -> None:
        if self.cam is not None:
            self.cam.close()
            self.cam = None


def display_available() -> bool:
    """True when a window can be shown; cv2.imshow without a display aborts the process."""
    if sys.platform.startswith(("win", "darwin")):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class WindowSink(Closable):
    """A preview window, drawn by OpenCV in a child process. Closing it (or q/Esc) sets ``closed``.

    GUI toolkits want the main thread, which the tray owns (GTK, AppKit, Win32), and OpenCV's Qt
    window crashes in a process that has loaded GTK; a child process keeps them apart. Frames are
    shrunk to ``max_width`` and dropped while the window is behind, so a preview never slows the camera.
    """

    def __init__(self, title: str = "Lipstick Cam preview", max_width: int = 960):
        if not display_available():
            raise SinkError("no display for a preview window (DISPLAY is not set)")
        import multiprocessing

        import cv2

        self.cv2 = cv2
        context = multiprocessing.get_context("spawn")  # fork would copy the tray's GUI state
        self.name, self.max_width, self.closed = title, max_width, False
        self._frames = context.Queue(maxsize=2)
        self._process = context.Process(target=show_window, args=(title, self._frames), name="preview", daemon=True)
        self._process.start()

    def send(self, frame: np.ndarray) -> None:
        if self.closed:
            return
        if not self._process.is_alive():  # the user closed the window
            self.close()
            return
        h, w = frame.shape[:2]
        if w > self.max_width:
            size = (self.max_width, round(h * self.max_width / w))
            frame = self.cv2.resize(frame, size, interpolation=self.cv2.INTER_LINEAR)
        try:
            self._frames.put_nowait(frame)
        except queue.Full:
            pass

    def close(self) -> None:
        if self._process is None:
            return
        self.closed = True
        try:
            self._frames.put_nowait(None)
        except queue.Full:
            pass
        self._process.join(timeout=2.0)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=1.0)
        self._frames.cancel_join_thread()  # frames still queued are not worth waiting for
        self._frames.close()
        self._process = None


def show_window(title: str, frames) -> None:
    """The preview process: show frames from ``frames`` until None, q/Esc, or the window is closed."""
    import cv2

    cv2.namedWindow(title, cv2.WINDOW_NORMAL)
    shown = False
    while True:
        try:
            frame = frames.get(timeout=0.05)
        except queue.Empty:
            frame = ...
        except (EOFError, OSError):  # the app is gone
            break
        if frame is None:
            break
        if frame is not ...:
            if not shown:
                cv2.resizeWindow(title, frame.shape[1], frame.shape[0])
            cv2.imshow(title, frame)
            shown = True
        key = cv2.waitKey(1) & 0xFF
        if key in (27, ord("q")) or (shown and cv2.getWindowProperty(title, cv2.WND_PROP_VISIBLE) < 1):
            break
    cv2.destroyAllWindows()


class VideoFileSink(Closable):
    """Writes frames to a video file (written under a temporary name, kept only if frames arrived)."""

    def __init__(self, path: Path, width: int, height: int, fps: float):
        from ..media import MediaError, VideoWriter, check_output

        try:
            check_output(Path(path), [])
            self.writer = VideoWriter(Path(path), width, height, fps)
        except MediaError as exc:
            raise SinkError(str(exc)) from None
        self.name = str(path)

    def send(self, frame: np.ndarray) -> None:
        if self.writer is not None:
            self.writer.write(frame)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close(success=True)
            self.writer = None


class NullSink(Closable):
    """Discards frames (benchmarks)."""

    name = "null"

    def send(self, frame: np.ndarray) -> None:
        pass

    def close(self) -> None:
        pass


def open_sink(spec: str, width: int, height: int, fps: float, backend: str | None = None) -> FrameSink:
    """'virtual', 'window', 'null', or a video file path (.mp4/.avi/.webm/.mov)."""
    if spec == "virtual":
        return VirtualCameraSink(width, height, fps, backend=backend)
    if spec == "window":
        return WindowSink()
    if spec == "null":
        return NullSink()
    return VideoFileSink(Path(spec), width, height, fps)
