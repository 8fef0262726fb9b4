"""A model is data with a contract: the ONNX file plus a typed JSON spec beside it.

Training writes the spec; the runtime only reads it, and refuses a file whose sha256 differs.
Preprocessing is never guessed from graph shapes.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..jsonfile import JsonFileError, read_json


TASKS = ("lip-segmentation", "face-detection")
MAX_INPUT_SIDE = 4096  # pixels; the shipped networks take 128x96 and 480x480
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ModelError(RuntimeError):
    """A model file or spec is missing, corrupt or does not match."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: str  # "lip-segmentation" or "face-detection"
    input_width: int
    input_height: int
    color_order: str  # "BGR" or "RGB"
    layout: str  # "NCHW"
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    classes: tuple[str, ...]
    threshold: float
    sha256: str
    onnx_file: str
    data: str = ""
    license: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "ModelSpec":
        """A spec from parsed JSON, every field checked; ModelError names the first bad one.

        The spec is not covered by the ONNX hash, so a hand-edited one (``input_width: 0``) must fail
        here, in one line, and not as a traceback in the middle of a frame.
        """
        names = {f.name for f in fields(cls)}
        required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
        missing = [n for n in required if n not in raw]
        if missing:
            raise ModelError(f"missing {', '.join(missing)}")
        kwargs = {k: v for k, v in raw.items() if k in names}
        _check_spec_fields(kwargs)
        for key in ("mean", "std", "classes"):
            kwargs[key] = tuple(kwargs[key])
        return cls(**kwargs)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_spec_fields(raw: dict[str, Any]) -> None:
    """Raise ModelError for the first field of a spec (as parsed JSON) that the runtime cannot use."""
    def bad(key: str, want: str) -> ModelError:
        shown = json.dumps(raw[key], ensure_ascii=True, default=repr)  # as the file spells it: null, true
        return ModelError(f"{key} must be {want}, not {shown if len(shown) <= 40 else shown[:37] + '...'}")

    for key in ("name", "onnx_file"):
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise bad(key, "a non-empty string")
    if raw["task"] not in TASKS:
        raise bad("task", " or ".join(TASKS))
    for key in ("input_width", "input_height"):
        value = raw[key]
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_INPUT_SIDE:
            raise bad(key, f"a whole number from 1 to {MAX_INPUT_SIDE}")
    if raw["color_order"] not in ("BGR", "RGB"):
        raise bad("color_order", "BGR or RGB")
    if raw["layout"] not in ("NCHW", "NHWC"):
        raise bad("layout", "NCHW or NHWC")
    for key in ("mean", "std"):
        value = raw[key]
        if not isinstance(value, list | tuple) or len(value) != 3 or not all(_is_number(v) for v in value):
            raise bad(key, "3 finite numbers, one per channel")
    if not all(v > 0 for v in raw["std"]):
        raise bad("std", "3 positive numbers")
    classes = raw["classes"]
    if (not isinstance(classes, list | tuple) or len(classes) < 2
            or not all(isinstance(c, str) and c for c in classes) or len(set(classes)) != len(classes)):
        raise bad("classes", "2 or more different class names")
    if not _is_number(raw["threshold"]) or not 0 <= raw["threshold"] <= 1:
        raise bad("threshold", "a number from 0 to 1")
    if not isinstance(raw["sha256"], str) or not _SHA256.fullmatch(raw["sha256"]):
        raise bad("sha256", "64 lower-case hex digits")
    name = raw["onnx_file"]
    if Path(name).name != name or name in (".", "..") or "\\" in name:
        raise bad("onnx_file", "a file name beside the spec")
    for key in ("data", "license"):
        if key in raw and not isinstance(raw[key], str):
            raise bad(key, "a string")
    for key in ("metrics", "extra"):
        if key in raw and not isinstance(raw[key], dict):
            raise bad(key, "an object")
    fraction = raw.get("extra", {}).get("mouth_width_fraction", 0.6)
    if not _is_number(fraction) or not 0 < fraction <= 1:
        raise ModelError("extra.mouth_width_fraction must be a number above 0 and at most 1, "
                         f"not {json.dumps(fraction, ensure_ascii=True, default=repr)[:40]}")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_spec(spec_path: Path) -> tuple[ModelSpec, Path]:
    """Read and check a spec and verify its ONNX file's hash; returns (spec, onnx path). Raises ModelError."""
    try:
        raw = read_json(Path(spec_path))
    except JsonFileError as exc:
        raise ModelError(f"cannot read model spec {spec_path}: {exc}") from None
    except OSError as exc:
        raise ModelError(f"cannot read model spec {spec_path}: {exc.strerror or exc}") from None
    if not isinstance(raw, dict):
        raise ModelError(f"model spec {spec_path} is not a JSON object")
    try:
        spec = ModelSpec.from_dict(raw)
    except ModelError as exc:
        raise ModelError(f"model spec {spec_path} is invalid: {exc}") from None
    onnx_path = Path(spec_path).parent / spec.onnx_file
    if not onnx_path.is_file():
        raise ModelError(f"model file {onnx_path} is missing")
    actual = sha256_of(onnx_path)
    if actual != spec.sha256:
        raise ModelError(f"model file {onnx_path.name} does not match its spec (sha256 {actual[:12]}… != {spec.sha256[:12]}…)")
    return spec, onnx_path


def write_spec(spec: ModelSpec, spec_path: Path) -> None:
    tmp = Path(spec_path).with_suffix(".json.tmp")
    tmp.write_text(spec.to_json(), encoding="utf-8")
    tmp.replace(spec_path)
