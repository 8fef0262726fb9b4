import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import fakes
from vcam_lipstick.app import Controller, SourceChoice, SourceKind
from vcam_lipstick.menu import find
from vcam_lipstick.processing.shades import ShadeError
from vcam_lipstick.settings import Settings, SettingsStore
from vcam_lipstick.system import AlreadyRunning, SingleInstance, autostart_path


@pytest.fixture
def controller(tmp_path):
    notes = []
    c = Controller(SettingsStore(tmp_path / "cfg"), notify=notes.append, tracker_factory=lambda: None)
    c.notes = notes
    return c


def test_menu_is_a_pure_function_of_state(controller):
    menu = controller.menu()
    assert find(menu, "Lipstick on").checked is True
    assert find(menu, "Shade").text == "Shade: Rose Petal"
    assert find(menu, "Rose Petal").checked and not find(menu, "Classic Red").checked
    assert find(menu, "Satin").checked  # Rose Petal's own finish
    assert find(menu, "75%").checked
    families = [e.text for e in find(menu, "Shade").children]
    assert families[:3] == ["Nudes", "Pinks", "Corals"]
    for text in ("Shades…", "Custom colour…", "Ombré", "Compare before/after", "Mirror", "Camera", "Show preview",
                 "Start at login", "Open log folder", "About", "Quit"):
        find(menu, text)


def test_menu_actions_change_the_next_frame_view_and_persist(controller, tmp_path):
    find(controller.menu(), "Classic Red").action()
    find(controller.menu(), "Gloss").action()
    find(controller.menu(), "50%").action()
    find(controller.menu(), "Mirror").action()
    view = controller.view
    assert view.look.shade.name == "Classic Red" and view.look.finish.value == "gloss"
    assert view.look.intensity == 0.5 and view.mirror
    assert find(controller.menu(), "Classic Red").checked and find(controller.menu(), "Gloss").checked
    reloaded = SettingsStore(tmp_path / "cfg").load()
    assert (reloaded.shade, reloaded.finish, reloaded.intensity, reloaded.mirror) == ("Classic Red", "gloss", 50, True)
    find(controller.menu(), "Lipstick on").action()
    assert controller.view.enabled is False


def test_custom_colour_and_picking_a_shade_resets_the_finish(controller):
    controller.set_custom_color("#123456")
    assert controller.view.look.shade.hex == "#123456"
    controller.set_finish("matte")
    controller.set_shade("Hot Pink")
    assert controller.view.look.finish.value == "satin"


def test_tray_converts_the_menu_for_pystray(controller, monkeypatch):
    monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")
    import pystray

    from vcam_lipstick.tray import lips_icon, to_pystray

    refreshed = []
    menu = to_pystray(controller.menu(), pystray, lambda: refreshed.append(1))
    items = {item.text: item for item in menu.items}
    assert items["Lipstick on"].checked is True and items["Lipstick on"].default
    shades = {i.text: i for i in items["Shade: Rose Petal"].submenu.items}
    red = {i.text: i for i in shades["Reds"].submenu.items}["Classic Red"]
    assert red.checked is False and red.radio
    red(None)  # what pystray does on click
    assert controller.settings.shade == "Classic Red" and refreshed
    icon = lips_icon((192, 20, 30))
    assert icon.size == (64, 64) and icon.getpixel((32, 42))[:3] == (192, 20, 30)


def test_tray_refresh_updates_icon_tooltip_and_stops_on_quit(controller, monkeypatch):
    monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")
    import pystray

    from vcam_lipstick import tray as tray_module

    stopped = []

    class FakeIcon:
        HAS_MENU = True

        def __init__(self, name, icon, title, menu):
            self.icon, self.title, self.menu = icon, title, menu

        def update_menu(self):
            pass

        def stop(self):
            stopped.append(True)

    monkeypatch.setattr(pystray, "Icon", FakeIcon)
    tray = tray_module.Tray(controller)
    controller.set_shade("Deep Plum")
    tray.ui.drain()  # what the tray's event loop does when woken
    assert "Deep Plum" in tray.icon.title and "matte" in tray.icon.title
    assert tray.icon.icon.getpixel((32, 42))[:3] == (0x4E, 0x1A, 0x38)
    controller.quit()
    assert not stopped  # only the UI thread stops the icon
    tray.ui.drain()
    assert stopped


