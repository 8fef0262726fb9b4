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
    """A private X server on a free display number; Xvfb names it once it accepts connections."""
    if not shutil.which("Xvfb"):
        pytest.skip("Xvfb not installed (apt install xvfb)")
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            pass_fds=(write_end,), stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end) as ready:
        number = ready.readline().strip()
    if not number:
        proc.kill()
        pytest.fail("Xvfb did not start")
    yield f":{number}"
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
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)  # how fast it quits is measured by benchmarks/app_bench.py (shutdown_s), not asserted here
        assert proc.returncode == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_preview_window_lives_in_its_own_process_and_reports_when_closed(xvfb, monkeypatch):
    """The preview is drawn by a child process (OpenCV's Qt window crashes beside a GTK tray)."""
    import numpy as np

    from vcam_lipstick.devices.sinks import WindowSink

    if not shutil.which("xdotool"):
        pytest.skip("xdotool not installed")
    monkeypatch.setenv("DISPLAY", xvfb)
    sink = WindowSink(max_width=320)
    frame = np.full((360, 640, 3), (40, 40, 200), np.uint8)
    try:
        windows = ""
        for _ in range(100):  # up to ~5 s for the child to start
            sink.send(frame)
            time.sleep(0.05)
            windows = subprocess.run(["xdotool", "search", "--name", sink.name], capture_output=True, text=True,
                                     env=dict(os.environ, DISPLAY=xvfb)).stdout.split()
            if windows:
                break
        assert windows, "no preview window"
        assert not sink.closed
        subprocess.run(["xdotool", "key", "--window", windows[-1], "q"], env=dict(os.environ, DISPLAY=xvfb))
        for _ in range(40):
            sink.send(frame)
            if sink.closed:
                break
            time.sleep(0.05)
        assert sink.closed, "closing the window (q) did not reach the app"
    finally:
        sink.close()


def test_gtk_tray_menu_backend_starts_and_quits_cleanly(xvfb, tmp_path):
    """With PyGObject installed pystray uses GTK: the tray and the preview window must coexist."""
    pytest.importorskip("gi")
    for tool in ("trayer", "dbus-daemon"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} not installed")
    bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    env = dict(os.environ, DISPLAY=xvfb, PYTHONUNBUFFERED="1", DBUS_SESSION_BUS_ADDRESS=bus.stdout.readline().strip())
    tray_host = subprocess.Popen(["trayer", "--edge", "top", "--align", "right", "--widthtype", "request"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = tmp_path / "app.err"
    with open(log, "w") as err_file:
        app = subprocess.Popen([sys.executable, "-m", "vcam_lipstick", "run", "--source", "demo", "--size", "640x360"],
                               env=env, stderr=err_file)
    try:
        time.sleep(9)
        assert app.poll() is None, log.read_text()
        app.send_signal(signal.SIGTERM)
        app.wait(10)
        err = log.read_text()
        assert app.returncode == 0 and "Traceback" not in err, err
        assert "pystray._gtk (menu: True)" in (tmp_path / "logs" / "vcam-lipstick.log").read_text()
    finally:
        for proc in (app, tray_host, bus):
            if proc.poll() is None:
                proc.kill()
