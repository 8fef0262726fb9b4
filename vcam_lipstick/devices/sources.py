"""Frame sources: the webcam, a video file, and the built-in demo. All give BGR uint8 frames.

``read()`` returns the next frame, or None when none is available right now (a stalled or
unplugged camera); it raises ``SourceError`` only when the source cannot be used at all.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable
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


def camera_backend() -> int:
    """The OpenCV capture API for webcams here (its indices are the ones ``cameras.list_devices`` names)."""
    if sys.platform.startswith("win"):
        return cv2.CAP_DSHOW
    if sys.platform == "darwin":
        return cv2.CAP_AVFOUNDATION
    return cv2.CAP_V4L2


def _open_capture(index: int):
    """One place that opens a webcam, so tests can swap in a fake ``cv2.VideoCapture``."""
    return cv2.VideoCapture(index, camera_backend())


MJPG = cv2.VideoWriter_fourcc(*"MJPG")
SLOW_FPS_RATIO = 0.8  # delivered below this share of the requested rate: tell the user once
FPS_WINDOW_SECONDS = 1.0


def fourcc_text(code: float) -> str:
    """CAP_PROP_FOURCC's float -> 'MJPG', 'YUYV', ... ('?' when the backend does not say)."""
    value = int(code)
    text = "".join(chr((value >> (8 * i)) & 0xFF) for i in range(4))
    return text if value > 0 and text.isprintable() and text.strip() else "?"


class VirtualCameraError(SourceError):
    """The camera asked for is a virtual camera (ours, OBS's, a loopback device): never a source."""


def refuse_virtual_camera(index: int) -> None:
    """Raise ``VirtualCameraError`` if camera ``index`` is a virtual camera, with one line saying why."""
    from .cameras import virtual_camera_name

    name = virtual_camera_name(index)
    if name is not None:
        raise VirtualCameraError(f"camera {index} is '{name}', a virtual camera; reading it would feed the "
                                 "app's own output back, so pick a real webcam")


