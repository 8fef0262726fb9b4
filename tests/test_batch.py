"""Batch `process` and `segment`: odd files and odd batches end in a written file and one line, never a lost one."""

import os
import re
import struct
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest
from test_media import read_all, write_clip

from vcam_lipstick.batch import process_files, segment_files, unique_targets
from vcam_lipstick.pipeline import LipstickPipeline, View
from vcam_lipstick.processing.shades import Look, ShadeBook


@pytest.fixture
def passthrough():
    """A pipeline without a model: frames pass through, so outputs can be compared with inputs."""
    return LipstickPipeline(None)


@pytest.fixture
def view():
    shade = ShadeBook.load(None).get("Classic Red")
    return View(Look(shade, shade.finish, 0.85, False))


def run_batch(pipeline, inputs, output, view):
    lines = []
    result = process_files(pipeline, inputs, output, view, report=lines.append, progress=False)
    return result, lines


def test_one_frame_video_is_processed(tmp_path, passthrough, view):
    write_clip(tmp_path / "one.mp4", 1)
    result, lines = run_batch(passthrough, [tmp_path / "one.mp4"], tmp_path / "out.mp4", view)
    assert (result.done, result.failed) == (1, 0), lines
    info, frames = read_all(tmp_path / "out.mp4")
    assert len(frames) == 1 and frames[0].shape == (48, 64, 3)


def test_odd_sized_video_comes_out_the_same_size(tmp_path, passthrough, view):
    write_clip(tmp_path / "odd.avi", 5, 1279, 719)
    result, lines = run_batch(passthrough, [tmp_path / "odd.avi"], tmp_path / "out.mp4", view)
    assert result.done == 1, lines
    info, frames = read_all(tmp_path / "out.mp4")
    assert (info.width, info.height, len(frames)) == (1279, 719, 5)


def test_a_cut_video_is_written_as_far_as_it_decodes_with_one_warning(tmp_path, passthrough, view):
    write_clip(tmp_path / "full.mp4", 30)
    data = move_index_to_front((tmp_path / "full.mp4").read_bytes())
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) * 2 // 3])
    decodable = len(read_all(tmp_path / "cut.mp4")[1])
    assert 0 < decodable < 30

    result, lines = run_batch(passthrough, [tmp_path / "cut.mp4"], tmp_path / "out.mp4", view)
    warnings = [line for line in lines if line.startswith("warning:")]
    assert len(warnings) == 1 and f"only {decodable} of its 30 frames" in warnings[0]
    assert result.done == 1 and len(read_all(tmp_path / "out.mp4")[1]) == decodable

    result, lines = run_batch(passthrough, [tmp_path / "full.mp4"], tmp_path / "whole.mp4", view)
    assert result.done == 1 and not [line for line in lines if line.startswith("warning:")]


def test_same_named_inputs_get_their_own_outputs(tmp_path, passthrough, view):
    for folder, value in (("a", 40), ("b", 200)):
        (tmp_path / folder).mkdir()
        cv2.imwrite(str(tmp_path / folder / "face.png"), np.full((16, 16, 3), value, np.uint8))
    inputs = [tmp_path / "a" / "face.png", tmp_path / "b" / "face.png"]
    result, lines = run_batch(passthrough, inputs, tmp_path / "out", view)
    assert result.done == 2
    assert cv2.imread(str(tmp_path / "out" / "face.png"))[0, 0, 0] == 40
    assert cv2.imread(str(tmp_path / "out" / "face-2.png"))[0, 0, 0] == 200
    assert any("b/face.png" in line and "face-2.png" in line for line in lines if line.startswith("note:"))


def test_segment_names_do_not_collide(tmp_path):
    class NoLips:
        def segment_image(self, image):
            return []

    for name in ("x.jpg", "x.png"):
        cv2.imwrite(str(tmp_path / name), np.zeros((8, 12, 3), np.uint8))
    lines = []
    result = segment_files(NoLips(), [tmp_path / "x.jpg", tmp_path / "x.png"], tmp_path / "d", report=lines.append)
    assert result.done == 2
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["x-2.png", "x.png"]
    assert len(lines) == 1 and "x.png" in lines[0] and "x-2.png" in lines[0]


def test_unique_names_are_deterministic(tmp_path):
    names = [name for _, name in unique_targets(
        [tmp_path / "a" / "face.jpg", tmp_path / "b" / "Face.jpg", tmp_path / "c" / "face-2.jpg",
         tmp_path / "a" / "face.jpg", tmp_path / "d" / "face.jpg"], lambda p: p.name)]
    # case-blind (macOS, Windows); a natural name is never taken by a renamed one; a repeated input runs once
    assert names == ["face.jpg", "Face-3.jpg", "face-2.jpg", "face-4.jpg"]


SIGTERM_DURING_PROCESS = """
    import os, signal, sys
    import vcam_lipstick.model.bundle as bundle
    from vcam_lipstick.cli import main
    from vcam_lipstick.pipeline import LipstickPipeline

    bundle.load_tracker = lambda **kwargs: None  # no model needed: frames pass through
    apply = LipstickPipeline.apply
    seen = []

    def apply_then_terminate(self, frame, view, still=False):
        seen.append(1)
        if len(seen) == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # as a service manager or `kill` would
        return apply(self, frame, view, still)

    LipstickPipeline.apply = apply_then_terminate
    sys.exit(main(sys.argv[1:]))
"""


def test_sigterm_during_process_leaves_no_partial_file(tmp_path):
    write_clip(tmp_path / "in.mp4", 20)
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(SIGTERM_DURING_PROCESS), "process",
                          str(tmp_path / "in.mp4"), "-o", str(tmp_path / "out.mp4")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 130, run.stderr  # killed outright it would be -15
    lines = [line for line in re.split(r"[\r\n]", run.stderr) if line.strip()]  # \r: the progress bar
    assert lines[-1] == "interrupted" and "Traceback" not in run.stderr
    assert os.listdir(tmp_path) == ["in.mp4"]  # neither out.mp4 nor .out.partial.mp4


def move_index_to_front(data: bytes) -> bytes:
    """An mp4 with its moov box before mdat (as `-movflags faststart` writes, so a cut file still opens)."""
    boxes, pos = [], 0
    while pos < len(data):
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        boxes.append((kind, data[pos:pos + size]))
        pos += size
    moov = bytearray(dict(boxes)[b"moov"])
    shift = len(moov)

    def shift_chunk_offsets(start, end):
        pos = start
        while pos < end:
            size, kind = struct.unpack(">I4s", moov[pos:pos + 8])
            if kind in (b"trak", b"mdia", b"minf", b"stbl"):
                shift_chunk_offsets(pos + 8, pos + size)
            elif kind == b"stco":
                count = struct.unpack(">I", moov[pos + 12:pos + 16])[0]
                for at in range(pos + 16, pos + 16 + 4 * count, 4):
                    struct.pack_into(">I", moov, at, struct.unpack_from(">I", moov, at)[0] + shift)
            pos += size

    shift_chunk_offsets(8, len(moov))
    out = b""
    for kind, box in boxes:
        if kind == b"mdat":
            out += bytes(moov)
        if kind != b"moov":
            out += box
    return out


