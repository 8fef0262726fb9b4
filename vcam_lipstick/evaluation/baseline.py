"""The original study's recipes, for speed comparison: full face resized to 256x256 -> UNet with a
VGG11 encoder (segmentation_models_pytorch layout: encoder without batch norm, decoder channels
256-128-64-32-16) -> sigmoid -> threshold, pasted back into the frame.

The graph is built directly with ``onnx.helper`` and random weights, so it needs neither torch nor a
download; its speed is that of the trained network (same ops, same shapes). Needs the ``onnx`` package.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

VGG11 = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
DECODER = [256, 128, 64, 32, 16]
# The study's from-scratch UNet: four levels, base width 16, same full-face 256x256 input.
SCRATCH = [16, 16, "M", 32, 32, "M", 64, 64, "M", 128, 128, "M", 256, 256, "M"]
SCRATCH_DECODER = [128, 64, 32, 16, 16]
ARCHITECTURES = {"vgg11-unet": (VGG11, DECODER), "scratch-unet": (SCRATCH, SCRATCH_DECODER)}


def build_unet(path: Path, architecture: str = "vgg11-unet", size: int = 256, seed: int = 0) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    counter = iter(range(10_000))

    def conv(x: str, cin: int, cout: int, k: int = 3, relu: bool = True) -> str:
        i = next(counter)
        w = (rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        inits.append(numpy_helper.from_array(np.zeros(cout, np.float32), f"b{i}"))
        nodes.append(helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [f"c{i}"], pads=[k // 2] * 4))
        if not relu:
            return f"c{i}"
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"]))
        return f"r{i}"

    encoder, decoder = ARCHITECTURES[architecture]
    x, cin, skips = "input", 3, []
    for item in encoder:
        if item == "M":
            skips.append((x, cin))
            i = next(counter)
            nodes.append(helper.make_node("MaxPool", [x], [f"p{i}"], kernel_shape=[2, 2], strides=[2, 2]))
            x = f"p{i}"
        else:
            x, cin = conv(x, cin, item), item
    inits.append(numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"))
    skips = skips[::-1]  # deepest first: each decoder level upsamples x2 and meets the skip of that size
    for level, cout in enumerate(decoder):
        i = next(counter)
        nodes.append(helper.make_node("Resize", [x, "", "scales"], [f"u{i}"], mode="nearest"))
        x = f"u{i}"
        if level < len(skips):
            skip, skip_c = skips[level]
            nodes.append(helper.make_node("Concat", [x, skip], [f"cat{i}"], axis=1))
            x, cin = f"cat{i}", cin + skip_c
        x = conv(x, cin, cout)
        x, cin = conv(x, cout, cout), cout
    logits = conv(x, cin, 1, relu=False)
    nodes.append(helper.make_node("Sigmoid", [logits], ["mask"]))
    graph = helper.make_graph(
        nodes, "vgg11_unet",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, size, size])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    onnx.save(model, str(tmp))
    tmp.replace(path)  # never leave half a model in the cache
    return path


class StudyBaseline:
    """Per frame: detect the face, resize it to 256x256, run the VGG11-UNet, threshold, paste back."""

    def __init__(self, detector, model_path: Path, threads: int = 1, size: int = 256,
                 architecture: str = "vgg11-unet"):
        from ..model.session import create_session

        if not Path(model_path).is_file():
            build_unet(Path(model_path), architecture, size)
        self.architecture = architecture
        self.detector = detector
        self.session = create_session(model_path, threads)
        self.size = size

    def process(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        """Returns (full-frame boolean lip mask, milliseconds)."""
        t = time.perf_counter()
        out = np.zeros(frame.shape[:2], bool)
        faces = self.detector.detect(frame)
        if faces:
            x0, y0, x1, y1 = (int(round(v)) for v in faces[0].box)
            x0, y0 = max(0, x0), max(0, y0)
            x1, y1 = min(frame.shape[1], x1), min(frame.shape[0], y1)
            if x1 - x0 > 4 and y1 - y0 > 4:
                face = cv2.resize(frame[y0:y1, x0:x1], (self.size, self.size), interpolation=cv2.INTER_LINEAR)
                blob = (face[..., ::-1].astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
                prob = self.session.run(None, {"input": np.ascontiguousarray(blob)})[0][0, 0]
                out[y0:y1, x0:x1] = cv2.resize(prob, (x1 - x0, y1 - y0)) > 0.5
        return out, (time.perf_counter() - t) * 1000.0
