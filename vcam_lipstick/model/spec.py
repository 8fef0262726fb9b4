"""A model is data with a contract: the ONNX file plus a typed JSON spec beside it.

Training writes the spec; the runtime only reads it, and refuses a file whose sha256 differs.
Preprocessing is never guessed from graph shapes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any


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
        names = {f.name for f in fields(cls)}
        required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
        missing = [n for n in required if n not in raw]
        if missing:
            raise ModelError(f"model spec lacks {', '.join(missing)}")
        kwargs = {k: v for k, v in raw.items() if k in names}
        for key in ("mean", "std", "classes"):
            kwargs[key] = tuple(kwargs[key])
        return cls(**kwargs)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_spec(spec_path: Path) -> tuple[ModelSpec, Path]:
    """Read a spec and verify its ONNX file's hash; returns (spec, onnx path). Raises ModelError."""
    try:
        raw = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read model spec {spec_path}: {exc}") from None
    if not isinstance(raw, dict):
        raise ModelError(f"model spec {spec_path} is not a JSON object")
    try:
        spec = ModelSpec.from_dict(raw)
    except (TypeError, KeyError) as exc:
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
