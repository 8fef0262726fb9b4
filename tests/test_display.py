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
    """A private X server on a free display number; Xvfb names it once it accepts connections.
    -noreset: by default Xvfb resets when its last client leaves, and drops a client connecting meanwhile
    (the app, its tray and its windows connect and leave in their own processes)."""
    if not shutil.which("Xvfb"):
        pytest.skip("Xvfb not installed (apt install xvfb)")
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-noreset", "-screen", "0", "1280x800x24",
                             "-nolisten", "tcp"],
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


RED, GREEN, BLACK = (200, 40, 40), (40, 200, 40), (0, 0, 0)  # RGB, as the screen shows them


@pytest.fixture
def preview(xvfb, monkeypatch):
    """The real preview window (Tk, its own process) on the test's display; closed after the test."""
    from vcam_lipstick.devices.sinks import WindowSink

    if not shutil.which("xdotool"):
        pytest.skip("xdotool not installed")
    pytest.importorskip("tkinter")
    monkeypatch.setenv("DISPLAY", xvfb)
    sink = WindowSink(max_width=320)
    yield sink
    sink.close()


def _frame(rgb):
    """A 640x360 BGR frame of one colour; the sink shrinks it to 320x180 (``max_width``)."""
    import numpy as np

    return np.full((360, 640, 3), rgb[::-1], np.uint8)


