"""A few-step smoke run of training (torch, [train] extra): checkpoints, metrics per epoch, resume."""

import hashlib
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import ellipse_labels


def make_dataset(root, n=6):
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        (root / split / "images").mkdir(parents=True)
        (root / split / "masks").mkdir(parents=True)
        for i in range(n):
            labels = ellipse_labels(512, 512, (256 + int(rng.integers(-20, 20)), 370), (60, 24))
            image = np.full((512, 512, 3), (150, 170, 210), np.uint8)
            image[(labels == 1) | (labels == 2)] = (110, 100, 190)
            image[labels == 3] = (230, 235, 235)
            cv2.imwrite(str(root / split / "images" / f"f{i}.jpg"), image)
            cv2.imwrite(str(root / split / "masks" / f"f{i}.png"), labels)


def test_training_smoke_run_checkpoints_and_resumes(tmp_path):
    pytest.importorskip("torch")
    from vcam_lipstick.training.train import main

    make_dataset(tmp_path / "data")
    out = tmp_path / "run"
    args = ["--data", str(tmp_path / "data"), "--out", str(out), "--epochs", "2", "--batch", "3", "--threads", "1"]
    assert main(args + ["--minutes", "0.001"]) == 0  # stops after the first epoch: the time budget
    history = json.loads((out / "history.json").read_text())
    assert len(history) == 1 and {"loss", "lip_iou", "upper_iou", "lower_iou"} <= set(history[0])
    assert (out / "last.pt").is_file() and (out / "best.pt").is_file()
    assert main(args) == 0  # resumes at epoch 1 instead of starting over
    assert [h["epoch"] for h in json.loads((out / "history.json").read_text())] == [0, 1]


# Blocks torch in the child whether or not it is installed, and records every attempt to import it, even
# one a caller would catch: without this the test could not fail where torch is absent.
BLOCK_TORCH = """
import importlib.abc, sys
attempts = []
class BlockTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            attempts.append(name)
            raise ImportError("torch is blocked in this test")
sys.meta_path.insert(0, BlockTorch())
"""


