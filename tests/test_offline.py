"""Offline and private: onnxruntime's telemetry stays off on a real run (README: privacy)."""

import os
import subprocess
import sys

import cv2
import pytest


@pytest.fixture
def home(tmp_path):
    """An empty HOME: onnxruntime's telemetry writes ~/.cache/Microsoft/DeveloperTools/.onnxruntime."""
    path = tmp_path / "home"
    path.mkdir()
    return path


def _env(home, **extra):
    env = {k: v for k, v in os.environ.items() if k not in ("ORT_DISABLE_TELEMETRY", "XDG_CACHE_HOME")}
    return env | {"HOME": str(home), "USERPROFILE": str(home)} | extra


def _files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_processing_a_photo_leaves_no_telemetry_files_in_home(home, tmp_path, demo_frame):
    photo = tmp_path / "face.jpg"
    cv2.imwrite(str(photo), cv2.resize(demo_frame, (320, 180)))
    out = subprocess.run([sys.executable, "-m", "vcam_lipstick", "process", str(photo), "-o", str(tmp_path / "out.jpg")],
                         capture_output=True, text=True, timeout=120, env=_env(home), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "out.jpg").is_file()  # the model really ran
    assert not (home / ".cache" / "Microsoft").exists(), _files_under(home)


def test_onnxruntime_imported_before_the_package_is_warned_about(home):
    # A script that imports onnxruntime first is too late for the switch: say so rather than stay quiet.
    code = ("import logging, onnxruntime; logging.basicConfig(); "
            "from vcam_lipstick.model.bundle import load_tracker; load_tracker()")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=_env(home))
    assert out.returncode == 0, out.stderr
    assert "telemetry" in out.stderr and "ORT_DISABLE_TELEMETRY" in out.stderr
