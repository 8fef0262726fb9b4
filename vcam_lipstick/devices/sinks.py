"""Frame sinks: the virtual camera, a preview window, a video file. All take BGR uint8 frames."""

from __future__ import annotations

import logging
import os
import queue
import sys
from pathlib import Path
from typing import Protocol

import numpy as np

from ..child_window import ChildWindow
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
    """True when a window can be shown; without a display Tk fails in the window's own process, where
    the user would only see the window not appear."""
    if sys.platform.startswith(("win", "darwin")):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class WindowSink(Closable):
    """A preview window, drawn by Tk in a child process. Closing it (or q/Esc) sets ``closed``.

    Tk must own its process's main thread, and the tray owns the app's (GTK, AppKit, Win32), so the
    window gets a process of its own (``show_window``). Frames are shrunk to ``max_width`` and dropped
    while the window is behind, so a preview never slows the camera.
    """

    def __init__(self, title: str = "Lipstick Cam preview", max_width: int = 960):
        if not display_available():
            raise SinkError("no display for a preview window (DISPLAY is not set)")
        import multiprocessing

        import cv2

        self.cv2 = cv2
        context = multiprocessing.get_context("spawn")  # fork would copy the tray's GUI state
        self.name, self.max_width, self.closed = title, max_width, False
        self.failure: str | None = None  # set when the window's process ended with an error
        self._frames = context.Queue(maxsize=2)
        self._process = context.Process(target=show_window, args=(title, self._frames), name="preview", daemon=True)
        self._process.start()

    def send(self, frame: np.ndarray) -> None:
        if self.closed:
            return
        if not self._process.is_alive():  # the user closed the window, or it could not open (it said why)
            if self._process.exitcode != 0:
                self.failure = "the preview window could not open"
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


PREVIEW_POLL_MS = 10  # how often the preview looks for a new frame: well under a 30 fps frame's 33 ms


def fit_size(frame_size: tuple[int, int], box_size: tuple[int, int]) -> tuple[int, int]:
    """(width, height) of a ``frame_size`` (width, height) image scaled to fit ``box_size`` with its aspect
    ratio kept; never below 1x1. The rest of the box is letterbox."""
    (fw, fh), (bw, bh) = frame_size, box_size
    scale = min(bw / fw, bh / fh)
    return max(1, round(fw * scale)), max(1, round(fh * scale))


class PreviewWindow(ChildWindow):
    """The preview in its process: the newest frame from ``frames``, scaled to the window on black."""

    def __init__(self, tk, root, title: str, frames):
        self.frames, self.root = frames, root
        self.frame: np.ndarray | None = None  # the newest frame (BGR), redrawn when the window is resized
        self.photo = None  # reused while the shown size stays the same; Tk drops an image nobody references
        root.title(title)
        root.protocol("WM_DELETE_WINDOW", root.quit)
        for key in ("<Key-q>", "<Escape>"):
            root.bind(key, lambda event: root.quit())
        # A canvas keeps the size it was given whatever it shows (a label would grow with each image).
        self.canvas = tk.Canvas(root, background="black", highlightthickness=0, borderwidth=0)
        self.canvas.pack(fill="both", expand=True)
        self.item = self.canvas.create_image(0, 0, anchor="center")
        self.canvas.bind("<Configure>", lambda event: self._draw())
        root.after(PREVIEW_POLL_MS, self._poll)

    def _poll(self) -> None:
        waiting = self.drain(self.frames)
        if waiting is None:
            return
        if waiting:
            frame = waiting[-1]  # older frames are already late
            if self.frame is None:  # the window opens at the first frame's size
                self.canvas.configure(width=frame.shape[1], height=frame.shape[0])
            self.frame = frame
            self._draw()
        self.root.after(PREVIEW_POLL_MS, self._poll)

    def _draw(self) -> None:
        import cv2
        from PIL import Image, ImageTk

        box = (self.canvas.winfo_width(), self.canvas.winfo_height())
        if self.frame is None or min(box) < 2:  # not mapped yet: <Configure> draws it then
            return
        h, w = self.frame.shape[:2]
        size = fit_size((w, h), box)
        frame = self.frame
        if size != (w, h):
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA if size[0] < w else cv2.INTER_LINEAR)
        image = Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        if self.photo is None or (self.photo.width(), self.photo.height()) != size:
            self.photo = ImageTk.PhotoImage(image)
            self.canvas.itemconfigure(self.item, image=self.photo)
        else:
            self.photo.paste(image)
        self.canvas.coords(self.item, box[0] // 2, box[1] // 2)


def show_window(title: str, frames) -> None:
    """The preview process: Tk on this process's main thread, showing BGR uint8 frames from ``frames``
    until None, q/Esc, the window's close button, or the app is gone."""
    import signal
    import tkinter as tk

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in a terminal is the app's to handle; it closes us
    try:
        root = tk.Tk()
    except tk.TclError as exc:  # DISPLAY names a screen that is not there: one line, not a traceback
        print(f"error: the preview window cannot open: {exc}", file=sys.stderr)
        sys.exit(1)
    PreviewWindow(tk, root, title, frames).run()


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
        from ..media import MediaError

        if self.writer is not None:
            writer, self.writer = self.writer, None
            try:
                writer.close(success=True)
            except MediaError as exc:
                log.error("%s", exc)


class NullSink(Closable):
    """Discards frames (benchmarks)."""

    name = "null"

    def send(self, frame: np.ndarray) -> None:
        pass

    def close(self) -> None:
        pass


SINK_NAMES = ("virtual", "window", "null")  # any other sink spec is a video file's path


def open_sink(spec: str, width: int, height: int, fps: float, backend: str | None = None) -> FrameSink:
    """One of ``SINK_NAMES``, or a video file path (.mp4/.avi/.webm/.mov)."""
    if spec == "virtual":
        return VirtualCameraSink(width, height, fps, backend=backend)
    if spec == "window":
        return WindowSink()
    if spec == "null":
        return NullSink()
    return VideoFileSink(Path(spec), width, height, fps)
