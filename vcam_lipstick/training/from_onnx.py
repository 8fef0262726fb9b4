"""A trainable LipNet rebuilt from a shipped ``lips.onnx``, so a model can be fine-tuned without its run folder.

The export folds each batch norm into the convolution before it. Here each conv takes the folded
weight, and its batch norm is set to add the folded bias after normalising with the statistics the
conv's outputs actually have on training crops: the network computes the same function in eval mode
and, up to batch noise, in train mode.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from .net import LipNet


def _conv_order(model: nn.Module, x: torch.Tensor) -> list[tuple[nn.Conv2d, nn.BatchNorm2d | None]]:
    """Every conv in forward order, with the batch norm that consumes its output (if any)."""
    calls: list[nn.Module] = []
    hooks = [m.register_forward_hook(lambda m, i, o: calls.append(m)) for m in model.modules()
             if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
    with torch.no_grad():
        model.eval()(x)
    for h in hooks:
        h.remove()
    pairs = []
    for i, m in enumerate(calls):
        if isinstance(m, nn.Conv2d):
            nxt = calls[i + 1] if i + 1 < len(calls) else None
            pairs.append((m, nxt if isinstance(nxt, nn.BatchNorm2d) else None))
    return pairs


def load_onnx_weights(model: LipNet, onnx_path: Path, input_hw: tuple[int, int]) -> int:
    """Copy the ONNX convs into ``model`` (eval-exact); returns the number of convs loaded."""
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(onnx_path))
    weights = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    onnx_convs = [n for n in proto.graph.node if n.op_type == "Conv"]
    pairs = _conv_order(model, torch.zeros(1, 3, *input_hw))
    if len(onnx_convs) != len(pairs):
        raise ValueError(f"{onnx_path}: {len(onnx_convs)} convs, but this network has {len(pairs)}")
    for node, (conv, bn) in zip(onnx_convs, pairs):
        w = torch.from_numpy(weights[node.input[1]].copy())
        b = torch.from_numpy(weights[node.input[2]].copy()) if len(node.input) > 2 else torch.zeros(w.shape[0])
        if w.shape != conv.weight.shape:
            raise ValueError(f"{onnx_path}: conv {node.name} is {tuple(w.shape)}, expected {tuple(conv.weight.shape)}")
        with torch.no_grad():
            conv.weight.copy_(w)
            if bn is None:
                conv.bias.copy_(b)
            else:  # identity normalisation, then the folded bias
                bn.running_mean.zero_()
                bn.running_var.fill_(1.0 - bn.eps)
                bn.weight.fill_(1.0)
                bn.bias.copy_(b)
    return len(pairs)


@torch.no_grad()
def calibrate_batch_norms(model: LipNet, batches) -> None:
    """Give each batch norm the mean and variance its input has on ``batches`` while keeping the
    function: normalise by them, then scale and shift back (gamma = std, beta = mean + folded bias)."""
    stats: dict[nn.BatchNorm2d, list[torch.Tensor]] = {}

    def record(m, inputs, output):
        x = inputs[0].double()
        s = stats.setdefault(m, [torch.zeros(x.shape[1], dtype=torch.float64) for _ in range(2)] + [0])
        s[0] += x.sum((0, 2, 3))
        s[1] += (x * x).sum((0, 2, 3))
        s[2] += x.shape[0] * x.shape[2] * x.shape[3]

    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    hooks = [m.register_forward_hook(record) for m in bns]
    model.eval()
    for x in batches:
        model(x)
    for h in hooks:
        h.remove()
    for bn in bns:
        total, squares, n = stats[bn]
        mean = total / n
        var = (squares / n - mean * mean).clamp_min(1e-6)
        bn.running_mean.copy_(mean.float())
        bn.running_var.copy_(var.float())
        bn.bias.add_(mean.float())  # beta = folded bias + mean
        bn.weight.copy_((var + bn.eps).sqrt().float())


def checkpoint_from_onnx(onnx_path: Path, out_path: Path, batches, input_hw=(96, 128)) -> Path:
    """Write a training checkpoint (``--init`` compatible) holding the ONNX model's function."""
    model = LipNet()
    load_onnx_weights(model, onnx_path, input_hw)
    calibrate_batch_norms(model, batches)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict(), "metrics": {}, "config": {"source_onnx": str(onnx_path)}}, out_path)
    return out_path


def max_difference(model: LipNet, onnx_path: Path, x: np.ndarray) -> float:
    """Largest |logit| difference between ``model`` (eval) and onnxruntime on ``x``."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"input": x})[0]
    with torch.no_grad():
        actual = model.eval()(torch.from_numpy(x)).numpy()
    return float(np.abs(actual - expected).max())
