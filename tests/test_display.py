"""Opt-in (-m display): the real tray app under Xvfb starts, shows its controls, and quits cleanly."""

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.display


@pytest.fixture
def xvfb():
    if not shutil.which("Xvfb"):
        pytest.skip("Xvfb not installed (apt install xvfb)")
    display = ":97"
    proc = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24"], stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    yield display
    proc.terminate()
    proc.wait(5)


def test_tray_app_starts_shows_controls_and_quits_on_sigterm(xvfb):
    env = dict(os.environ, DISPLAY=xvfb, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "vcam_lipstick", "run", "--source", "demo", "--sink", "null",
                             "--size", "640x360"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(8)
        assert proc.poll() is None, proc.stderr.read()
        if shutil.which("xdotool"):
            found = subprocess.run(["xdotool", "search", "--name", "Lipstick Cam"], env=env, capture_output=True,
                                   text=True)
            assert found.stdout.strip(), "no control window or tray window on the display"
        t = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(5)
        assert time.monotonic() - t < 1.5
        assert proc.returncode == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