class CameraSource(Closable):
    """A physical webcam by index. Logs the requested vs. the applied capture settings once.

    MJPG is requested first, then size and rate (as OBS and v4l2-ctl do): most USB webcams send
    720p30 only as MJPG, and uncompressed YUYV at that size does not fit USB 2.0. A camera that
    refuses MJPG, or takes it and then sends nothing, is used in its own format. The frame rate
    it really delivers is measured over the first second of reading; ``on_notice`` hears once if
    it is well below the request. ``clock`` is for tests.
    """

    paced = True

    def __init__(self, index: int = 0, width: int = 1280, height: int = 720, fps: float = 30.0,
                 on_notice: Callable[[str], None] | None = None, clock: Callable[[], float] = time.monotonic):
        self.index = index
        self.requested = (int(width), int(height), float(fps))
        self.on_notice, self.clock = on_notice, clock
        refuse_virtual_camera(index)
        self.cap, frame = self._open(mjpg=True)
        self.height, self.width = frame.shape[:2]
        got_fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = got_fps if 1.0 <= got_fps <= 120.0 else float(fps)
        self.fourcc = fourcc_text(self.cap.get(cv2.CAP_PROP_FOURCC))
        log.info("camera %d: requested %dx%d@%g MJPG, got %dx%d@%g %s", index, width, height, fps,
                 self.width, self.height, self.fps, self.fourcc)
        self.delivered_fps: float | None = None  # measured over the first second of reading
        self._window_start: float | None = None
        self._window_frames = 0

    def _open(self, mjpg: bool):
        width, height, fps = self.requested
        cap = _open_capture(self.index)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"camera {self.index} is not available (missing, unplugged or used by another app)")
        took_mjpg = bool(cap.set(cv2.CAP_PROP_FOURCC, MJPG)) if mjpg else False  # before size and rate
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        cap.set(cv2.CAP_PROP_FPS, fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # latest frame, not a backlog
        ok, frame = cap.read()
        if not ok or frame is None:
            cap.release()
            if took_mjpg:  # it said yes to MJPG but sends nothing in it: try its own format
                log.info("camera %d: no frames as MJPG; trying its default format", self.index)
                return self._open(mjpg=False)
            raise SourceError(f"camera {self.index} opened but delivers no frames (busy in another app?)")
        if mjpg and not took_mjpg:
            log.info("camera %d refused MJPG; using its default format", self.index)
        return cap, frame

    def read(self) -> np.ndarray | None:
        if self.cap is None:
            raise SourceError(f"camera {self.index} is closed")
        ok, frame = self.cap.read()
        if not ok:
            return None
        if self.delivered_fps is None:
            self._measure(self.clock())
        return frame

    def _measure(self, now: float) -> None:
        if self._window_start is None:  # the first read may wait for exposure: start counting after it
            self._window_start = now
            return
        self._window_frames += 1
        elapsed = now - self._window_start
        if elapsed < FPS_WINDOW_SECONDS:
            return
        self.delivered_fps = self._window_frames / elapsed
        width, height, fps = self.requested
        log.info("camera %d delivers %.1f fps (asked for %g, the driver reports %g)", self.index,
                 self.delivered_fps, fps, self.fps)
        if self.delivered_fps < SLOW_FPS_RATIO * min(fps, self.fps):
            message = (f"Camera {self.index} delivers {self.delivered_fps:.0f} fps, not {min(fps, self.fps):g}, at "
                       f"{self.width}x{self.height}; a smaller size (e.g. --size 640x480) may be smoother.")
            log.warning("%s", message)
            if self.on_notice is not None:
                self.on_notice(message)

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()
            self.cap = None


def list_cameras(max_index: int = 6, skip: tuple[int, ...] = ()) -> list[int]:
    """Indices of real cameras that open and deliver a frame (probing takes a moment per camera).

    Virtual cameras (ours, OBS's, loopback devices) are never listed. Where the system names its
    cameras, those are probed; elsewhere indices below ``max_index``. ``skip``: indices not to
    probe (e.g. the camera in use, which would report busy)."""
    from .cameras import list_devices

    devices = list_devices()
    candidates = range(max_index) if devices is None else [d.index for d in devices if not d.virtual]
    found = []
    for index in candidates:
        if index in skip:
            continue
        try:
            with CameraSource(index, 640, 480):
                found.append(index)
        except SourceError:
            continue
    return found


class VideoFileSource(Closable):
    """A video file, looped, delivered at its own frame rate by the frame loop.

    A video with a single decodable frame is shown as a still. A file that can no longer be read
    (deleted, truncated) raises ``SourceError``; the frame loop then retries with its back-off.
    """

    paced = False
    # One decoder thread: FFmpeg's default (one per core) costs more CPU in all for a paced 30 fps stream
    # (threads waking per frame), and a meeting app shares the CPU.
    DECODER_THREADS = 1

    def __init__(self, path: Path, loop: bool = True):
        from ..media import MediaError, open_video

        try:
            self.cap, info = open_video(Path(path), self.DECODER_THREADS)
        except MediaError as exc:
            raise SourceError(str(exc)) from None
        self.path, self.loop = Path(path), loop
        self.width, self.height, self.fps = info.width, info.height, info.fps
        self._pass_frames = 0  # frames read since the last rewind
        self._first: np.ndarray | None = None  # the first frame of this pass, kept to tell a 1-frame video
        self._still: np.ndarray | None = None

    def read(self) -> np.ndarray | None:
        if self.cap is None:
            raise SourceError(f"{self.path} is closed")
        if self._still is not None:
            return self._still.copy()  # the loop renders in place: never hand out the kept frame
        ok, frame = self.cap.read()
        if not ok:
            if not self.loop and self._pass_frames:
                raise SourceError(f"{self.path}: end of video")
            if self._pass_frames == 1 and self._first is not None:
                log.info("%s has a single frame: showing it as a still", self.path)
                self._still = self._first
                return self._still.copy()
            frame = self._rewind()
            self._pass_frames = 0
        self._pass_frames += 1
        if self._pass_frames == 1:
            self._first = frame.copy()
        return frame

    def _rewind(self) -> np.ndarray:
        """The first frame again: seek back, or reopen where seeking fails (short or odd files).

        The file is looked at first: a decoder may replay its buffer of a file deleted or emptied meanwhile."""
        try:
            size = self.path.stat().st_size
        except OSError:
            raise SourceError(f"{self.path}: the file is gone") from None
        if size == 0:
            raise SourceError(f"{self.path}: the file is now empty")
        if self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0):
            ok, frame = self.cap.read()
            if ok:
                return frame
        self.cap.release()
        from ..media import capture_file

        self.cap = capture_file(self.path, self.DECODER_THREADS)
        ok, frame = self.cap.read() if self.cap.isOpened() else (False, None)
        if not ok:
            raise SourceError(f"{self.path}: no frames can be decoded any more (was the file changed?)")
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
    costs two copies per frame instead of a full-frame warp (keeping the app's CPU honest).
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
        self.backdrop = backdrop
        self.t = 0

    def read(self) -> np.ndarray | None:
        if not self.poses:
            raise SourceError("demo source is closed")
        period = 2 * (self.POSES - 1)
        k = self.t % period
        pose = self.poses[k if k < self.POSES else period - k]
        self.t += 1
        # A fresh frame every time (0.2 ms at 720p): the loop renders in place and may still hold
        # earlier frames, however slow the worker is, so no buffer may be reused behind its back.
        frame = self.backdrop.copy()
        side = pose.shape[0]
        frame[self.y0 : self.y0 + side, self.x0 : self.x0 + side] = pose
        return frame

    def close(self) -> None:
        self.poses = []


def open_source(spec: str, width: int = 1280, height: int = 720, fps: float = 30.0,
                on_notice: Callable[[str], None] | None = None) -> FrameSource:
    """'demo', a camera index ('0'), or a video file path. ``on_notice``: a camera's one-time remarks."""
    if spec == "demo":
        return DemoSource(width, height, fps)
    if spec.isdigit():
        return CameraSource(int(spec), width, height, fps, on_notice=on_notice)
    return VideoFileSource(Path(spec))
