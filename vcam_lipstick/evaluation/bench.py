"""Per-stage timing of the perception path, side by side with the original study's recipe."""

from __future__ import annotations

import statistics
from pathlib import Path

import cv2
import numpy as np

from ..media import MediaError, open_video


def bench_frames(video: Path | None, size: tuple[int, int], count: int) -> list[np.ndarray]:
    """Up to ``count`` frames at ``size``: from a video, or from the built-in demo source."""
    frames = []
    if video is not None:
        cap, _ = open_video(video)
        try:
            while len(frames) < count:
                ok, frame = cap.read()
                if not ok:
                    break
                frames.append(cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR))
        finally:
            cap.release()
        if len(frames) < 2:  # the first acquires the face; tracking is timed from the second
            raise MediaError(f"{video}: {len(frames)} frame(s); the benchmark needs a video of at least 2")
    else:
        from ..devices.sources import DemoSource

        with DemoSource(size[0], size[1]) as source:
            frames = [source.read().copy() for _ in range(count)]
    return frames


def _median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def run_bench(tracker, frames: list[np.ndarray], baselines=(), acquisitions: int = 15) -> dict:
    """Median milliseconds per stage while tracking, of full acquisitions, and of the baseline."""
    tracker.reset()
    stages = {"acquire": [], "track": [], "infer": [], "paste": [], "total": []}
    found = 0
    for frame in frames:
        masks = tracker.process(frame)
        found += bool(masks)
        t = tracker.times
        if not t.acquired:
            for key in ("track", "infer", "paste"):
                stages[key].append(getattr(t, key) * 1000)
            stages["total"].append(t.total * 1000)
    acquire = []
    for frame in frames[:: max(1, len(frames) // acquisitions)][:acquisitions]:
        tracker.reset()  # the live path's acquisition: detector + two lip passes + paste
        tracker.process(frame)
        acquire.append(tracker.times.total * 1000)
        stages["acquire"].append(tracker.times.acquire * 1000)
    result = {
        "frames": len(frames),
        "size": f"{frames[0].shape[1]}x{frames[0].shape[0]}",
        "frames_with_lips": found,
        "tracking_frames": len(stages["total"]),
        "ms_per_frame": _median(stages["total"]),
        "ms_per_frame_p90": float(np.percentile(stages["total"], 90)) if stages["total"] else float("nan"),
        "track_ms": _median(stages["track"]),
        "infer_ms": _median(stages["infer"]),
        "paste_ms": _median(stages["paste"]),
        "detector_ms": _median(stages["acquire"]),
        "acquire_ms": _median(acquire),
    }
    result["fps"] = 1000.0 / result["ms_per_frame"] if result["ms_per_frame"] > 0 else float("nan")
    for baseline in baselines:
        times = [baseline.process(f)[1] for f in frames[: min(len(frames), 20)]]
        if baseline.architecture == "vgg11-unet":
            result["baseline"] = "study recipe: face -> 256x256 -> VGG11-UNet (onnxruntime, same threads)"
            result["baseline_ms_per_frame"] = _median(times)
            result["speedup"] = result["baseline_ms_per_frame"] / result["ms_per_frame"]
        else:
            result["scratch_unet_ms_per_frame"] = _median(times)
    return result
