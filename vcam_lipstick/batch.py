"""Files in, files out: `segment` (label maps) and `process` (lipstick on photos and videos)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from .media import (IMAGE_EXTS, VIDEO_EXTS, MediaError, VideoWriter, check_output, open_video, read_image, resolved,
                    write_image)
from .pipeline import LipstickPipeline, View
from .processing.mask import labels_of

log = logging.getLogger(__name__)


@dataclass
class BatchResult:
    done: int = 0
    failed: int = 0


def unique_targets(inputs: list[Path], name_of, exists=lambda name: False) -> list[tuple[Path, str]]:
    """Each input with its own output name: a name another input took first gets -2, -3, ...

    ``name_of(path)`` is the natural output name. Names are compared case-blind (as macOS and
    Windows do) and the order of ``inputs`` decides, so the same command always writes the same
    names. An input named twice is processed once. A made-up name never lands on a file that
    ``exists(name)`` says is already there.
    """
    seen_inputs: set[Path] = set()
    taken = {name_of(Path(p)).casefold() for p in inputs}
    used: set[str] = set()
    out = []
    for src in inputs:
        src = Path(src)
        key = resolved(src)
        if key in seen_inputs:
            continue
        seen_inputs.add(key)
        name = name_of(src)
        if name.casefold() in used:
            stem, suffix = Path(name).stem, Path(name).suffix
            n = 2
            while f"{stem}-{n}{suffix}".casefold() in taken | used or exists(f"{stem}-{n}{suffix}"):
                n += 1
            name = f"{stem}-{n}{suffix}"
        used.add(name.casefold())
        out.append((src, name))
    return out


def segment_files(tracker, inputs: list[Path], out_dir: Path, report=print) -> BatchResult:
    """Write ``out_dir/<stem>.png`` label maps (0 bg, 1 upper, 2 lower, 3 inner), one image at a time.

    Inputs that share a stem (``x.jpg x.png``, ``a/x.jpg b/x.jpg``) get ``x-2.png`` and so on.
    """
    result = BatchResult()
    check_output(out_dir / "x.png", inputs)
    for path, name in unique_targets(inputs, lambda p: f"{p.stem}.png", lambda name: (out_dir / name).exists()):
        try:
            target = out_dir / name
            if name != f"{path.stem}.png":
                report(f"note: {path} -> {target} (another input has the same name)")
            image = read_image(path)
            labels = labels_of(tracker.segment_image(image), image.shape)
            check_output(target, inputs)
            write_image(target, labels)
            result.done += 1
        except MediaError as exc:
            report(f"error: {exc}")
            result.failed += 1
    return result


def process_files(pipeline: LipstickPipeline, inputs: list[Path], output: Path, view: View, report=print,
                  progress: bool = True) -> BatchResult:
    """Lipstick on each input; with several, OUTPUT is a folder, and inputs that share a name
    (``a/face.jpg b/face.jpg``) are written as ``face.jpg`` and ``face-2.jpg`` in input order."""
    result = BatchResult()
    many = len(inputs) > 1
    if many:
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MediaError(f"{output}: cannot create output folder ({exc.strerror or exc})") from None
    into_folder = many or output.is_dir()
    for src, name in unique_targets(inputs, lambda p: p.name, lambda name: into_folder and (output / name).exists()):
        target = output / name if into_folder else output
        if name != src.name:
            report(f"note: {src} -> {target} (another input has the same name)")
        try:
            check_output(target, inputs)
            kind = src.suffix.lower()
            if kind in VIDEO_EXTS:
                if target.suffix.lower() not in VIDEO_EXTS:
                    raise MediaError(f"{target}: a video needs a video output (.mp4, .webm, .avi, .mov)")
                process_video(pipeline, src, target, view, progress, report)
            else:
                if target.suffix.lower() not in IMAGE_EXTS:
                    raise MediaError(f"{target}: an image needs an image output (.jpg, .png, ...)")
                image = read_image(src)
                write_image(target, pipeline.apply(image, view, still=True))
                if not pipeline.last_masks and view.enabled:
                    report(f"note: no lips found in {src}; written unchanged")
            result.done += 1
            report(f"wrote {target}")
        except MediaError as exc:
            report(f"error: {exc}")
            result.failed += 1
    return result


def process_video(pipeline: LipstickPipeline, src: Path, target: Path, view: View, progress: bool = True,
                  report=print) -> int:
    """Same frame count, size and fps out as in; the tracker carries over between frames.

    A file that decodes fewer frames than its index claims (cut short) is written as far as it
    decodes, with one warning. Returns the number of frames written.
    """
    cap, info = open_video(src)
    if pipeline.tracker is not None:
        pipeline.tracker.reset()
    try:
        with VideoWriter(target, info.width, info.height, info.fps) as writer:
            with tqdm(total=info.frames or None, desc=src.name, unit="frame", disable=not progress,
                      leave=False) as bar:  # closed (and cleared) on Ctrl+C too
                while True:
                    ok, frame = cap.read()
                    if not ok:
                        break
                    writer.write(pipeline.apply(frame, view))
                    bar.update(1)
            if writer.frames == 0:
                raise MediaError(f"{src}: no frames could be decoded")
            if writer.frames < info.frames:
                report(f"warning: {src}: only {writer.frames} of its {info.frames} frames could be decoded "
                       f"(the file is cut short or damaged); wrote those {writer.frames}")
            return writer.frames
    finally:
        cap.release()