def test_controller_runs_demo_to_recording_virtual_camera_with_passthrough_on_model_error(tmp_path):
    def broken():
        raise RuntimeError("corrupt model")

    notes = []
    c = Controller(SettingsStore(tmp_path), notify=notes.append, tracker_factory=broken)
    c.settings.width, c.settings.height = 320, 240
    loop = c.start("demo", None, max_frames=5, backend="recording")
    assert loop.wait(10)
    c.stop()
    assert any("unchanged" in n for n in notes)
    backend = fakes.RecordingBackend.instances[-1]
    assert len(backend.frames) == 5 and backend.closed


def test_second_instance_is_refused(tmp_path):
    with SingleInstance(tmp_path):
        with pytest.raises(AlreadyRunning, match="already running"):
            SingleInstance(tmp_path).acquire()
    with SingleInstance(tmp_path):  # released on exit
        pass


def test_start_at_login_writes_and_removes_the_entry(controller):
    def entries() -> list[str]:
        path = autostart_path()
        if path is None:  # Windows: the per-user Run key, a fake registry in the tests (conftest)
            import winreg

            return [value for key in winreg.keys.values() for _, value in key.values()]
        return [path.read_text()] if path.is_file() else []

    find(controller.menu(), "Start at login").action()
    assert any("vcam" in entry for entry in entries())
    assert controller.settings.start_at_login
    find(controller.menu(), "Start at login").action()
    assert not entries()


def test_doctor_without_driver_explains_what_to_install(monkeypatch):
    from vcam_lipstick import doctor

    monkeypatch.setattr(doctor, "_virtual_camera_check", lambda: (False, "no v4l2loopback device found"))
    lines = []
    code = doctor.run_doctor(out=lines.append, probe_cameras=False)
    text = "\n".join(lines)
    assert code == 1
    if sys.platform.startswith("linux"):
        assert "modprobe v4l2loopback" in text and "exclusive_caps=1" in text and 'card_label="Lipstick Cam"' in text
        assert "/etc/modules-load.d" in text
    assert "even frame width" in text
    assert "OBS Studio 30" in doctor.virtual_camera_help("win32") and "OBS" in doctor.virtual_camera_help("darwin")


def test_headless_run_shuts_down_cleanly_on_sigterm(tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "vcam_lipstick", "run", "--no-tray", "--source", "demo",
                             "--sink", str(tmp_path / "out.mp4"), "--size", "320x240"],
                            env=env, stderr=subprocess.PIPE, text=True)
    time.sleep(6)
    assert proc.poll() is None, proc.stderr.read()
    proc.terminate()
    proc.wait(5)  # how fast: benchmarks/app_bench.py prints the shutdown time
    assert proc.returncode == 0
    assert (tmp_path / "out.mp4").stat().st_size > 0


def test_virtual_camera_takes_the_source_resolution_and_rate(tmp_path):
    from vcam_lipstick.media import VideoWriter

    clip = tmp_path / "cam.mp4"
    with VideoWriter(clip, 160, 120, 24.0) as w:
        for i in range(10):
            w.write(np.full((120, 160, 3), 20 * i, np.uint8))
    c = Controller(SettingsStore(tmp_path / "cfg"), notify=lambda m: None, tracker_factory=lambda: None)
    loop = c.start(str(clip), None, max_frames=4, backend="recording")
    assert loop.wait(10)
    c.stop()
    backend = fakes.RecordingBackend.instances[-1]
    assert (backend.width, backend.height, backend.fps) == (160, 120, 24.0)
    assert backend.frames[0].shape == (120, 160, 3)


def test_camera_menu_lists_probed_cameras(controller, monkeypatch):
    monkeypatch.setattr("vcam_lipstick.devices.sources.list_cameras", lambda n, skip=(): [2])
    controller.sources.choice = SourceChoice(SourceKind.CAMERA, index=0, automatic=True)
    controller.refresh_cameras()
    cameras = [e.text for e in find(controller.menu(), "Camera").children]
    assert cameras == ["Automatic", "Camera 0", "Camera 2"]
    find(controller.menu(), "Camera 2").action()
    assert controller.settings.camera == 2 and find(controller.menu(), "Camera 2").checked


class FakeGi:
    """Stands in for PyGObject with a chosen set of typelibs installed."""

    def __init__(self, *namespaces):
        self.namespaces = set(namespaces)

    def require_version(self, namespace, version):
        if namespace not in self.namespaces:
            raise ValueError(f"Namespace {namespace} not available")


