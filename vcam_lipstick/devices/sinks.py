"""Frame sinks: the virtual camera, a preview window, a video file. All take BGR uint8 frames."""

from __future__ import annotations

import logging
import os
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
    """pyvirtualcam in BGR (no colour flip on the hot path). ``backend`` selects a registered backend."""

    def __init__(self, width: int, height: int, fps: float, backend: str | None = None, device: str | None = None):
        try:
            import pyvirtualcam
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise SinkError(f"pyvirtualcam is not installed ({exc})") from None
        # Virtual camera drivers want an even width; drop the last column if needed.
        self.width = width - (width % 2)
        self.height = height
        try:
            self.cam = pyvirtualcam.Camera(self.width, self.height, fps, fmt=pyvirtualcam.PixelFormat.BGR,
                                           backend=backend, device=device, print_fps=False)
        except Exception as exc:  # pyvirtualcam raises RuntimeError with the driver's reason
            raise SinkError(f"no virtual camera: {str(exc).splitlines()[0] if str(exc) else exc}") from None
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
    """A preview window (OpenCV). Closing the window (or pressing q/Esc) sets ``closed``."""

    def __init__(self, title: str = "Lipstick Cam preview"):
        if not display_available():
            raise SinkError("no display for a preview window (DISPLAY is not set)")
        import cv2

        self.cv2, self.name, self.closed = cv2, title, False
        cv2.namedWindow(title, cv2.WINDOW_NORMAL)

    def send(self, frame: np.ndarray) -> None:
        if self.closed:
            return
        self.cv2.imshow(self.name, frame)
        key = self.cv2.waitKey(1) & 0xFF
        if key in (27, ord("q")) or self.cv2.getWindowProperty(self.name, self.cv2.WND_PROP_VISIBLE) < 1:
            self.closed = True

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.cv2.destroyWindow(self.name)


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
