import json
from dataclasses import replace

import numpy as np
import pytest

from vcam_lipstick.model.bundle import DETECTOR_SPEC, LIPS_SPEC, load_tracker, models_dir, shipped_spec
from vcam_lipstick.model.spec import ModelError, ModelSpec, load_spec, sha256_of


def tiny_spec(name="tiny"):
    return ModelSpec(name=name, task="lip-segmentation", input_width=32, input_height=16, color_order="BGR",
                     layout="NCHW", mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0),
                     classes=("background", "upper_lip", "lower_lip", "inner_mouth"), threshold=0.5,
                     sha256="", onnx_file="", extra={"mouth_width_fraction": 0.6})


def test_export_gate_writes_a_verified_spec_and_the_runtime_loads_it(tmp_path):
    torch = pytest.importorskip("torch")
    from vcam_lipstick.model.segmenter import LipSegmenter
    from vcam_lipstick.processing.geometry import MouthBox
    from vcam_lipstick.training.export import export_onnx

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 4, 1))
    spec_path = export_onnx(model, tiny_spec(), tmp_path)
    spec, onnx_path = load_spec(spec_path)
    assert spec.sha256 == sha256_of(onnx_path) and spec.onnx_file == "tiny.onnx"
    assert spec.classes[1:] == ("upper_lip", "lower_lip", "inner_mouth")
    seg = LipSegmenter(spec, onnx_path)
    frame = np.random.default_rng(0).integers(0, 255, (100, 120, 3), np.uint8)
    result = seg.segment(frame, MouthBox(60, 50, 40, 16, 0.0))
    assert result.probs.shape == (16, 32, 3)
    with torch.no_grad():
        blob, _ = seg.preprocess(frame, MouthBox(60, 50, 40, 16, 0.0))
        logits = model(torch.from_numpy(blob))[0].numpy()
    assert np.allclose(seg.postprocess(logits), result.probs, atol=1e-4)


def test_export_gate_refuses_a_model_onnxruntime_disagrees_with(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    import onnxruntime

    from vcam_lipstick.training import export

    real = onnxruntime.InferenceSession

    class Skewed(real):
        def run(self, *a, **k):
            return [o + 1.0 for o in super().run(*a, **k)]

    monkeypatch.setattr(onnxruntime, "InferenceSession", Skewed)
    with pytest.raises(export.ExportError, match="differs"):
        export.export_onnx(torch.nn.Conv2d(3, 4, 1), tiny_spec(), tmp_path)
    assert not (tmp_path / "tiny.onnx").exists() and not (tmp_path / "tiny.json").exists()


def test_spec_round_trip(tmp_path):
    spec = replace(tiny_spec(), sha256="ab" * 32, onnx_file="tiny.onnx", metrics={"lip_iou": 0.9})
    assert ModelSpec.from_dict(json.loads(spec.to_json())) == spec


def test_tampered_model_is_refused(tmp_path):
    spec, onnx_path = shipped_spec(LIPS_SPEC)
    (tmp_path / "lips.onnx").write_bytes(onnx_path.read_bytes()[:-1] + b"\x00")
    (tmp_path / "lips.json").write_text(spec.to_json())
    for name in ("face_detector.onnx", "face_detector.json"):
        (tmp_path / name).write_bytes((models_dir() / name).read_bytes())
    with pytest.raises(ModelError, match="does not match"):
        load_tracker(directory=tmp_path)


def test_broken_spec_files_are_model_errors(tmp_path):
    (tmp_path / "a.json").write_text("{")
    (tmp_path / "b.json").write_text(json.dumps({"name": "x"}))
    (tmp_path / "c.json").write_text(json.dumps(json.loads(tiny_spec().to_json()) | {"onnx_file": "nope.onnx"}))
    for name in ("a.json", "b.json", "c.json"):
        with pytest.raises(ModelError):
            load_spec(tmp_path / name)


def test_shipped_models_are_small_verified_and_documented():
    total = 0
    for name in (LIPS_SPEC, DETECTOR_SPEC):
        spec, path = shipped_spec(name)
        total += path.stat().st_size
        assert spec.license
    assert total <= 3 * 1024 * 1024
    card = (models_dir() / "README.md").read_text()
    assert "non-commercial" in card.lower()


def _shipped_lips_json():
    return json.loads((models_dir() / LIPS_SPEC).read_text())


@pytest.mark.parametrize("field, value", [
    ("input_width", 0), ("input_height", -96), ("input_width", 12.5), ("input_height", True), ("input_width", 10**6),
    ("mean", [1.0, 2.0]), ("mean", 5), ("std", [57.0, 0.0, 58.0]), ("std", [1.0, float("nan"), 1.0]),
    ("classes", ["background"]), ("classes", ["a", "a"]), ("classes", "background,lips"),
    ("threshold", 2), ("threshold", None), ("sha256", "0" * 63), ("onnx_file", "../lips.onnx"),
    ("onnx_file", "/etc/passwd"), ("task", "lipstick"), ("color_order", "GBR"), ("layout", "CHW"),
    ("name", None), ("metrics", []), ("extra", {"mouth_width_fraction": 0}),
])
def test_a_hand_edited_spec_is_one_clear_model_error_naming_the_field(tmp_path, field, value):
    (tmp_path / "lips.json").write_text(json.dumps(_shipped_lips_json() | {field: value}))
    with pytest.raises(ModelError, match=f"is invalid: {field}") as exc:
        load_spec(tmp_path / "lips.json")
    assert "\n" not in str(exc.value)


def test_process_with_a_bad_lips_spec_is_one_line_and_exit_1(tmp_path, monkeypatch, capsys, demo_frame):
    import cv2

    from vcam_lipstick.cli import main
    from vcam_lipstick.model import bundle

    models = tmp_path / "models"
    models.mkdir()
    for name in ("lips.onnx", "face_detector.onnx", "face_detector.json"):
        (models / name).write_bytes((models_dir() / name).read_bytes())
    (models / "lips.json").write_text(json.dumps(_shipped_lips_json() | {"input_width": 0}))
    monkeypatch.setattr(bundle, "models_dir", lambda: models)
    cv2.imwrite(str(tmp_path / "face.jpg"), demo_frame)
    assert main(["process", str(tmp_path / "face.jpg"), "-o", str(tmp_path / "out.jpg")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "input_width" in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "out.jpg").exists()