def test_runtime_never_imports_torch(tmp_path):
    """The lipstick pipeline, a headless run and 'process' work with torch blocked, and never try to import it."""
    code = BLOCK_TORCH + (
        "import cv2, numpy as np\n"
        "from vcam_lipstick.cli import main\n"
        "from vcam_lipstick.devices.sources import DemoSource\n"
        "from vcam_lipstick.model.bundle import load_tracker\n"
        "from vcam_lipstick.pipeline import LipstickPipeline, View\n"
        "from vcam_lipstick.processing.shades import Look, ShadeBook\n"
        "s = ShadeBook.load().get('Plum')\n"
        "with DemoSource(640, 360) as source:\n"
        "    frame = source.read().copy()\n"
        "cv2.imwrite('face.png', frame)\n"
        "out = LipstickPipeline(load_tracker()).apply(frame.copy(), View(Look(s, s.finish)))\n"
        "print('painted', int((out != frame).any(axis=2).sum()))\n"
        "print('run', main(['run', '--no-tray', '--source', 'demo', '--sink', 'null', '--size', '320x240',"
        " '--frames', '3']))\n"
        "print('process', main(['process', 'face.png', '-o', 'out.png']))\n"
        "print('torch', attempts, 'torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines() if " " in line)
    assert int(lines.get("painted", 0)) > 100, out.stdout + out.stderr  # the lipstick was really drawn
    assert (lines.get("run"), lines.get("process")) == ("0", "0"), out.stdout + out.stderr
    assert (tmp_path / "out.png").is_file()
    assert lines.get("torch") == "[] False", out.stdout + out.stderr


def test_a_run_at_another_crop_geometry_exports_a_model_the_runtime_crops_alike(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from vcam_lipstick.model.segmenter import LipSegmenter
    from vcam_lipstick.model.spec import load_spec
    from vcam_lipstick.training.train import main

    make_dataset(tmp_path / "data", n=3)
    out, models = tmp_path / "run", tmp_path / "models"
    assert main(["--data", str(tmp_path / "data"), "--out", str(out), "--epochs", "1", "--batch", "3",
                 "--threads", "1", "--size", "64x48", "--mouth-fraction", "0.7", "--no-pretrained"]) == 0
    assert main(["--export", str(out / "best.pt"), "--models", str(models)]) == 0
    spec, onnx_path = load_spec(models / "lips.json")
    segmenter = LipSegmenter(spec, onnx_path)
    assert segmenter.size == (64, 48) and segmenter.width_fraction == pytest.approx(0.7)


@pytest.mark.parametrize("option, value", [("--size", "128"), ("--size", "100x96"), ("--size", "0x16"),
                                           ("--size", "axb"), ("--widths", "24,32,48"), ("--widths", "24,32,48,x"),
                                           ("--widths", "0,32,48,64"), ("--batch", "0"), ("--epochs", "0"),
                                           ("--lowres-p", "3"), ("--lr", "nan"), ("--warmup", "0")])
def test_a_bad_training_argument_is_a_one_line_usage_error(option, value, capsys):
    pytest.importorskip("torch")
    from vcam_lipstick.training.train import main

    with pytest.raises(SystemExit) as exc:
        main([option, value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert option in err and "Traceback" not in err


def test_lovasz_loss_is_one_minus_iou_for_confident_predictions():
    torch = pytest.importorskip("torch")
    from vcam_lipstick.training.train import lovasz_loss

    labels = torch.tensor([[[1, 1, 2, 2, 0, 0, 3, 3]]])
    predicted = torch.tensor([[[1, 2, 2, 2, 0, 0, 3, 0]]])
    logits = torch.nn.functional.one_hot(predicted, 4).permute(0, 3, 1, 2).float() * 50.0
    # upper lip IoU 1/2, lower 2/3, inner mouth 1/2, both lips together 4/4.
    expected = ((1 - 1 / 2) + (1 - 2 / 3) + (1 - 1 / 2) + 0.0) / 4
    assert lovasz_loss(logits, labels).item() == pytest.approx(expected, abs=1e-4)
    assert lovasz_loss(torch.nn.functional.one_hot(labels, 4).permute(0, 3, 1, 2).float() * 50.0, labels).item() < 1e-4


def test_low_resolution_crops_are_filtered_like_a_camera_when_asked():
    """"lowpass" shrinks fine detail to its average (optics); "bilinear" aliases it into false stripes."""
    from vcam_lipstick.processing.geometry import box_from_mask
    from vcam_lipstick.training.data import CropConfig, cut_crop  # numpy and cv2 only: runs without torch

    labels = ellipse_labels(512, 512, (256, 370), (60, 24))
    image = np.zeros((512, 512, 3), np.uint8)
    image[:, ::2] = 255  # one-pixel stripes: detail no webcam-sized mouth can resolve
    box = box_from_mask(labels > 0)
    crops = {}
    for mode in ("lowpass", "bilinear"):
        crops[mode] = cut_crop(image, labels, box, CropConfig(), np.random.default_rng(5), lowres_p=1.0,
                               lowres_interp=mode)
    assert np.array_equal(crops["lowpass"][1], crops["bilinear"][1])  # the labels do not depend on it
    # Aliased stripes show as bands across the crop's columns; sensor noise averages out down a column.
    bands = {mode: crop.astype(np.float32).mean(axis=(0, 2)).std() for mode, (crop, _, _) in crops.items()}
    assert bands["lowpass"] < 0.25 * bands["bilinear"]


def test_a_wider_teacher_run_distils_into_the_small_student_which_exports(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from vcam_lipstick.model.spec import load_spec
    from vcam_lipstick.training.train import main

    make_dataset(tmp_path / "data", n=3)
    common = ["--data", str(tmp_path / "data"), "--epochs", "1", "--batch", "3", "--threads", "1", "--no-pretrained"]
    assert main(common + ["--out", str(tmp_path / "teacher"), "--blocks", "11", "--widths", "48,64,96,128"]) == 0
    assert main(common + ["--out", str(tmp_path / "student"), "--teacher", str(tmp_path / "teacher" / "best.pt"),
                          "--distill", "0.5"]) == 0
    sizes = {}
    for run in ("teacher", "student"):
        assert main(["--export", str(tmp_path / run / "best.pt"), "--models", str(tmp_path / run / "models")]) == 0
        _, onnx_path = load_spec(tmp_path / run / "models" / "lips.json")
        sizes[run] = onnx_path.stat().st_size
    assert sizes["student"] < 0.5 * sizes["teacher"]  # the student keeps the small default network


def test_distillation_loss_vanishes_only_when_the_student_matches_its_teacher():
    torch = pytest.importorskip("torch")
    from vcam_lipstick.training.train import distill_loss

    teacher = torch.randn(2, 4, 8, 8)
    assert distill_loss(teacher.clone(), teacher).item() == pytest.approx(0.0, abs=1e-6)
    assert distill_loss(teacher + 3.0, teacher).item() == pytest.approx(0.0, abs=1e-6)  # logits up to a shift
    assert distill_loss(torch.randn(2, 4, 8, 8), teacher).item() > 0.05


@pytest.mark.parametrize("option", ["--init", "--teacher", "--export"])
@pytest.mark.parametrize("content", [None, b"not a checkpoint"])
def test_a_missing_or_foreign_checkpoint_is_a_one_line_error(tmp_path, option, content):
    pytest.importorskip("torch")
    from vcam_lipstick.training.train import main

    make_dataset(tmp_path / "data", n=3)
    ckpt = tmp_path / "model.pt"
    if content is not None:
        ckpt.write_bytes(content)
    with pytest.raises(SystemExit) as exc:
        main(["--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--models", str(tmp_path / "models"),
              "--epochs", "1", "--batch", "3", "--threads", "1", "--no-pretrained", option, str(ckpt)])
    message = str(exc.value)
    assert message.startswith("error:") and str(ckpt) in message and "\n" not in message
    assert not (tmp_path / "models").exists()  # nothing half-written


def test_wide_scale_crops_show_the_mouth_at_other_sizes_and_leave_the_default_stream_alone(tmp_path):
    """Acquisition boxes can be half or twice the mouth; with --wide-scale-p the crops cover that, and
    without it the samples are exactly those earlier stages were trained on."""
    from vcam_lipstick.processing.geometry import box_from_mask
    from vcam_lipstick.training.data import CropConfig, CropDataset, FaceStore  # no torch needed

    make_dataset(tmp_path / "data", n=6)
    store = FaceStore(tmp_path / "data", "train")

    def mouth_widths(**kw):
        widths = []
        for epoch in range(8):
            dataset = CropDataset(store, CropConfig(), train=True, seed=1, lowres_p=0.0, **kw)
            dataset.epoch = epoch
            for i in range(len(dataset)):
                box = box_from_mask(dataset[i][1] > 0)
                if box is not None:
                    widths.append(box.width)
        return np.log(widths)

    default, explicit_zero, wide = mouth_widths(), mouth_widths(wide_scale_p=0.0), mouth_widths(wide_scale_p=1.0)
    assert np.array_equal(default, explicit_zero)
    assert wide.std() > 2.0 * default.std()


def test_hidden_lips_weigh_more_only_under_an_occluder(tmp_path):
    """With --hidden-weight the loss counts lips an occluder hides (where lipstick would land on a finger)
    that many times; nothing changes in crops without an occluder, or when the weight is 1."""
    from vcam_lipstick.training.data import CropConfig, CropDataset, FaceStore  # no torch needed

    make_dataset(tmp_path / "data", n=6)
    store = FaceStore(tmp_path / "data", "train")
    plain = CropDataset(store, CropConfig(), train=True, seed=2, occlude_p=1.0)
    heavy = CropDataset(store, CropConfig(), train=True, seed=2, occlude_p=1.0, hidden_weight=4.0)
    unoccluded = CropDataset(store, CropConfig(), train=True, seed=2, occlude_p=0.0, hidden_weight=4.0)
    raised = 0
    for i in range(len(store)):
        (x0, y0, w0), (x1, y1, w1) = plain[i], heavy[i]
        assert np.array_equal(x0, x1) and np.array_equal(y0, y1)  # same crop and labels
        ratio = w1 / w0
        assert set(np.unique(ratio)) <= {1.0, 4.0}
        raised += int((ratio == 4.0).sum())
        assert (y1[ratio == 4.0] == 0).all()  # hidden lips are background in the labels
        assert unoccluded[i][2].max() <= 3.0  # no occluder: only the edge weights
    assert raised > 0


def test_two_lip_models_average_weight_by_weight_into_a_model_the_runtime_loads(tmp_path, capsys):
    """The shipped model is an average of two fine-tunes: the tool must give each float weight
    (1 - w) * A + w * B, write a spec whose hash matches, and refuse two different networks in one line."""
    onnx = pytest.importorskip("onnx")
    import shutil

    from onnx import numpy_helper

    from vcam_lipstick.model.bundle import models_dir
    from vcam_lipstick.model.segmenter import LipSegmenter
    from vcam_lipstick.model.spec import load_spec
    from vcam_lipstick.training.average import main

    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        folder.mkdir()
        shutil.copy(models_dir() / "lips.json", folder / "lips.json")
    shutil.copy(models_dir() / "lips.onnx", a / "lips.onnx")
    model = onnx.load(str(a / "lips.onnx"))
    for t in model.graph.initializer:  # B: every weight doubled, plus one
        w = numpy_helper.to_array(t)
        if w.dtype.kind == "f":
            t.CopyFrom(numpy_helper.from_array((2 * w + 1).astype(w.dtype), t.name))
    onnx.save(model, str(b / "lips.onnx"))
    spec = json.loads((b / "lips.json").read_text())
    spec["sha256"] = hashlib.sha256((b / "lips.onnx").read_bytes()).hexdigest()
    (b / "lips.json").write_text(json.dumps(spec))

    assert main([str(a / "lips.onnx"), str(b / "lips.onnx"), "--weight", "0.25", "--out", str(tmp_path / "avg")]) == 0
    spec, onnx_path = load_spec(tmp_path / "avg" / "lips.json")  # the hash is checked here
    weights = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(a / "lips.onnx")).graph.initializer}
    for t in onnx.load(str(onnx_path)).graph.initializer:
        w = weights[t.name]
        if w.dtype.kind == "f":
            assert np.allclose(numpy_helper.to_array(t), 0.75 * w + 0.25 * (2 * w + 1), atol=1e-5)
    LipSegmenter(spec, onnx_path)

    shutil.copy(models_dir() / "face_detector.onnx", b / "lips.onnx")
    spec = json.loads((b / "lips.json").read_text())
    spec["sha256"] = hashlib.sha256((b / "lips.onnx").read_bytes()).hexdigest()
    (b / "lips.json").write_text(json.dumps(spec))
    capsys.readouterr()
    assert main([str(a / "lips.onnx"), str(b / "lips.onnx"), "--weight", "0.5", "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "not the same network" in err and err.count("\n") == 1
