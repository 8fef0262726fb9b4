"""Average two exported lip models of the same network, weight by weight, into a third.

    python -m vcam_lipstick.training.average A/lips.onnx B/lips.onnx --weight 0.85 --out DIR [--data ../shared/data/lips]

Two fine-tunes of one model sit close together in weight space, so their average is a model too, and
often keeps what each learned better than either alone ("model soups", Wortsman et al. 2022). The
shipped model is one: a fine-tune that paints least on occluders, averaged with its starting point,
which found mouths more reliably. The result is written as ``lips.onnx`` + ``lips.json`` (sha256 filled
in; with ``--data``, the crop-val IoUs measured on it with onnxruntime, as the trainer measures them).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..argtypes import bounded
from ..model.spec import ModelError, load_spec, sha256_of, write_spec
from ..processing.metrics import PooledIoU


def average_onnx(a: Path, b: Path, weight: float, out: Path) -> int:
    """Write ``(1 - weight) * A + weight * B`` for every float initializer; returns how many were averaged.
    Raises ValueError if the two graphs do not hold the same initializers."""
    import onnx
    from onnx import numpy_helper

    model_a, model_b = onnx.load(str(a)), onnx.load(str(b))
    tensors_b = {t.name: numpy_helper.to_array(t) for t in model_b.graph.initializer}
    if set(tensors_b) != {t.name for t in model_a.graph.initializer}:
        raise ValueError(f"{a} and {b} are not the same network (their weights differ by name)")
    count = 0
    for t in model_a.graph.initializer:
        wa, wb = numpy_helper.to_array(t), tensors_b[t.name]
        if wa.shape != wb.shape:
            raise ValueError(f"{a} and {b} are not the same network ({t.name}: {wa.shape} vs {wb.shape})")
        if wa.dtype.kind == "f":
            t.CopyFrom(numpy_helper.from_array(((1.0 - weight) * wa + weight * wb).astype(wa.dtype), t.name))
            count += 1
    onnx.checker.check_model(model_a, full_check=True)
    onnx.save(model_a, str(out))
    return count


def crop_val_metrics(onnx_path: Path, spec, data: Path) -> dict[str, float]:
    """Pooled crop IoUs on the val split, as ``train.evaluate`` measures them, with onnxruntime."""
    from ..model.session import create_session
    from .data import CropConfig, CropDataset, FaceStore

    cfg = CropConfig(width=spec.input_width, height=spec.input_height,
                     mouth_fraction=float(spec.extra.get("mouth_width_fraction", 0.6)))
    dataset = CropDataset(FaceStore(data, "val"), cfg, train=False)
    session = create_session(onnx_path)
    name = session.get_inputs()[0].name
    tally = PooledIoU()
    for i in range(len(dataset)):
        x, y, _ = dataset[i]
        tally.add(session.run(None, {name: x[np.newaxis]})[0][0].argmax(axis=0), y)
    return {f"crop_val_{k}": v for k, v in tally.scores().items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vcam_lipstick.training.average",
                                     description="average two exported lip models into a third")
    parser.add_argument("a", type=Path, help="lips.onnx of the first model (its lips.json beside it)")
    parser.add_argument("b", type=Path, help="lips.onnx of the second model")
    parser.add_argument("--weight", type=bounded(float, 0.0, 1.0, "weight"), required=True,
                        help="share of the second model (0: A, 1: B)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the averaged lips.onnx + lips.json")
    parser.add_argument("--data", type=Path, help="shared data folder (train/, val/): measure crop-val IoU")
    args = parser.parse_args(argv)
    try:
        spec, _ = load_spec(args.b.with_suffix(".json"))
        load_spec(args.a.with_suffix(".json"))
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path = args.out / f"{spec.name}.onnx"
    try:
        count = average_onnx(args.a, args.b, args.weight, onnx_path)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    metrics = dict(spec.metrics)
    if args.data is not None:
        metrics = {k: round(float(v), 4) for k, v in crop_val_metrics(onnx_path, spec, args.data).items()}
    extra = {**spec.extra, "averaged": f"{1 - args.weight:g} x {args.a.parent.name}/{args.a.name} + "
                                      f"{args.weight:g} x {args.b.parent.name}/{args.b.name}"}
    write_spec(replace(spec, sha256=sha256_of(onnx_path), onnx_file=onnx_path.name, metrics=metrics, extra=extra),
               args.out / f"{spec.name}.json")
    print(f"averaged {count} tensors into {onnx_path}; metrics {metrics}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
