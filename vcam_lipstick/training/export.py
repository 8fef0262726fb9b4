"""Export is a gate: torch -> ONNX -> onnx.checker -> onnxruntime vs torch allclose -> spec + sha256."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ..model.segmenter import LIP_CLASSES
from ..model.spec import ModelSpec, sha256_of, write_spec
from .checkpoint import load_trained
from .data import CropConfig

log = logging.getLogger(__name__)

LIPS_DATA = (
    "CelebAMask-HQ (4,665 faces with labelled lips, human-labelled) + Microsoft FaceSynthetics sample "
    "(89 synthetic faces), via ../shared/data/lips train split (4,767 faces; 13 without lips are skipped)"
)
LIPS_LICENSE = (
    "Weights: NON-COMMERCIAL RESEARCH ONLY. Trained on CelebAMask-HQ (non-commercial research/education only) "
    "and FaceSynthetics (Microsoft Research Use of Data Agreement: no commercial use of the data or of results). "
    "Encoder initialised from EfficientNet-Lite0 ImageNet weights (Apache-2.0)."
)


class ExportError(RuntimeError):
    pass


def export_onnx(model: torch.nn.Module, spec: ModelSpec, out_dir: Path, atol: float = 1e-3, opset: int = 17) -> Path:
    """Export ``model`` for ``spec``'s input size, verify it, and write ``<name>.onnx`` + ``<name>.json``.

    The spec's sha256 and onnx_file fields are filled in here. Raises ExportError when a gate fails.
    """
    import onnx
    import onnxruntime as ort

    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / f"{spec.name}.onnx"
    tmp_path = onnx_path.with_suffix(".onnx.tmp")
    model = model.eval()
    x = torch.randn(1, 3, spec.input_height, spec.input_width, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(x).numpy()
        torch.onnx.export(model, x, str(tmp_path), input_names=["input"], output_names=["logits"],
                          opset_version=opset, dynamo=False, do_constant_folding=True)
    proto = onnx.load(str(tmp_path))
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        tmp_path.unlink(missing_ok=True)
        raise ExportError(f"onnx.checker rejected the export: {exc}") from None
    session = ort.InferenceSession(str(tmp_path), providers=["CPUExecutionProvider"])
    actual = session.run(None, {"input": x.numpy()})[0]
    if actual.shape != expected.shape or not np.allclose(actual, expected, atol=atol, rtol=1e-3):
        tmp_path.unlink(missing_ok=True)
        diff = float(np.abs(actual - expected).max()) if actual.shape == expected.shape else float("inf")
        raise ExportError(f"onnxruntime output differs from torch (max abs diff {diff:.2e} > {atol})")
    tmp_path.replace(onnx_path)
    final = replace(spec, sha256=sha256_of(onnx_path), onnx_file=onnx_path.name)
    write_spec(final, out_dir / f"{spec.name}.json")
    log.info("exported %s (%d bytes)", onnx_path, onnx_path.stat().st_size)
    return out_dir / f"{spec.name}.json"


def lip_spec(cfg: CropConfig, metrics: dict, architecture: str, name: str = "lips") -> ModelSpec:
    return ModelSpec(
        name=name,
        task="lip-segmentation",
        input_width=cfg.width,
        input_height=cfg.height,
        color_order="BGR",
        layout="NCHW",
        mean=cfg.mean_bgr,
        std=cfg.std_bgr,
        classes=LIP_CLASSES,
        threshold=0.5,
        sha256="",
        onnx_file="",
        data=LIPS_DATA,
        license=LIPS_LICENSE,
        metrics={k: round(float(v), 4) for k, v in metrics.items()},
        extra={"architecture": architecture, "mouth_width_fraction": cfg.mouth_fraction},
    )


def export_checkpoint(ckpt_path: Path, models_dir: Path) -> Path:
    model, ckpt = load_trained(ckpt_path)
    config = ckpt.get("config", {})
    # best.pt carries its epoch's metrics; last.pt (the end of the schedule) its whole history.
    scores = ckpt.get("metrics") or (ckpt.get("history") or [{}])[-1]
    metrics = {f"crop_val_{k}": v for k, v in scores.items() if k.endswith("iou")}
    return export_onnx(model, lip_spec(CropConfig.from_run(config), metrics, model.describe()), models_dir)
