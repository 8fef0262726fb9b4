"""Reading and writing images and videos, with one-line errors for bad files."""

from __future__ import annotations

import logging
import os
import re
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_EXTS = {".mp4", ".webm", ".avi", ".mov"}
# Container -> fourcc OpenCV's bundled FFmpeg writes without extra codecs.
_FOURCC = {".mp4": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".webm": "VP80"}
# 134 MP (e.g. 16384x8192, twice a 60 MP camera's photo): its BGR decode alone is 400 MB, and the
# pipeline holds a few copies. Checked from the file header, before anything is decoded.
MAX_PIXELS = 1 << 27

log = logging.getLogger(__name__)


class MediaError(ValueError):
    """A file the user named cannot be read or written; the message is one line for the user."""


def read_image(path: Path) -> np.ndarray:
    """Any common image file -> (H, W, 3) uint8 BGR. Grayscale, alpha and 16-bit are converted."""
    path = Path(path)
    if not path.is_file() and (path.exists() or path.is_symlink()):  # /dev/zero fills the memory, a FIFO waits
        raise MediaError(f"{path}: {why_not_a_file(path)}")
    if path.is_file():
        check_image_size(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MediaError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not data:
        raise MediaError(f"{path}: empty file")
    if data[:2] == b"\xff\xd8" and b"\xff\xd9" not in data[-1024:]:
        raise MediaError(f"{path}: truncated JPEG (the file ends before the image does)")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise MediaError(f"{path}: not an image, or a format OpenCV cannot decode")
    if image.shape[0] * image.shape[1] > MAX_PIXELS:  # a format Pillow could not size up front
        raise MediaError(f"{path}: image too large ({image.shape[1]}x{image.shape[0]}, "
                         f"at most {MAX_PIXELS / 1e6:.0f} megapixels)")
    return to_bgr8(image)


def check_image_size(path: Path, max_pixels: int = MAX_PIXELS) -> tuple[int, int] | None:
    """(width, height) from the file header, without decoding; MediaError if over ``max_pixels``.

    None when Pillow cannot read the header (then OpenCV decides, and the size is checked after).
    """
    from PIL import Image

    limit = f"at most {max_pixels / 1e6:.0f} megapixels"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:  # reads the header only
                width, height = im.size
    except Image.DecompressionBombError as exc:  # Pillow's own ceiling (179 MP) is above ours
        claimed = re.search(r"\((\d+) pixels\)", str(exc))  # Pillow keeps the size only in its message
        size = f"{int(claimed[1]) / 1e6:.0f} megapixels, " if claimed else ""
        raise MediaError(f"{path}: image too large ({size}{limit})") from None
    except Exception:  # not a format Pillow knows, or a damaged header: OpenCV's decoder decides
        return None
    if width * height > max_pixels:
        raise MediaError(f"{path}: image too large ({width}x{height}, {limit})")
    return width, height


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


def resolved(path: Path) -> Path:
    """``path`` made absolute with every symbolic link followed; a link loop is a MediaError."""
    try:
        return Path(path).resolve()
    except (RuntimeError, OSError):  # Python 3.11-3.12 raise RuntimeError on a loop, 3.13 OSError
        raise MediaError(f"{path}: a symbolic link that loops back on itself") from None


def why_not_a_file(path: Path) -> str:
    """Why ``path``, which is not a regular file, cannot be read as one: a few words for the user."""
    if str(path) in ("", "."):
        return "no file named"
    if path.is_dir():
        return "is a folder, not a file"
    if path.is_symlink() and not path.exists():
        return "a symbolic link to nothing (or one that loops)"
    if path.exists():
        return "not a regular file (a device or a pipe)"
    return "no such file"


def check_output(output: Path, inputs: list[Path]) -> None:
    """Refuse to write over an input or onto a folder, a device or a pipe; make sure the output folder
    exists and is writable."""
    out = resolved(output)
    for src in inputs:
        if resolved(src) == out:
            raise MediaError(f"{output}: output is the same file as the input; choose another name")
    if out.is_dir():
        raise MediaError(f"{output}: is a folder; give a file name")
    if out.exists() and not out.is_file():  # writing "over" /dev/full or a FIFO replaces or blocks it
        raise MediaError(f"{output}: {why_not_a_file(out)}; give a file name")
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
        raise MediaError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:  # also on Ctrl+C or SIGTERM; after the rename there is nothing left to remove
        tmp.unlink(missing_ok=True)


@dataclass
class VideoInfo:
    width: int
    height: int
    fps: float
    frames: int


def ffmpeg_name(path: Path) -> str:
    """The name to hand FFmpeg for a local file: absolute, because FFmpeg reads a leading "word:" as a
    protocol ("file:clip.mp4", "http:..."), so a relative name with a colon would go somewhere else."""
    return str(Path(path).absolute())


def capture_file(path: Path, threads: int = 0) -> cv2.VideoCapture:
    """OpenCV's FFmpeg capture of a file; ``threads`` decoder threads (0: FFmpeg's choice, one per core)."""
    params = [cv2.CAP_PROP_N_THREADS, int(threads)] if threads > 0 else []
    return cv2.VideoCapture(ffmpeg_name(path), cv2.CAP_FFMPEG, params)


def open_video(path: Path, threads: int = 0) -> tuple[cv2.VideoCapture, VideoInfo]:
    """A capture positioned at the first frame, and the video's size, fps and claimed frame count.

    ``frames`` is what the container claims (0 when it does not say); a cut file may decode fewer.
    ``threads``: see ``capture_file``.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: {why_not_a_file(path)}")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: empty file")
    # Probe with one capture, then hand out a fresh one: seeking back to frame 0 fails on some
    # files (a 1-frame video reads nothing after the seek).
    probe = cv2.VideoCapture(ffmpeg_name(path))
    try:
        ok, first = probe.read() if probe.isOpened() else (False, None)
        if not ok or first is None:
            raise MediaError(f"{path}: not a video, or a container/codec OpenCV cannot decode")
        fps = probe.get(cv2.CAP_PROP_FPS)
        frames = probe.get(cv2.CAP_PROP_FRAME_COUNT)
    finally:
        probe.release()
    cap = capture_file(path, threads)
    if not cap.isOpened():
        raise MediaError(f"{path}: the video could not be opened a second time")
    info = VideoInfo(first.shape[1], first.shape[0], fps if 1.0 <= fps <= 240.0 else 30.0,
                     int(frames) if 0 < frames < 1e9 else 0)
    return cap, info


class VideoWriter:
    """cv2.VideoWriter to a temporary name, renamed on success and removed on failure.

    Any frame size is kept. OpenCV's FFmpeg writer drops the last column and row of an odd size, so
    an odd-sized .avi goes through OpenCV's own MJPEG writer, which takes any size, and .mp4, .mov
    and .webm frames are padded by one repeated pixel and the file then states the true size, which
    players crop to (as they crop 1080p video, coded as 1088 lines).
    """

    def __init__(self, path: Path, width: int, height: int, fps: float):
        self.path = Path(path)
        ext = self.path.suffix.lower()
        if ext not in _FOURCC:
            raise MediaError(f"{path}: unsupported video container '{ext}'; use {', '.join(sorted(_FOURCC))}")
        self.tmp = self.path.with_name(f".{self.path.stem}.partial{ext}")
        self.size = (int(width), int(height))
        fourcc = cv2.VideoWriter_fourcc(*_FOURCC[ext])
        self.pad = (0, 0)
        if ext == ".avi" and (width % 2 or height % 2):
            self.writer = cv2.VideoWriter(ffmpeg_name(self.tmp), cv2.CAP_OPENCV_MJPEG, fourcc, fps, self.size)
        else:
            self.pad = (width % 2, height % 2)
            coded = (width + self.pad[0], height + self.pad[1])
            self.writer = cv2.VideoWriter(ffmpeg_name(self.tmp), fourcc, fps, coded)
        if not self.writer.isOpened():
            self.tmp.unlink(missing_ok=True)
            raise MediaError(f"{path}: cannot open a {ext} video writer here")
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        """One (height, width, 3) uint8 BGR frame."""
        if self.pad != (0, 0):
            frame = cv2.copyMakeBorder(frame, 0, self.pad[1], 0, self.pad[0], cv2.BORDER_REPLICATE)
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
        try:
            if success and self.frames > 0:
                if self.pad != (0, 0):
                    self._declare_size()
                self.tmp.replace(self.path)
        except OSError as exc:  # the writer wrote nothing (a full disk, a vanished folder)
            raise MediaError(f"{self.path}: the video could not be written ({exc.strerror or exc})") from None
        finally:  # on failure, Ctrl+C or SIGTERM nothing half-written stays behind
            self.tmp.unlink(missing_ok=True)

    def _declare_size(self) -> None:
        coded = (self.size[0] + self.pad[0], self.size[1] + self.pad[1])
        try:
            with open(self.tmp, "r+b") as f:
                patches = _webm_size_patches(f, coded, self.size) if self.path.suffix.lower() == ".webm" \
                    else _mp4_size_patches(f, coded, self.size)
                for offset, data in patches:  # all found before any is written: a failure changes nothing
                    f.seek(offset)
                    f.write(data)
        except (OSError, ValueError, IndexError, struct.error) as exc:
            log.warning("%s: kept the size as %dx%d (one pixel of padding): %s", self.path, *coded, exc)


# Stating an odd size in the files OpenCV's FFmpeg writes: every size field, found before any is changed.

def _mp4_size_patches(f, coded: tuple[int, int], size: tuple[int, int]) -> list[tuple[int, bytes]]:
    """.mp4/.mov with MPEG-4 Part 2 video: the track header, the sample entry and the VOL header."""
    f.seek(0, os.SEEK_END)
    moov = [(pos, n) for kind, pos, head, n in _boxes(f, 0, f.tell()) if kind == b"moov"]
    if len(moov) != 1:
        raise ValueError("no single moov box")
    base, length = moov[0]
    f.seek(base)
    buf = bytearray(f.read(length))
    old = bytes(buf)
    found = set()

    def walk(start: int, end: int) -> None:
        for kind, pos, head, n in _boxes(buf, start, end):
            body = pos + head
            if kind in (b"trak", b"mdia", b"minf", b"stbl"):
                walk(body, pos + n)
            elif kind == b"stsd":
                walk(body + 8, pos + n)  # version, flags, entry count
            elif kind == b"tkhd" and struct.unpack_from(">II", buf, pos + n - 8) == (coded[0] << 16, coded[1] << 16):
                struct.pack_into(">II", buf, pos + n - 8, size[0] << 16, size[1] << 16)
                found.add(kind)
            elif kind == b"mp4v" and struct.unpack_from(">HH", buf, body + 24) == coded:
                struct.pack_into(">HH", buf, body + 24, *size)
                found.add(kind)
                walk(body + 78, pos + n)  # the visual sample entry's fields, then its boxes
            elif kind == b"esds":
                _patch_esds(buf, body + 4, pos + n, coded, size)
                found.add(kind)
    walk(8, len(buf))
    if found != {b"tkhd", b"mp4v", b"esds"}:
        raise ValueError(f"size fields not found ({b', '.join(sorted(found)).decode() or 'none'})")
    return [(base + i, buf[i:i + 1]) for i in range(len(buf)) if buf[i] != old[i]]


def _boxes(src, start: int, end: int):
    """ISO BMFF boxes in ``src`` (a buffer or a binary file) between start and end: kind, pos, header, size."""
    pos = start
    while pos + 8 <= end:
        if isinstance(src, (bytes, bytearray)):
            head = bytes(src[pos:pos + 16])
        else:
            src.seek(pos)
            head = src.read(16)
        n, kind = struct.unpack_from(">I4s", head)
        header = 8
        if n == 1:
            n, header = struct.unpack_from(">Q", head, 8)[0], 16
        elif n == 0:
            n = end - pos
        if n < header or pos + n > end:
            raise ValueError(f"damaged {kind!r} box")
        yield kind, pos, header, n
        pos += n


def _patch_esds(buf: bytearray, start: int, end: int, coded, size) -> None:
    """ES_Descriptor > DecoderConfigDescriptor > DecoderSpecificInfo, which holds the VOL header."""
    def descriptors(pos: int, stop: int):
        while pos + 2 <= stop:
            tag, pos, length = buf[pos], pos + 1, 0
            for _ in range(4):
                length, pos = length << 7 | buf[pos] & 0x7F, pos + 1
                if not buf[pos - 1] & 0x80:
                    break
            yield tag, pos, min(pos + length, stop)
            pos += length

    for tag, body, stop in descriptors(start, end):
        if tag != 0x03:
            continue
        flags = buf[body + 2]
        body += 3 + (2 if flags & 0x80 else 0) + (2 if flags & 0x20 else 0)
        if flags & 0x40:
            body += 1 + buf[body]
        for tag4, body4, stop4 in descriptors(body, stop):
            if tag4 != 0x04:
                continue
            for tag5, body5, stop5 in descriptors(body4 + 13, stop4):
                if tag5 == 0x05:
                    _patch_vol(buf, body5, stop5, coded, size)
                    return
    raise ValueError("no decoder information in esds")


def _patch_vol(buf: bytearray, start: int, end: int, coded, size) -> None:
    """The width and height fields of an MPEG-4 Part 2 video object layer header (ISO 14496-2 6.2.3)."""
    i = start
    while not (buf[i:i + 3] == b"\0\0\1" and 0x20 <= buf[i + 3] <= 0x2F):
        i += 1
        if i + 4 > end:
            raise ValueError("no VOL header")
    bits = _Bits(buf, i + 4)
    bits.skip(1 + 8)  # random_accessible_vol, video_object_type_indication
    verid = 1
    if bits.read(1):  # is_object_layer_identifier
        verid = bits.read(4)
        bits.skip(3)
    if bits.read(4) == 0xF:  # aspect_ratio_info: extended PAR
        bits.skip(16)
    if bits.read(1):  # vol_control_parameters
        bits.skip(3)
        if bits.read(1):  # vbv_parameters
            bits.skip(79)
    shape = bits.read(2)
    if shape == 3 and verid != 1:
        bits.skip(4)
    bits.skip(1)
    resolution = bits.read(16)
    bits.skip(1)
    if bits.read(1):  # fixed_vop_rate
        bits.skip(max(1, (resolution - 1).bit_length()))
    if shape != 0:
        raise ValueError("not a rectangular VOL")
    bits.skip(1)
    at = bits.pos
    width = bits.read(13)
    bits.skip(1)
    if (width, bits.read(13)) != coded:
        raise ValueError("VOL size does not match")
    bits.pos = at
    bits.write(13, size[0])
    bits.skip(1)
    bits.write(13, size[1])


class _Bits:
    """Big-endian bit reader and writer over a bytearray."""

    def __init__(self, buf: bytearray, byte: int):
        self.buf, self.pos = buf, byte * 8

    def skip(self, n: int) -> None:
        self.pos += n

    def read(self, n: int) -> int:
        value = 0
        for _ in range(n):
            value = value << 1 | self.buf[self.pos >> 3] >> (7 - (self.pos & 7)) & 1
            self.pos += 1
        return value

    def write(self, n: int, value: int) -> None:
        for i in reversed(range(n)):
            mask = 0x80 >> (self.pos & 7)
            if value >> i & 1:
                self.buf[self.pos >> 3] |= mask
            else:
                self.buf[self.pos >> 3] &= ~mask & 0xFF
            self.pos += 1


_EBML_SEGMENT, _EBML_CLUSTER, _EBML_TRACKS = 0x18538067, 0x1F43B675, 0x1654AE6B
_EBML_PARENTS = {_EBML_SEGMENT, _EBML_CLUSTER, _EBML_TRACKS, 0xAE, 0xE0, 0xA0}  # + TrackEntry, Video, BlockGroup
_EBML_SIZES = {0xB0: 0, 0xBA: 1, 0x54B0: 0, 0x54BA: 1}  # PixelWidth, PixelHeight, DisplayWidth, DisplayHeight


def _webm_size_patches(f, coded: tuple[int, int], size: tuple[int, int]) -> list[tuple[int, bytes]]:
    """.webm with VP8 video: the track's pixel size and every key frame's header."""
    f.seek(0, os.SEEK_END)
    patches: list[tuple[int, bytes]] = []
    keyframes = 0

    def walk(start: int, end: int) -> None:
        nonlocal keyframes
        pos = start
        while pos < end:
            f.seek(pos)
            head = f.read(12)
            eid, id_len = _vint(head, 0, keep_marker=True)
            n, size_len = _vint(head, id_len)
            body = pos + id_len + size_len
            if n == (1 << 7 * size_len) - 1:  # unknown size: runs to the end of its parent
                n = end - body
            if eid in _EBML_PARENTS:
                walk(body, min(body + n, end))
            elif eid in _EBML_SIZES:
                f.seek(body)
                value = int.from_bytes(f.read(n), "big")
                axis = _EBML_SIZES[eid]
                if value == coded[axis]:
                    patches.append((body, size[axis].to_bytes(n, "big")))
            elif eid in (0xA3, 0xA1):  # SimpleBlock, Block: track, timecode, flags, then one VP8 frame
                f.seek(body)
                block = f.read(min(n, 32))
                track_len = _vint(block, 0)[1]
                frame = track_len + 3
                no_lacing = not block[track_len + 2] & 0x06
                if no_lacing and len(block) >= frame + 10 and not block[frame] & 1 \
                        and block[frame + 3:frame + 6] == b"\x9d\x01\x2a":
                    old = struct.unpack_from("<HH", block, frame + 6)
                    if (old[0] & 0x3FFF, old[1] & 0x3FFF) != coded:
                        raise ValueError("key frame size does not match")
                    new = (old[0] & 0xC000 | size[0], old[1] & 0xC000 | size[1])
                    patches.append((body + frame + 6, struct.pack("<HH", *new)))
                    keyframes += 1
            pos = body + n

    walk(0, f.tell())
    if keyframes == 0 or len(patches) == keyframes:
        raise ValueError("size fields not found")
    return patches


def _vint(buf: bytes, pos: int, keep_marker: bool = False) -> tuple[int, int]:
    """An EBML variable-length integer at ``pos``: (value, length in bytes)."""
    first = buf[pos]
    if first == 0:
        raise ValueError("damaged EBML element")
    length = 9 - first.bit_length()
    value = int.from_bytes(buf[pos:pos + length], "big")
    return (value if keep_marker else value & ((1 << 7 * length) - 1)), length
