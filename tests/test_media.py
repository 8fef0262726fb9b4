import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from vcam_lipstick import media
from vcam_lipstick.media import (MediaError, VideoWriter, check_image_size, check_output, open_video, read_image,
                                 write_image)


def write(path, data):
    path.write_bytes(data)
    return path


def test_bad_images_give_one_line_errors(tmp_path):
    ok, jpg = cv2.imencode(".jpg", np.full((64, 64, 3), 128, np.uint8))
    cases = {
        "empty.jpg": b"",
        "truncated.jpg": jpg.tobytes()[: len(jpg) // 2],
        "text.png": b"this is not an image at all",
    }
    for name, data in cases.items():
        with pytest.raises(MediaError) as err:
            read_image(write(tmp_path / name, data))
        assert "\n" not in str(err.value) and name in str(err.value)
    with pytest.raises(MediaError, match="folder"):
        read_image(tmp_path)
    with pytest.raises(MediaError, match="cannot read"):
        read_image(tmp_path / "missing.png")


def test_unusual_pixel_formats_become_bgr8(tmp_path):
    gray = np.full((20, 30), 200, np.uint8)
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 2] = 255
    deep = np.full((20, 30, 3), 40000, np.uint16)
    for name, img in {"g.png": gray, "a.png": rgba, "d.png": deep, "one.png": np.zeros((1, 1, 3), np.uint8)}.items():
        cv2.imwrite(str(tmp_path / name), img)
        out = read_image(tmp_path / name)
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    assert read_image(tmp_path / "a.png")[0, 0].tolist() == [0, 0, 255]
    assert read_image(tmp_path / "d.png")[0, 0, 0] == 40000 >> 8


def test_output_never_overwrites_the_input(tmp_path):
    src = tmp_path / "in.jpg"
    src.write_bytes(b"x")
    with pytest.raises(MediaError, match="same file"):
        check_output(tmp_path / "." / "in.jpg", [src])


def test_failed_video_leaves_no_partial_file(tmp_path):
    path = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(path, 64, 48, 30.0) as w:
            w.write(np.zeros((48, 64, 3), np.uint8))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_unsupported_container_and_non_video(tmp_path):
    with pytest.raises(MediaError, match="unsupported video container"):
        VideoWriter(tmp_path / "x.gif", 64, 48, 30)
    with pytest.raises(MediaError, match="not a video"):
        open_video(write(tmp_path / "fake.mp4", b"nope" * 100))


# Videos the writer and reader must survive: one frame, an odd size, a file cut short.

def write_clip(path, n, width=64, height=48, fps=25.0):
    """``n`` distinct grey frames (brightness i * 4), with a white last column and last row."""
    frames = []
    with VideoWriter(path, width, height, fps) as w:
        for i in range(n):
            frame = np.full((height, width, 3), i * 4, np.uint8)
            frame[:, -1] = 255
            frame[-1, :] = 255
            frames.append(frame)
            w.write(frame.copy())
    return frames


def read_all(path):
    cap, info = open_video(path)
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return info, frames


@pytest.mark.parametrize("ext", [".mp4", ".avi", ".webm"])
def test_a_one_frame_video_reads_its_frame(tmp_path, ext):
    write_clip(tmp_path / f"one{ext}", 1)
    info, frames = read_all(tmp_path / f"one{ext}")
    assert len(frames) == 1 and info.frames == 1
    assert frames[0].shape == (48, 64, 3)


