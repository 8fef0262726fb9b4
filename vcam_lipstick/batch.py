"""Files in, files out: `segment` (label maps) and `process` (lipstick on photos and videos)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from .media import IMAGE_EXTS, VIDEO_EXTS, MediaError, VideoWriter, check_output, open_video, read_image, write_image
from .pipeline import LipstickPipeline, View
from .processing.mask import labels_of

log = logging.getLogger(__name__)


@dataclass
class BatchResult:
    done: int = 0
    failed: int = 0


def segment_files(tracker, inputs: list[Path], out_dir: Path, report=print) -> BatchResult:
    """Write ``out_dir/<stem>.png`` label maps (0 bg, 1 upper, 2 lower, 3 inner), one image at a time."""
    result = BatchResult()
    check_output(out_dir / "x.png", inputs)
    for path in inputs:
        try:
            image = read_image(path)
            labels = labels_of(tracker.segment_image(image), image.shape)
            target = out_dir / f"{Path(path).stem}.png"
            check_output(target, inputs)
            write_image(target, labels)
            result.done += 1
        except MediaError as exc:
            report(f"error: {exc}")
            result.failed += 1
    return result


def output_path_for(src: Path, output: Path, many: bool) -> Path:
    """With several inputs (or an existing folder), OUTPUT is a folder: OUTPUT/<name>."""
    if many or output.is_dir():
        return output / src.name
    return output


def process_files(pipeline: LipstickPipeline, inputs: list[Path], output: Path, view: View, report=print,
                  progress: bool = True) -> BatchResult:
    result = BatchResult()
    many = len(inputs) > 1
    if many:
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MediaError(f"{output}: cannot create output folder ({exc.strerror or exc})") from None
    for src in inputs:
        target = output_path_for(Path(src), output, many)
        try:
            check_output(target, inputs)
            kind = Path(src).suffix.lower()
            if kind in VIDEO_EXTS:
                if target.suffix.lower() not in VIDEO_EXTS:
                    raise MediaError(f"{target}: a video needs a video output (.mp4, .webm, .avi, .mov)")
                process_video(pipeline, Path(src), target, view, progress)
            else:
                if target.suffix.lower() not in IMAGE_EXTS:
                    raise MediaError(f"{target}: an image needs an image output (.jpg, .png, ...)")
                image = read_image(Path(src))
                write_image(target, pipeline.apply(image, view, still=True))
                if not pipeline.last_masks and view.enabled:
                    report(f"note: no lips found in {src}; written unchanged")
            result.done += 1
            report(f"wrote {target}")
        except MediaError as exc:
            report(f"error: {exc}")
            result.failed += 1
    return result


def process_video(pipeline: LipstickPipeline, src: Path, target: Path, view: View, progress: bool = True) -> int:
    """Same frame count, size and fps out as in; the tracker carries over between frames."""
    cap, info = open_video(src)
    if pipeline.tracker is not None:
        pipeline.tracker.reset()
    try:
        with VideoWriter(target, info.width, info.height, info.fps) as writer:
            bar = tqdm(total=info.frames or None, desc=src.name, unit="frame", disable=not progress, leave=False)
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                writer.write(pipeline.apply(frame, view))
                bar.update(1)
            bar.close()
            if writer.frames == 0:
                raise MediaError(f"{src}: no frames could be decoded")
            return writer.frames
    finally:
        cap.release()