@pytest.mark.parametrize("typelibs, tray_present, expected", [
    (("Gtk", "AyatanaAppIndicator3"), False, "appindicator"),  # StatusNotifier over D-Bus, no X tray needed
    (("Gtk",), True, "gtk"),  # PyGObject without AppIndicator: pystray's own choice would crash
    (("Gtk",), False, "xorg"),  # no system tray: a GTK icon would be invisible; the control window opens
    ((), True, "xorg"),
])
def test_linux_tray_backend_never_picks_one_that_cannot_show(typelibs, tray_present, expected):
    from vcam_lipstick.tray import pick_linux_backend

    assert pick_linux_backend(FakeGi(*typelibs), tray_present=lambda: tray_present) == expected


def wait_until(condition, timeout=15.0):
    """Poll until ``condition()`` holds; the timeout only bounds a broken run."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_virtual_camera_removed_mid_run_is_told_once_and_reopened(tmp_path, monkeypatch):
    monkeypatch.setattr("vcam_lipstick.runner.OUTPUT_RETRY_SECONDS", 0.2)
    fakes.RemovableBackend.removed.clear()
    notes = []
    c = Controller(SettingsStore(tmp_path), notify=notes.append, tracker_factory=lambda: None)
    c.settings.width, c.settings.height = 160, 120
    loop = c.start("demo", None, backend="removable")
    try:
        first = fakes.RecordingBackend.instances[-1]
        assert wait_until(lambda: len(first.frames) >= 3)
        fakes.RemovableBackend.removed.set()  # the driver unloaded under us
        assert wait_until(lambda: any("stopped" in n for n in notes))
        time.sleep(0.7)  # several reopen attempts fail meanwhile
        fakes.RemovableBackend.removed.clear()
        assert wait_until(lambda: fakes.RecordingBackend.instances[-1] is not first
                          and len(fakes.RecordingBackend.instances[-1].frames) >= 3)
        assert loop.error is None and first.closed
    finally:
        fakes.RemovableBackend.removed.clear()
        c.stop()
    stopped = [n for n in notes if "stopped" in n]
    assert len(stopped) == 1 and "No such device" in stopped[0] and "Retrying every 0.2 s" in stopped[0]
    assert any(n.endswith("is back.") for n in notes)


class ConcurrencyTracker:
    """Records how many threads are inside it at once; its first frame takes ``first_delay`` seconds."""

    def __init__(self, first_delay=0.0):
        self.inside = self.most = self.calls = 0
        self.first_delay = first_delay
        self.lock = threading.Lock()

    def process(self, frame):
        with self.lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
            self.calls += 1
            delay = self.first_delay if self.calls == 1 else 0.0
        time.sleep(delay)
        with self.lock:
            self.inside -= 1
        return []

    def reset(self):
        pass


def test_a_restart_never_lets_two_workers_share_one_model(tmp_path, monkeypatch):
    monkeypatch.setattr("vcam_lipstick.runner.RESTART_WAIT_SECONDS", 0.1)
    trackers = []

    def factory():
        trackers.append(ConcurrencyTracker(first_delay=2.0 if not trackers else 0.0))
        return trackers[-1]

    c = Controller(SettingsStore(tmp_path), notify=lambda m: None, tracker_factory=factory)
    c.settings.width, c.settings.height = 160, 120
    c.start("demo", "null")
    try:
        assert wait_until(lambda: trackers[0].calls >= 1)  # the worker is inside its slow first frame
        c.restart_loop()
        assert wait_until(lambda: sum(t.calls for t in trackers) >= 10)
        time.sleep(2.0)  # let the old worker finish its frame
    finally:
        c.stop()
    assert len(trackers) == 2 and all(t.most == 1 for t in trackers)


def test_an_exception_that_ends_a_thread_is_logged(monkeypatch, caplog, capsys):
    from vcam_lipstick.app import install_thread_excepthook

    monkeypatch.setattr(threading, "excepthook", threading.excepthook)  # restored after the test
    install_thread_excepthook()

    def boom():
        raise KeyError("no such menu item")

    t = threading.Thread(target=boom, name="colour-dialog")
    t.start()
    t.join()
    assert "unexpected error in colour-dialog" in caplog.text and "no such menu item" in caplog.text
    assert "Traceback" not in capsys.readouterr().err  # not printed to a console a tray app does not have


def test_run_writes_the_stats_file_on_exit(tmp_path, monkeypatch):
    import json

    from vcam_lipstick.cli import main

    monkeypatch.chdir(tmp_path)
    stats = tmp_path / "stats.json"
    assert main(["run", "--no-tray", "--source", "demo", "--sink", "null", "--size", "320x240", "--frames", "20",
                 "--stats", str(stats)]) == 0
    summary = json.loads(stats.read_text())
    assert sorted(summary) == sorted(["frames_published", "frames_dropped", "frames_repeated", "latency_ms_p50",
                                      "latency_ms_p99", "cpu_percent_of_one_core", "rss_mb_max"])
    assert summary["frames_published"] == 20
    assert 0 < summary["latency_ms_p50"] <= summary["latency_ms_p99"]
    assert summary["rss_mb_max"] > 0 and summary["cpu_percent_of_one_core"] > 0


def write_clip(path, frames, size=(160, 120)):
    from vcam_lipstick.media import VideoWriter

    with VideoWriter(path, size[0], size[1], 30.0) as w:
        for i in range(frames):
            w.write(np.full((size[1], size[0], 3), 40 + 20 * i, np.uint8))


def test_a_one_frame_video_as_source_is_shown_as_a_still(tmp_path):
    clip = tmp_path / "one.mp4"
    write_clip(clip, 1)
    c = Controller(SettingsStore(tmp_path / "cfg"), notify=lambda m: None, tracker_factory=lambda: None)
    loop = c.start(str(clip), None, max_frames=45, backend="recording")
    assert loop.wait(20)
    c.stop()
    frames = fakes.RecordingBackend.instances[-1].frames
    assert len(frames) == 45 and loop.stats.placeholders == 0
    assert all(abs(float(f.mean()) - 40) < 4 for f in frames)  # the one frame, every time
    assert loop.stats.reconnects == 0


def test_a_video_file_cut_to_nothing_mid_run_says_video_file_and_backs_off(tmp_path, monkeypatch):
    monkeypatch.setattr("vcam_lipstick.loop.RETRY_SECONDS", 0.3)
    clip = tmp_path / "talk.mp4"
    write_clip(clip, 10)
    notes = []
    c = Controller(SettingsStore(tmp_path / "cfg"), notify=notes.append, tracker_factory=lambda: None)
    loop = c.start(str(clip), None, backend="recording")
    try:
        backend = fakes.RecordingBackend.instances[-1]
        assert wait_until(lambda: len(backend.frames) >= 3)
        clip.write_bytes(b"")  # truncated to 0 bytes under the app
        assert wait_until(lambda: loop.stats.placeholders >= 3)
        placeholder = backend.frames[-1]
        t = time.monotonic()
        opens = loop.stats.reconnects
        time.sleep(1.2)
        attempts = loop.stats.reconnects - opens
        elapsed = time.monotonic() - t
    finally:
        c.stop()
    assert attempts <= elapsed / 0.3 + 1  # a back-off between tries, not a busy loop
    told = [n for n in notes if "unavailable" in n]
    assert told and all(n.startswith("Video file unavailable") for n in told) and not any("Camera" in n for n in notes)
    from vcam_lipstick.loop import placeholder_frame

    assert np.array_equal(placeholder, placeholder_frame(160, 120, "Video file unavailable - retrying"))


def test_the_source_is_a_typed_choice_not_a_label_to_parse():
    import dataclasses

    assert SourceChoice.from_spec("3") == SourceChoice(SourceKind.CAMERA, index=3)
    assert SourceChoice.from_spec("demo").kind is SourceKind.DEMO
    clip = SourceChoice.from_spec("talk 2.mp4")  # a path with a space and a digit
    assert (clip.kind, clip.path, clip.spec, clip.label) == (SourceKind.FILE, "talk 2.mp4", "talk 2.mp4", "talk 2.mp4")
    assert SourceChoice(SourceKind.DEMO, automatic=True, note="no webcam found").label == "demo (no webcam found)"
    assert SourceChoice.from_spec("3").label == "camera 3" and SourceChoice.from_spec("3").spec == "3"
    with pytest.raises(dataclasses.FrozenInstanceError):
        SourceChoice.from_spec("3").index = 4


def test_the_controller_sets_no_attribute_outside_init(tmp_path, monkeypatch):
    monkeypatch.setattr("vcam_lipstick.devices.sources.list_cameras", lambda n, skip=(): [1])
    c = Controller(SettingsStore(tmp_path), notify=lambda m: None, tracker_factory=lambda: None)
    c.settings.width, c.settings.height = 160, 120
    attributes = set(vars(c))
    loop = c.start("demo", "null", max_frames=3)
    assert loop.wait(10)
    for text in ("Classic Red", "Gloss", "50%", "Mirror", "Compare before/after", "Lipstick on"):
        find(c.menu(), text).action()
    c.refresh_cameras()
    c.set_camera(1)  # a named source (--source demo) stays; the loop restarts on it
    c.write_stats(tmp_path / "stats.json")
    c.about_text()
    c.quit()
    c.stop()
    assert set(vars(c)) == attributes
    assert c.source.kind is SourceKind.DEMO and c.loop is not loop


def test_a_camera_change_picks_again_only_for_an_automatic_source(tmp_path, monkeypatch):
    c = Controller(SettingsStore(tmp_path), notify=lambda m: None, tracker_factory=lambda: None)
    c.settings.width, c.settings.height = 160, 120
    monkeypatch.setattr("vcam_lipstick.app.first_camera", lambda settings: None)  # no webcam: the demo
    monkeypatch.setattr("vcam_lipstick.devices.sources.list_cameras", lambda n, skip=(): [])
    monkeypatch.setattr("vcam_lipstick.devices.sources._open_capture", lambda index: fakes.FakeCapture(opened=False))
    c.start(None, "null")
    try:
        assert c.source == SourceChoice(SourceKind.DEMO, automatic=True, note="no webcam found")
        picked = []
        monkeypatch.setattr("vcam_lipstick.app.first_camera", lambda settings: picked.append(settings.camera))
        c.set_camera(3)
        assert picked == [3]  # chosen again from the settings
        assert c.source.kind is SourceKind.CAMERA and c.source.index == 3 and c.source.automatic
    finally:
        c.stop()


def test_ombre_from_the_settings_reaches_the_view_and_an_unknown_one_is_off(tmp_path):
    store = SettingsStore(tmp_path)
    store.save(Settings(shade="Wine Berry", ombre="Ballet Pink"))
    c = Controller(store, notify=lambda m: None, tracker_factory=lambda: None)
    assert c.view.look.shade.name == "Wine Berry" and c.view.look.ombre.name == "Ballet Pink"
    assert find(c.menu(), "Ombré").text == "Ombré: Ballet Pink"
    ticked = [e.text for e in find(c.menu(), "Ombré").children if e.checked]
    assert len(ticked) == 1 and ticked[0].endswith("Ballet Pink")  # shown in the tray's choice, ticked
    store.save(Settings(ombre="#F0C0C8"))
    assert Controller(store, notify=lambda m: None).view.look.ombre.hex == "#F0C0C8"
    store.save(Settings(ombre="No Such Shade"))
    c = Controller(store, notify=lambda m: None)
    assert c.view.look.ombre is None  # unknown: one shade, not a crash
    assert [e.text for e in find(c.menu(), "Ombré").children if e.checked] == ["Off"]


def test_tray_ombre_is_off_or_the_matching_lighter_shade_and_is_stored(controller, tmp_path):
    menu = controller.menu()
    assert find(menu, "Ombré").text == "Ombré: off" and find(menu, "Off").checked
    match = controller.shades.lighter_match(controller.shade())
    entry = find(menu, "Matching lighter")
    assert entry.text == f"Matching lighter: {match.name}" and not entry.checked
    entry.action()
    assert controller.view.look.ombre == match
    assert SettingsStore(tmp_path / "cfg").load().ombre == match.name
    assert find(controller.menu(), "Matching lighter").checked and not find(controller.menu(), "Off").checked
    controller.set_shade("Wine Berry")  # the matching shade follows a change of shade
    assert controller.view.look.ombre == controller.shades.lighter_match(controller.shade()) != match
    find(controller.menu(), "Off").action()
    assert controller.view.look.ombre is None and SettingsStore(tmp_path / "cfg").load().ombre is None


def test_an_ombre_picked_by_name_stays_when_the_shade_changes(controller):
    controller.set_ombre("peach coral")  # not Rose Petal's matching lighter shade (Ballet Pink)
    assert controller.settings.ombre == "Peach Coral"
    controller.set_shade("Classic Red")
    assert controller.view.look.ombre.name == "Peach Coral"
    with pytest.raises(ShadeError, match="unknown shade"):
        controller.set_ombre("Peach Corall")
    assert controller.settings.ombre == "Peach Coral"
