"""Frame sources: the webcam, a video file, and the built-in demo. All give BGR uint8 frames.

``read()`` returns the next frame, or None when none is available right now (a stalled or
unplugged camera); it raises ``SourceError`` only when the source cannot be used at all.
"""

from __future__ import annotations

import logging
import math
import sys
from importlib import resources
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from . import Closable

log = logging.getLogger(__name__)

DEMO_ATTRIBUTION = (
    "Demo face: portrait of astronaut Eileen Collins, NASA (public domain), "
    "as bundled with scikit-image (skimage.data.astronaut)."
)


class SourceError(RuntimeError):
    """The source cannot be opened or has gone away."""


class FrameSource(Protocol):
    width: int
    height: int
    fps: float
    paced: bool  # True if read() blocks until the next frame (a camera); False for files and the demo

    def read(self) -> np.ndarray | None: ...

    def close(self) -> None: ...


def _camera_backend() -> int:
    if sys.platform.startswith("win"):
        return cv2.CAP_DSHOW
    if sys.platform == "darwin":
        return cv2.CAP_AVFOUNDATION
    return cv2.CAP_V4L2


class CameraSource(Closable):
    """A physical webcam by index. Logs the requested vs. the applied capture settings once."""

    paced = True

    def __init__(self, index: int = 0, width: int = 1280, height: int = 720, fps: float = 30.0):
        self.index = index
        self.cap = cv2.VideoCapture(index, _camera_backend())
        if not self.cap.isOpened():
            self.cap.release()
            raise SourceError(f"camera {index} is not available (missing, unplugged or used by another app)")
        self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        self.cap.set(cv2.CAP_PROP_FPS, fps)
        self.cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # latest frame, not a backlog
        ok, frame = self.cap.read()
        if not ok or frame is None:
            self.cap.release()
            raise SourceError(f"camera {index} opened but delivers no frames (busy in another app?)")
        self.height, self.width = frame.shape[:2]
        got_fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = got_fps if 1.0 <= got_fps <= 120.0 else fps
        log.info("camera %d: requested %dx%d@%g, got %dx%d@%g", index, width, height, fps, self.width, self.height, self.fps)

    def read(self) -> np.ndarray | None:
        if self.cap is None:
            raise SourceError(f"camera {self.index} is closed")
        ok, frame = self.cap.read()
        return frame if ok else None

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()
            self.cap = None


def list_cameras(max_index: int = 6, skip: tuple[int, ...] = ()) -> list[int]:
    """Indices of cameras that open and deliver a frame (probing takes a moment per index).

    ``skip``: indices not to probe (e.g. the camera in use, which would report busy)."""
    found = []
    for index in range(max_index):
        if index in skip:
            continue
        try:
            with CameraSource(index, 640, 480):
                found.append(index)
        except SourceError:
            continue
    return found


class VideoFileSource(Closable):
    """A video file, looped, delivered at its own frame rate by the frame loop."""

    paced = False

    def __init__(self, path: Path, loop: bool = True):
        from ..media import MediaError, open_video

        try:
            self.cap, info = open_video(Path(path))
        except MediaError as exc:
            raise SourceError(str(exc)) from None
        self.path, self.loop = Path(path), loop
        self.width, self.height, self.fps = info.width, info.height, info.fps

    def read(self) -> np.ndarray | None:
        if self.cap is None:
            raise SourceError(f"{self.path} is closed")
        ok, frame = self.cap.read()
        if not ok and self.loop:
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.cap.read()
        if not ok:
            raise SourceError(f"{self.path}: end of video")
        return frame

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()
            self.cap = None


def load_demo_face() -> np.ndarray:
    data = resources.files("vcam_lipstick").joinpath("assets/astronaut.jpg").read_bytes()
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


class DemoSource(Closable):
    """A public-domain portrait swaying gently in a soft backdrop; needs no camera.

    The sway is a pendulum through ``POSES`` pre-rendered poses played forth and back, so the demo
    costs one small copy per frame instead of a full-frame warp (keeping the app's CPU honest).
    """

    paced = False
    POSES = 24

    def __init__(self, width: int = 1280, height: int = 720, fps: float = 30.0):
        self.width, self.height, self.fps = int(width), int(height), float(fps)
        # Head and shoulders, so the face fills about a third of the frame height, as on a webcam.
        face = load_demo_face()[0:330, 60:390]
        side = int(min(self.height, self.width) * 0.95)
        face = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
        small = cv2.resize(face, (64, 36), interpolation=cv2.INTER_AREA)
        backdrop = cv2.GaussianBlur(cv2.resize(small, (self.width, self.height)), (0, 0), 6)
        self.x0 = (self.width - side) // 2
        self.y0 = self.height - side
        self.poses = []
        for k in range(self.POSES):
            swing = math.cos(math.pi * k / (self.POSES - 1))  # +1 .. -1, slow at the ends
            m = cv2.getRotationMatrix2D((side / 2.0, side * 0.55), 3.0 * swing, 1.0 + 0.015 * swing)
            m[0, 2] += 8.0 * swing
            m[1, 2] += 3.0 * math.sin(math.pi * k / (self.POSES - 1))
            self.poses.append(cv2.warpAffine(face, m, (side, side), flags=cv2.INTER_LINEAR,
                                             borderMode=cv2.BORDER_REPLICATE))
        # Three buffers in turn: one being filled, one waiting in the loop's slot, one being processed.
        self.buffers = [backdrop.copy() for _ in range(3)]
        self.t = 0

    def read(self) -> np.ndarray | None:
        if not self.poses:
            raise SourceError("demo source is closed")
        period = 2 * (self.POSES - 1)
        k = self.t % period
        pose = self.poses[k if k < self.POSES else period - k]
        frame = self.buffers[self.t % 3]
        self.t += 1
        side = pose.shape[0]
        frame[self.y0 : self.y0 + side, self.x0 : self.x0 + side] = pose
        return frame

    def close(self) -> None:
        self.poses = []


def open_source(spec: str, width: int = 1280, height: int = 720, fps: float = 30.0) -> FrameSource:
    """'demo', a camera index ('0'), or a video file path."""
    if spec == "demo":
        return DemoSource(width, height, fps)
    if spec.isdigit():
        return CameraSource(int(spec), width, height, fps)
    return VideoFileSource(Path(spec))