@pytest.mark.parametrize("ext", [".mp4", ".mov", ".webm", ".avi"])
@pytest.mark.parametrize("size", [(65, 49), (64, 49), (65, 48)])
def test_odd_sized_video_keeps_its_size_and_edge_pixels(tmp_path, ext, size):
    # 30 frames span three key frames (OpenCV's FFmpeg writer starts one every 12): each must keep the size.
    written = write_clip(tmp_path / f"odd{ext}", 30, *size)
    info, frames = read_all(tmp_path / f"odd{ext}")
    assert (info.width, info.height, len(frames)) == (*size, 30)
    assert {f.shape for f in frames} == {(size[1], size[0], 3)}
    last = frames[-1].astype(int)
    assert np.abs(last - written[-1]).mean() < 4
    assert last[size[1] // 2, -1].min() > 200 and last[-1, size[0] // 2].min() > 200  # the white edges survived
    assert last[size[1] // 2, size[0] // 2].max() < 130
    assert [p.name for p in tmp_path.iterdir()] == [f"odd{ext}"]


def test_odd_size_that_cannot_be_stated_keeps_the_padded_video_and_says_so(tmp_path, monkeypatch, caplog):
    def unknown_layout(f, coded, size):
        raise ValueError("size fields not found")

    monkeypatch.setattr(media, "_mp4_size_patches", unknown_layout)
    write_clip(tmp_path / "odd.mp4", 3, 65, 49)
    info, frames = read_all(tmp_path / "odd.mp4")
    assert (info.width, info.height, len(frames)) == (66, 50, 3)
    assert "kept the size as 66x50" in caplog.text


def test_interrupted_image_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    def interrupted(self, target):
        raise KeyboardInterrupt

    monkeypatch.setattr(type(tmp_path), "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_image(tmp_path / "out.png", np.zeros((8, 8, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


# Images whose header claims a huge size: refused from the header, before any decoding.

def png_claiming(width, height):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def jpeg_claiming(width, height):
    data = bytearray(cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes())
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def webp_claiming(width, height):
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "WEBP", lossless=True)
    data = bytearray(buf.getvalue())
    assert data[12:16] == b"VP8L" and data[20] == 0x2F
    bits = struct.unpack_from("<I", data, 21)[0] & ~((1 << 28) - 1)
    struct.pack_into("<I", data, 21, bits | (width - 1) | (height - 1) << 14)
    return bytes(data)


def bmp_claiming(width, height):
    data = bytearray(cv2.imencode(".bmp", np.zeros((8, 8, 3), np.uint8))[1].tobytes())
    struct.pack_into("<ii", data, 18, width, height)
    return bytes(data)


def tiff_claiming(width, height):
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "TIFF")
    data = bytearray(buf.getvalue())
    assert data[:4] == b"II*\0"
    ifd = struct.unpack_from("<I", data, 4)[0]
    for i in range(struct.unpack_from("<H", data, ifd)[0]):
        entry = ifd + 2 + 12 * i
        tag, kind = struct.unpack_from("<HH", data, entry)
        if tag in (256, 257):  # ImageWidth, ImageLength
            struct.pack_into("<I" if kind == 4 else "<H", data, entry + 8, width if tag == 256 else height)
    return bytes(data)


@pytest.fixture
def no_decoding(monkeypatch):
    def decode(*args, **kwargs):
        raise AssertionError("the image was decoded")

    monkeypatch.setattr(media.cv2, "imdecode", decode)


@pytest.mark.parametrize("name, make, size", [
    ("huge.png", png_claiming, (20000, 20000)),
    ("wide.png", png_claiming, (12000, 12000)),
    ("huge.jpg", jpeg_claiming, (20000, 20000)),
    ("huge.webp", webp_claiming, (16384, 16384)),
    ("huge.bmp", bmp_claiming, (20000, 20000)),
    ("huge.tif", tiff_claiming, (20000, 20000)),
])
def test_huge_images_are_refused_from_the_header(tmp_path, no_decoding, name, make, size):
    path = write(tmp_path / name, make(*size))
    with pytest.raises(MediaError, match="image too large") as err:
        read_image(path)
    assert name in str(err.value) and "megapixels" in str(err.value) and "\n" not in str(err.value)


def test_size_limit_reads_the_header(tmp_path):
    path = tmp_path / "small.png"
    cv2.imwrite(str(path), np.zeros((40, 50, 3), np.uint8))
    assert check_image_size(path, max_pixels=2000) == (50, 40)
    with pytest.raises(MediaError, match=r"50x40"):
        check_image_size(path, max_pixels=1999)
    assert check_image_size(write(tmp_path / "junk.png", b"not an image")) is None  # OpenCV decides


def test_a_relative_name_with_a_colon_is_a_local_file_not_an_ffmpeg_protocol(tmp_path, monkeypatch):
    # FFmpeg reads "file:..." (or "http:...") as a protocol: the video went elsewhere, then the rename failed
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file:clips").mkdir()
    name = Path("file:clips") / "take.mp4"
    frame = np.full((48, 64, 3), 90, np.uint8)
    with VideoWriter(name, 64, 48, 10.0) as writer:
        for _ in range(3):
            writer.write(frame)
    assert (tmp_path / "file:clips" / "take.mp4").is_file()
    cap, info = open_video(name)
    ok, first = cap.read()
    cap.release()
    assert ok and first.shape == (48, 64, 3) and (info.width, info.height) == (64, 48)


def test_a_video_the_writer_could_not_produce_is_one_clear_error(tmp_path):
    writer = VideoWriter(tmp_path / "out.mp4", 64, 48, 10.0)
    writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.writer.release()
    writer.tmp.unlink()  # as if the disk filled up or the folder vanished under the writer
    with pytest.raises(MediaError, match="out.mp4: the video could not be written"):
        writer.close()
    assert list(tmp_path.iterdir()) == []