def _shown(display, window):
    """(the middle column, the middle row) of ``window`` as the screen shows them, in RGB."""
    from PIL import ImageGrab

    out = subprocess.run(["xdotool", "getwindowgeometry", "--shell", window], env=dict(os.environ, DISPLAY=display),
                         capture_output=True, text=True).stdout
    geometry = dict(line.split("=") for line in out.split())
    x, y, w, h = (int(geometry[key]) for key in ("X", "Y", "WIDTH", "HEIGHT"))
    screen = ImageGrab.grab(xdisplay=display).convert("RGB")
    return ([screen.getpixel((x + w // 2, y + row)) for row in range(h)],
            [screen.getpixel((x + col, y + h // 2)) for col in range(w)])


def _open(display, sink, frame):
    """Send ``frame`` until the preview's window is on ``display``; its X window id."""
    assert _wait(lambda: sink.send(frame) or _windows(display, sink.name)), "no preview window"
    return _windows(display, sink.name)[-1]


def test_the_preview_shows_the_newest_frame_letterboxed_and_close_ends_its_process(xvfb, preview):
    window = _open(xvfb, preview, _frame(RED))
    assert _wait(lambda: preview.send(_frame(RED)) or _shown(xvfb, window) == ([RED] * 180, [RED] * 320)), \
        "the window does not show the frame at its size"
    subprocess.run(["xdotool", "windowsize", "--sync", window, "400", "400"], env=dict(os.environ, DISPLAY=xvfb),
                   check=True)

    def letterboxed():  # 400x225 across the middle, black above and below
        column, row = _shown(xvfb, window)
        return column.count(RED) == 225 and column[0] == column[-1] == BLACK and row == [RED] * 400

    assert _wait(lambda: preview.send(_frame(RED)) or letterboxed()), "the frame is not scaled to the window"
    assert _wait(lambda: preview.send(_frame(GREEN)) or _shown(xvfb, window)[1] == [GREEN] * 400), \
        "a new frame is not shown"
    process = preview._process
    preview.close()
    assert process.exitcode == 0, "the preview did not end by itself when closed"  # terminate() gives -15
    assert _wait(lambda: not _windows(xvfb, preview.name)), "the preview window outlived close()"


def _press_close_button(display, window):
    """What a window manager sends when the title bar's close button is clicked: WM_DELETE_WINDOW."""
    import ctypes
    import ctypes.util

    class ClientMessage(ctypes.Structure):
        _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                    ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                    ("format", ctypes.c_int), ("data", ctypes.c_long * 5)]

    class XEvent(ctypes.Union):
        _fields_ = [("xclient", ClientMessage), ("pad", ctypes.c_long * 24)]

    x11 = ctypes.CDLL(ctypes.util.find_library("X11"))
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.POINTER(XEvent)]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    connection = x11.XOpenDisplay(display.encode())
    assert connection, f"cannot open {display}"
    event = XEvent()
    event.xclient.type = 33  # ClientMessage
    event.xclient.window = int(window)
    event.xclient.message_type = x11.XInternAtom(connection, b"WM_PROTOCOLS", 0)
    event.xclient.format = 32
    event.xclient.data[0] = x11.XInternAtom(connection, b"WM_DELETE_WINDOW", 0)
    assert x11.XSendEvent(connection, int(window), 0, 0, ctypes.byref(event))
    x11.XCloseDisplay(connection)  # flushes the event


@pytest.mark.parametrize("how", ["q", "Escape", "close button"])
def test_closing_the_preview_reaches_the_app_and_ends_its_process(xvfb, preview, how):
    frame = _frame(RED)
    window = _open(xvfb, preview, frame)
    process = preview._process
    assert not preview.closed
    if how == "close button":
        _press_close_button(xvfb, window)
    else:  # the key goes to the focused window, as when a user presses it
        subprocess.run(["xdotool", "windowfocus", "--sync", window, "key", how], env=dict(os.environ, DISPLAY=xvfb),
                       check=True)
    assert _wait(lambda: preview.send(frame) or preview.closed), f"closing the window ({how}) did not reach the app"
    assert process.exitcode == 0
    assert _wait(lambda: not _windows(xvfb, preview.name))


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


def _gone(pid):
    """True once process ``pid`` has ended (a zombie nobody reaps counts as ended)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            return any(line.startswith("State:") and "Z" in line.split()[1] for line in fh)
    except FileNotFoundError:
        return True


def _wait(condition, timeout=20.0):
    """Poll until ``condition()`` holds; the timeout only bounds a broken run."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def _windows(display, name):
    return subprocess.run(["xdotool", "search", "--name", name], env=dict(os.environ, DISPLAY=display),
                          capture_output=True, text=True).stdout.split()


def test_palette_click_and_keys_under_xvfb_change_the_next_published_frame(xvfb, tmp_path, monkeypatch):
    """The real palette window: a click on a swatch (xdotool) reaches the next published frame of the
    recording virtual camera; Right + Enter applies the next swatch; Esc closes it; quitting the app
    closes a palette that is open."""
    import numpy as np

    import fakes  # noqa: F401  (registers the recording backend)
    from test_palette import FixedMouth, StillSource, number, still_frame
    from vcam_lipstick.app import Controller
    from vcam_lipstick.palette_window import TITLE
    from vcam_lipstick.processing.render import LipRenderer
    from vcam_lipstick.settings import SettingsStore

    if not shutil.which("xdotool"):
        pytest.skip("xdotool not installed")
    pytest.importorskip("tkinter")
    monkeypatch.setenv("DISPLAY", xvfb)
    source = StillSource()
    monkeypatch.setattr("vcam_lipstick.app.open_source", lambda *a, **k: source)
    c = Controller(SettingsStore(tmp_path / "cfg"), notify=lambda m: None, tracker_factory=FixedMouth)
    c.start("demo", None, backend="recording")
    backend = fakes.RecordingBackend.instances[-1]
    looks = []  # (name of the shade, number of the frame read last) at every change of shade
    c.add_listener(lambda: looks.append((c.view.look.shade.name, source.count))
                   if not looks or looks[-1][0] != c.view.look.shade.name else None)
    env = dict(os.environ, DISPLAY=xvfb)
    try:
        assert _wait(lambda: len(backend.frames) >= 5)
        c.open_palette()
        assert _wait(lambda: c.palette.layout), "the palette did not open"
        pid = c.palette.pid
        x, y = c.palette.layout["Classic Red"]
        subprocess.run(["xdotool", "mousemove", str(x), str(y), "click", "1"], env=env, check=True)
        assert _wait(lambda: looks and looks[-1][0] == "Classic Red"), "the click did not reach the app"
        clicked_at = looks[-1][1]
        assert _wait(lambda: number(backend.frames[-1]) > clicked_at + 3)
        subprocess.run(["xdotool", "key", "Right"], env=env, check=True)  # focus moves to the next swatch: Cherry
        subprocess.run(["xdotool", "key", "Return"], env=env, check=True)
        assert _wait(lambda: looks[-1][0] == "Cherry"), "Right + Enter did not apply the next swatch"
        keyed_at = looks[-1][1]
        assert _wait(lambda: number(backend.frames[-1]) > keyed_at + 3)
        subprocess.run(["xdotool", "key", "Escape"], env=env, check=True)
        assert c.palette.closed.wait(10) and _wait(lambda: _gone(pid)) and not _windows(xvfb, TITLE)
        c.open_palette()  # again, and the app quits while it is open
        assert _wait(lambda: c.palette.layout) and _windows(xvfb, TITLE)
        pid = c.palette.pid
        c.quit()
    finally:
        c.stop()
    assert _gone(pid) and not _windows(xvfb, TITLE)
    assert c.settings.shade == "Cherry" and SettingsStore(tmp_path / "cfg").load().shade == "Cherry"
    renderer, masks = LipRenderer(), FixedMouth().process(None)
    shades = {s.name: s for s in c.shades}
    red = renderer.render(still_frame(), masks, _look(shades["Classic Red"], c))
    cherry = renderer.render(still_frame(), masks, _look(shades["Cherry"], c))
    # Read after the click, and taken by the loop before Enter (the frame waiting in the slot may see Cherry).
    between = [f for f in backend.frames if clicked_at < number(f) < keyed_at - 1]
    after = [f for f in backend.frames if number(f) > keyed_at]
    assert between and after
    assert all(np.array_equal(f[1:], red[1:]) for f in between)  # row 0 holds the frame number
    assert all(np.array_equal(f[1:], cherry[1:]) for f in after)


def _look(shade, c):
    from vcam_lipstick.processing.shades import Look

    return Look(shade, shade.finish, c.settings.intensity / 100.0)


def test_the_palette_closes_when_the_app_is_killed(xvfb, tmp_path):
    """No orphan: the window's process watches the app's and ends when it is gone, even after SIGKILL."""
    from vcam_lipstick.palette_window import TITLE

    if not shutil.which("xdotool"):
        pytest.skip("xdotool not installed")
    pytest.importorskip("tkinter")
    script = ("import sys, time\n"
              "from vcam_lipstick.app import Controller\n"
              "from vcam_lipstick.settings import SettingsStore\n"
              "c = Controller(SettingsStore(sys.argv[1]), notify=print, tracker_factory=lambda: None)\n"
              "c.open_palette()\n"
              "while not c.palette.layout:\n"
              "    time.sleep(0.05)\n"
              "print(c.palette.pid, flush=True)\n"
              "time.sleep(60)\n")
    app = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "cfg")], env=dict(os.environ, DISPLAY=xvfb),
                           stdout=subprocess.PIPE, text=True)
    try:
        pid = int(app.stdout.readline())
        assert _windows(xvfb, TITLE) and not _gone(pid)
        app.kill()
        app.wait(5)
        assert _wait(lambda: _gone(pid)), "the palette outlived the app"
        assert _wait(lambda: not _windows(xvfb, TITLE))
    finally:
        if app.poll() is None:
            app.kill()
