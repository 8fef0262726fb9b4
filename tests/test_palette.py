"""The shade palette: a click reaches the next published frame and the settings, the live thumbnail,
keyboard moves, a shade file broken while it is open, closing with the app, and `vcam-lipstick palette`.

The window's process is real (spawned, with the real queues and pipe); the scripted users in
``palette_child`` stand in for Tk. tests/test_display.py clicks the real window under Xvfb."""

import json
import os
import threading
import time

import numpy as np
import pytest

import fakes  # noqa: F401  (registers the recording virtual camera)
import palette_child
from conftest import ellipse_labels
from vcam_lipstick import palette_window
from vcam_lipstick.app import Controller
from vcam_lipstick.frame_tap import FrameTap, Thumbnails
from vcam_lipstick.menu import find
from vcam_lipstick.palette import COLUMNS, PaletteProcess, neighbour, state_of
from vcam_lipstick.processing.mask import LipMask
from vcam_lipstick.processing.render import LipRenderer
from vcam_lipstick.processing.shades import Look, ShadeBook
from vcam_lipstick.settings import SettingsStore

W, H = 160, 120


def wait_until(condition, timeout=20.0):
    """Poll until ``condition()`` holds; the timeout only bounds a broken run."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def still_frame():
    """A skin-coloured frame with darker lips where the fake tracker puts the mouth."""
    frame = np.full((H, W, 3), (120, 150, 200), np.uint8)
    frame[ellipse_labels(H, W, (80, 60), (40, 16)) > 0] = (90, 90, 150)
    return frame


class StillSource:
    """The same picture at 30 fps, each frame numbered in its first pixel (a camera that never moves)."""

    paced = True
    width, height, fps = W, H, 30.0

    def __init__(self):
        self.count = 0

    def read(self):
        time.sleep(1 / 30)
        self.count += 1
        frame = still_frame()
        frame[0, 0, :2] = (self.count % 256, self.count // 256)
        return frame

    def close(self):
        pass


def number(frame):
    return int(frame[0, 0, 0]) + 256 * int(frame[0, 0, 1])


class FixedMouth:
    """A lip tracker that always finds the same mouth."""

    def __init__(self):
        self.mask = LipMask.from_labels(ellipse_labels(H, W, (80, 60), (40, 16)))

    def process(self, frame):
        return [self.mask]

    def reset(self):
        pass


@pytest.fixture
def child_log(tmp_path, monkeypatch):
    path = tmp_path / "child.json"
    monkeypatch.setenv(palette_child.LOG_ENV, str(path))
    return path


def read_log(path):
    assert wait_until(path.exists, 10), "the palette's process wrote nothing"
    return json.loads(path.read_text())


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for the user; reap it if it is ours
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


# -- a click reaches the frame, the settings and the window --------------------------------------------
def test_a_palette_click_changes_the_next_published_frame_and_is_saved(tmp_path, child_log, monkeypatch):
    source = StillSource()
    monkeypatch.setattr("vcam_lipstick.app.open_source", lambda *a, **k: source)
    monkeypatch.setattr(palette_window, "window_main", palette_child.pick_classic_red)
    c = Controller(SettingsStore(tmp_path / "cfg"), notify=lambda m: None, tracker_factory=FixedMouth)
    c.start("demo", None, backend="recording")
    backend = fakes.RecordingBackend.instances[-1]
    changed_at = []

    def listener():  # called after the view swap: the frame read last is the last one before the click
        if c.view.look.shade.name == "Classic Red" and not changed_at:
            changed_at.append(source.count)

    c.add_listener(listener)
    try:
        assert wait_until(lambda: len(backend.frames) >= 5)
        c.open_palette()
        assert wait_until(lambda: changed_at), "the click never reached the app"
        assert wait_until(lambda: backend.frames and number(backend.frames[-1]) >= changed_at[0] + 5)
        assert wait_until(lambda: c.palette.opened_in is not None)
    finally:
        c.stop()
    masks = FixedMouth().process(None)
    look = c.view.look
    rose_petal = ShadeBook.load().get("Rose Petal")
    rose = LipRenderer().render(still_frame(), masks, Look(rose_petal, rose_petal.finish, look.intensity))
    red = LipRenderer().render(still_frame(), masks, look)
    assert not np.array_equal(rose, red)
    at = changed_at[0]
    before = [f for f in backend.frames if number(f) < at - 1]  # drawn before the click
    after = [f for f in backend.frames if number(f) > at]  # read after it: the next frame on
    assert before and after
    assert all(np.array_equal(f[1:], rose[1:]) for f in before)  # row 0 holds the frame number
    assert all(np.array_equal(f[1:], red[1:]) for f in after)
    assert SettingsStore(tmp_path / "cfg").load().shade == "Classic Red"
    seen = read_log(child_log)
    assert seen["pid"] != os.getpid() and seen["closed_by_app"]
    assert seen["states"][0]["shade"] == "Rose Petal" and seen["states"][0]["live"]
    assert seen["states"][-1]["shade"] == "Classic Red"  # the window hears the change and marks it
    assert seen["thumbs"] == [{"width": W, "height": H, "bytes": W * H * 3, "differ": True}]  # before vs after
    assert not pid_alive(seen["pid"])


def test_standalone_palette_changes_the_stored_settings(tmp_path, child_log, monkeypatch):
    from vcam_lipstick.cli import main

    monkeypatch.setenv("DISPLAY", ":0")  # the stand-in needs none; the command checks that one is named
    monkeypatch.setattr(palette_window, "window_main", palette_child.choose_and_close)
    assert main(["palette"]) == 0
    s = SettingsStore().load()
    assert (s.shade, s.finish, s.intensity, s.ombre) == ("Classic Red", "gloss", 50, "Ballet Pink")
    first = read_log(child_log)["states"][0]
    assert first["live"] is False and first["shade"] == "Rose Petal"  # the thumbnail says the app is not running


def test_palette_command_with_no_display_is_one_line_and_exit_1(capsys):
    from vcam_lipstick.cli import main

    assert main(["palette"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no display" in err and "Traceback" not in err


def test_palette_command_says_when_tk_cannot_reach_the_display(monkeypatch, capsys):
    from vcam_lipstick.cli import main

    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.setattr(palette_window, "window_main", palette_child.cannot_open)
    assert main(["palette"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "connect to display" in err


def test_palette_command_while_the_app_runs_points_to_its_tray(monkeypatch, capsys):
    from vcam_lipstick.cli import main
    from vcam_lipstick.settings import config_dir
    from vcam_lipstick.system import SingleInstance

    monkeypatch.setenv("DISPLAY", ":0")
    store = SettingsStore()
    with SingleInstance(config_dir(), mode="tray"):
        assert main(["palette"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already running" in err and "Shades…" in err
    assert not store.path.exists()  # nothing was changed behind the running app's back


def test_palette_process_with_real_tk_fails_in_one_line_without_an_x_server(monkeypatch, capsys):
    """The real window's process, pointed at a display that does not exist."""
    from vcam_lipstick.cli import main

    pytest.importorskip("tkinter")
    monkeypatch.setenv("DISPLAY", ":1234")
    assert main(["palette"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: the palette cannot open") and "display" in err


# -- open from the menu, once; closes with the app -------------------------------------------------------
def test_shades_entry_opens_one_palette_and_quitting_the_app_closes_it(tmp_path, child_log, monkeypatch):
    monkeypatch.setattr(palette_window, "window_main", palette_child.watch)
    c = Controller(SettingsStore(tmp_path), notify=lambda m: None, tracker_factory=lambda: None)
    find(c.menu(), "Shades…").action()
    assert wait_until(lambda: c.palette.opened_in is not None)
    pid = c.palette.pid
    find(c.menu(), "Shades…").action()  # already open: brought to the front, not opened twice
    assert c.palette.pid == pid
    c.set_intensity(50)
    c.quit()
    c.stop()
    seen = read_log(child_log)
    assert seen["pid"] == pid and seen["closed_by_app"] and seen.get("raised") == 1
    assert seen["states"][-1]["intensity"] == 50
    assert not pid_alive(pid)


def test_the_controls_window_offers_shades_and_its_click_opens_the_palette(tmp_path, child_log, monkeypatch):
    """Where the tray has no menu, the Tk controls window shows the menu as data; Shades… opens the palette."""
    import pickle

    from vcam_lipstick.menu import resolve, screen_of

    monkeypatch.setattr(palette_window, "window_main", palette_child.watch)
    c = Controller(SettingsStore(tmp_path), notify=lambda m: None, tracker_factory=lambda: None)
    screen = pickle.loads(pickle.dumps(screen_of(c.menu(), c.shade().hex)))  # as the window gets it
    item = next(i for i in screen.items if i.text == "Shades…")
    assert item.clickable
    resolve(c.menu(), item.path, item.text).action()  # what the tray does with the window's click
    try:
        assert wait_until(lambda: c.palette.opened_in is not None)
        assert c.palette.is_open
    finally:
        c.stop()
    assert read_log(child_log)["closed_by_app"]


def test_a_palette_that_cannot_open_is_told_and_can_be_opened_again(tmp_path, monkeypatch):
    monkeypatch.setattr(palette_window, "window_main", palette_child.cannot_open)
    notes = []
    c = Controller(SettingsStore(tmp_path), notify=notes.append, tracker_factory=lambda: None)
    c.open_palette()
    assert c.palette.closed.wait(20)
    assert c.palette.error and "connect to display" in c.palette.error
    assert any("palette cannot open" in n and "connect to display" in n for n in notes)
    assert not c.palette.is_open
    c.open_palette()  # a later try starts a new window
    assert c.palette.closed.wait(20)
    c.stop()


# -- a shades.json broken while the palette is open ------------------------------------------------------
@pytest.mark.parametrize("broken, named", [
    ('{"shades": [{"name": "My Red", "family": "reds", "color": "#B0102"}]}', "skipping shade #1 'My Red'"),
    ('{"shades": [{"name": "My Red", "family": "reds",', "cannot read user shades"),
])
def test_a_shade_file_broken_while_the_palette_is_open_keeps_the_built_ins_and_names_the_problem(
        tmp_path, child_log, monkeypatch, broken, named):
    monkeypatch.setattr("vcam_lipstick.palette.WATCH_SECONDS", 0.1)
    monkeypatch.setattr(palette_window, "window_main", palette_child.watch)
    folder = tmp_path / "cfg"
    folder.mkdir()
    shades = folder / "shades.json"
    shades.write_text('{"shades": [{"name": "My Red", "family": "reds", "color": "#B01020"}]}')
    c = Controller(SettingsStore(folder), notify=lambda m: None, tracker_factory=lambda: None)
    c.set_shade("My Red")
    c.open_palette()
    assert wait_until(lambda: c.palette.opened_in is not None)
    shades.write_text(broken)  # the user saves a typo
    assert wait_until(lambda: c.shade_problems)
    time.sleep(0.3)  # the new state's way to the window
    c.stop()
    first, last = read_log(child_log)["states"][0], read_log(child_log)["states"][-1]
    assert "My Red" in first["names"] and first["notice"] == ""
    assert named in last["notice"] and str(shades) in last["notice"]
    assert set(n for n in first["names"] if n != "My Red") <= set(last["names"])  # every built-in shade
    assert last["shade"] == "My Red"  # the look in use stays until the user picks another
    assert c.view.look.shade.hex == "#B01020"


# -- the thumbnail never slows the frame loop -------------------------------------------------------------
def test_the_frame_tap_copies_small_frames_only_when_due_and_only_while_someone_listens():
    now = [0.0]
    tap = FrameTap(period=0.3, width=192, clock=lambda: now[0])
    frame = np.zeros((720, 1280, 3), np.uint8)
    frame[:, :640] = (255, 0, 0)  # blue on the left
    assert tap.before(frame) is None  # nobody listens: nothing is copied
    got = []
    tap.connect(got.append)
    small = tap.before(frame)
    assert small.shape == (108, 192, 3)
    assert tap.before(frame) is None  # not due yet
    out = frame.copy()
    out[:] = (0, 0, 255)
    tap.after(small, cv2_flip(out), mirror=True)
    t = got[0]
    assert isinstance(t, Thumbnails) and (t.width, t.height) == (192, 108)
    before = np.frombuffer(t.before, np.uint8).reshape(108, 192, 3)
    assert tuple(before[50, 180]) == (0, 0, 255)  # RGB now, and mirrored: the blue half moved right
    assert tuple(np.frombuffer(t.after, np.uint8).reshape(108, 192, 3)[50, 10]) == (255, 0, 0)
    now[0] = 0.31
    assert tap.before(frame) is not None
    tap.disconnect()
    now[0] = 1.0
    assert tap.before(frame) is None


def cv2_flip(frame):
    return np.ascontiguousarray(frame[:, ::-1])


def test_a_window_that_does_not_read_its_thumbnails_never_blocks_the_sender():
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    window = PaletteProcess(lambda m: None, lambda e: None)
    window._thumbs = context.Queue(maxsize=1)  # as start() makes it; nothing reads it
    thumbnails = Thumbnails(2, 1, b"\0" * 6, b"\1" * 6)
    sender = threading.Thread(target=lambda: [window.offer(thumbnails) for _ in range(100)])
    sender.start()
    sender.join(5)
    assert not sender.is_alive()  # every copy after the first was dropped, none waited
    assert window._thumbs.get(timeout=5) == thumbnails
    window._thumbs.close()


# -- what the window shows, and the keyboard -------------------------------------------------------------
def test_the_state_groups_swatches_by_family_marks_the_current_shade_and_adds_a_custom_colour(tmp_path):
    c = Controller(SettingsStore(tmp_path), notify=lambda m: None, tracker_factory=lambda: None)
    state = state_of(c, live=True)
    families = [family for family, _ in state.families]
    assert families[:3] == ["nudes", "pinks", "corals"] and len(state.swatches()) == len(c.shades)
    assert state.shade == "Rose Petal" and state.shade_hex == "#C8637A" and state.ombre is None
    assert state.ombre_match == c.shades.lighter_match(c.shade()).name
    c.set_custom_color("#123456")
    state = state_of(c, live=False)
    assert state.families[-1][0] == "custom" and state.families[-1][1][0].hex == "#123456"
    assert state.shade == "#123456"


def test_arrow_keys_move_through_swatches_by_row_across_families():
    counts = (4, 10, 3)  # 4 in one row; 8 + 2 in two rows; 3
    assert COLUMNS == 8
    assert neighbour(counts, 3, "Right") == 4  # the end of a family leads into the next
    assert neighbour(counts, 4, "Left") == 3
    assert neighbour(counts, 0, "Left") == 0 and neighbour(counts, 16, "Right") == 16  # edges hold
    assert neighbour(counts, 2, "Down") == 6  # same column in the next family's first row
    assert neighbour(counts, 11, "Down") == 13  # column 7 -> the short row's last swatch
    assert neighbour(counts, 13, "Down") == 15  # the short row's column 1 -> the next family's column 1
    assert neighbour(counts, 15, "Up") == 13 and neighbour(counts, 12, "Up") == 4
    assert neighbour(counts, 4, "Up") == 0 and neighbour(counts, 1, "Up") == 1
    assert neighbour(counts, 7, "Up") == 3  # column 3 kept
