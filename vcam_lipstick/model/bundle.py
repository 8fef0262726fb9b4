"""The models shipped as package data, and the one function that builds perception from them."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .detector import FaceDetector
from .segmenter import LipSegmenter
from .spec import ModelSpec, load_spec
from .tracker import LipTracker, TrackerOptions

LIPS_SPEC = "lips.json"
DETECTOR_SPEC = "face_detector.json"


def models_dir() -> Path:
    return Path(str(resources.files("vcam_lipstick").joinpath("models")))


def shipped_spec(filename: str, directory: Path | None = None) -> tuple[ModelSpec, Path]:
    """Load and verify a spec (and its ONNX hash) from the package's models folder."""
    return load_spec((directory or models_dir()) / filename)


def load_tracker(threads: int = 1, all_faces: bool = False, directory: Path | None = None) -> LipTracker:
    """Detector + lip segmenter + tracker from the shipped (or given) models. Raises ModelError."""
    det_spec, det_path = shipped_spec(DETECTOR_SPEC, directory)
    lip_spec, lip_path = shipped_spec(LIPS_SPEC, directory)
    return LipTracker(FaceDetector(det_spec, det_path, threads), LipSegmenter(lip_spec, lip_path, threads),
                      TrackerOptions(all_faces=all_faces))
