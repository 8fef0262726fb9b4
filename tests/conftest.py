import os
import sys
from pathlib import Path

import numpy as np
import pytest

SHARED = Path(os.environ.get("VCAM_LIPSTICK_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    """Settings, logs and autostart entries go to a temporary folder, never the user's."""
    monkeypatch.setenv("VCAM_LIPSTICK_CONFIG", str(tmp_path / "config"))
    monkeypatch.setenv("VCAM_LIPSTICK_LOGS", str(tmp_path / "logs"))
    monkeypatch.setenv("VCAM_LIPSTICK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if sys.platform == "win32":  # start at login writes the per-user Run key: a fake registry instead
        from test_platform import FakeWinreg

        monkeypatch.setitem(sys.modules, "winreg", FakeWinreg())
    if sys.platform == "darwin":  # ~/Library/LaunchAgents
        monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture(autouse=True)
def restore_logging():
    """'run' (any test that starts the app) calls setup_logging, whose handlers would outlive this test:
    a stderr handler on a closed captured stream breaks a later test's logging."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


@pytest.fixture(scope="session")
def tracker():
    from vcam_lipstick.model.bundle import load_tracker

    return load_tracker()


@pytest.fixture(scope="session")
def demo_frame():
    from vcam_lipstick.devices.sources import DemoSource

    with DemoSource(1280, 720) as source:
        return source.read().copy()


@pytest.fixture
def shared_data():
    if not SHARED.is_dir():
        pytest.skip("../shared/data not present (set VCAM_LIPSTICK_DATA)")
    return SHARED


def ellipse_labels(h=200, w=300, center=(150, 100), axes=(60, 25), angle=0.0):
    """Synthetic mouth: upper lip (1) over lower lip (2) split at the centre line, a slit of inner mouth (3)."""
    import cv2

    labels = np.zeros((h, w), np.uint8)
    cv2.ellipse(labels, center, axes, angle, 0, 360, 2, -1)
    cv2.ellipse(labels, center, axes, angle, 180, 360, 1, -1)
    cv2.ellipse(labels, center, (axes[0] * 2 // 3, max(2, axes[1] // 5)), angle, 0, 360, 3, -1)
    return labels


def symlink_or_skip(link, target) -> None:
    """Make ``link`` point at ``target``, or skip: Windows allows symbolic links only with a privilege."""
    try:
        link.symlink_to(target)
    except OSError as exc:
        pytest.skip(f"cannot make a symbolic link here ({exc})")
