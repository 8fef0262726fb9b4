"""Reading and writing images and videos, with one-line errors for bad files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_EXTS = {".mp4", ".webm", ".avi", ".mov"}
# Container -> fourcc OpenCV's bundled FFmpeg writes without extra codecs.
_FOURCC = {".mp4": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".webm": "VP80"}
MAX_PIXELS = 1 << 28  # 268 MP: decoding beyond this would need gigabytes


class MediaError(ValueError):
    """A file the user named cannot be read or written; the message is one line for the user."""


def read_image(path: Path) -> np.ndarray:
    """Any common image file -> (H, W, 3) uint8 BGR. Grayscale, alpha and 16-bit are converted."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise MediaError(f"{path}: is a folder, not an image") from None
    except OSError as exc:
        raise MediaError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not data:
        raise MediaError(f"{path}: empty file")
    if data[:2] == b"\xff\xd8" and b"\xff\xd9" not in data[-1024:]:
        raise MediaError(f"{path}: truncated JPEG (the file ends before the image does)")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise MediaError(f"{path}: not an image, or a format OpenCV cannot decode")
    if image.size > MAX_PIXELS * 4:
        raise MediaError(f"{path}: image too large ({image.shape[1]}x{image.shape[0]})")
    return to_bgr8(image)


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """Normalise depth and channels: 16-bit/float -> 8-bit, gray/BGRA -> BGR."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype in (np.float32, np.float64):
        image = np.clip(image * 255.0, 0, 255).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise MediaError(f"unsupported pixel type {image.dtype}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.shape[2] == 1:
        return cv2.cvtColor(image[..., 0], cv2.COLOR_GRAY2BGR)
    return image


def check_output(output: Path, inputs: list[Path]) -> None:
    """Refuse to write over an input; make sure the output folder exists and is writable."""
    out = Path(output).resolve()
    for src in inputs:
        if Path(src).resolve() == out:
            raise MediaError(f"{output}: output is the same file as the input; choose another name")
    folder = out.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MediaError(f"{folder}: cannot create output folder ({exc.strerror or exc})") from None
    if not os.access(folder, os.W_OK):
        raise MediaError(f"{folder}: output folder is not writable")


def write_image(path: Path, image: np.ndarray) -> None:
    """Encode then write via a temporary file and rename, so a failure never leaves half a file."""
    path = Path(path)
    ok, buf = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise MediaError(f"{path}: cannot encode an image with this extension")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(buf.tobytes())
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise MediaError(f"{path}: cannot write ({exc.strerror or exc})") from None


@dataclass
class VideoInfo:
    width: int
    height: int
    fps: float
    frames: int


def open_video(path: Path) -> tuple[cv2.VideoCapture, VideoInfo]:
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: empty file")
    cap = cv2.VideoCapture(str(path))
    ok, first = cap.read() if cap.isOpened() else (False, None)
    if not ok or first is None:
        cap.release()
        raise MediaError(f"{path}: not a video, or a container/codec OpenCV cannot decode")
    cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
    fps = cap.get(cv2.CAP_PROP_FPS)
    info = VideoInfo(first.shape[1], first.shape[0], fps if 1.0 <= fps <= 240.0 else 30.0,
                     int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
    return cap, info


class VideoWriter:
    """cv2.VideoWriter to a temporary name, renamed on success and removed on failure."""

    def __init__(self, path: Path, width: int, height: int, fps: float):
        self.path = Path(path)
        ext = self.path.suffix.lower()
        if ext not in _FOURCC:
            raise MediaError(f"{path}: unsupported video container '{ext}'; use {', '.join(sorted(_FOURCC))}")
        self.tmp = self.path.with_name(f".{self.path.stem}.partial{ext}")
        self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*_FOURCC[ext]), fps, (width, height))
        if not self.writer.isOpened():
            self.tmp.unlink(missing_ok=True)
            raise MediaError(f"{path}: cannot open a {ext} video writer here")
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        self.writer.write(frame)
        self.frames += 1

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(success=exc_type is None)

    def close(self, success: bool = True) -> None:
        if self.writer is None:
            return
        self.writer.release()
        self.writer = None
        if success and self.frames > 0:
            self.tmp.replace(self.path)
        else:
            self.tmp.unlink(missing_ok=True)
