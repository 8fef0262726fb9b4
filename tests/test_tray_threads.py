"""One thread owns the UI (issue 14): every tray icon call and every Tk call happens on a main thread.

A fake pystray Icon plays each backend's event loop on the thread that calls ``run()`` (the main
thread, as pystray requires) and records the thread of every icon call. Each backend's own way onto
its loop is faked (GLib.idle_add, AppHelper.callAfter, a window message, an X ClientMessage), so
``tray.waker_for`` is exercised as it runs on that system. Workers (the camera probe, the frame
loop's status reports, a dialog's answer) then change the state, and nothing may reach the icon
from their threads. The control window and the colour dialog run a fake Tk in child processes.
"""

import os
import queue
import sys
import threading
import time
import types

import pytest

import fake_tk
import fakes
from vcam_lipstick.app import Controller
from vcam_lipstick.settings import SettingsStore

MAIN = threading.main_thread()
#: Bounds a broken run only; nothing is timed.
LOOP_LIMIT_SECONDS = 60.0


def wait_until(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


class LoopIcon:
    """A pystray Icon whose ``run()`` is an event loop on the calling thread, fed by ``events``.

    Like pystray, ``run(setup)`` calls ``setup`` in a thread of its own once the loop is ready, and
    menu clicks are handled on the loop's thread. Every icon call is recorded with its thread."""

    HAS_MENU = True
    HAS_NOTIFICATION = True
    events = None  # the loop's queue of callables, shared with the faked toolkit call

    def __init__(self, name, icon=None, title=None, menu=None):
        object.__setattr__(self, "calls", [])
        object.__setattr__(self, "notices", [])
        object.__setattr__(self, "stopped", False)
        self.icon, self.title, self.menu = icon, title, menu

    def __setattr__(self, name, value):
        if name in ("icon", "title", "menu", "visible"):
            self.calls.append((name, threading.current_thread()))
        object.__setattr__(self, name, value)

    def update_menu(self):
        self.calls.append(("update_menu", threading.current_thread()))

    def notify(self, message, title=None):
        self.calls.append(("notify", threading.current_thread()))
        self.notices.append(message)

    def stop(self):
        self.calls.append(("stop", threading.current_thread()))
        object.__setattr__(self, "stopped", True)

    def _ready(self):
        """What the backend has set up by the time ``setup`` runs."""

    def run(self, setup=None):
        self.calls.append(("run", threading.current_thread()))
        self._ready()
        threading.Thread(target=setup, args=(self,), name="pystray-setup").start()
        deadline = time.monotonic() + LOOP_LIMIT_SECONDS
        while not self.stopped:
            try:
                event = self.events.get(timeout=0.05)
            except queue.Empty:
                assert time.monotonic() < deadline, "the tray was never stopped"
                continue
            event()

    def click(self, *texts):
        """The user picks a menu item (from any thread); the backend handles it on its loop."""
        def handle():
            items = self.menu.items
            for text in texts[:-1]:
                items = next(i for i in items if i.text == text).submenu.items
            next(i for i in items if i.text == texts[-1])(self)

        self.events.put(handle)

    def off_main(self):
        return [(call, thread.name) for call, thread in self.calls if thread is not MAIN]


class FakeEvent:
    def __init__(self, client_type):
        self.client_type = client_type


def backend_icon(backend, events, monkeypatch):
    """An icon class posing as pystray's ``backend`` module, with that toolkit's main-loop call faked."""
    attrs = {"__module__": f"pystray._{backend}", "events": events}
    if backend in ("gtk", "appindicator"):
        glib = types.SimpleNamespace(idle_add=lambda fn, *args: events.put(lambda: fn(*args)))
        repository = types.ModuleType("gi.repository")
        repository.GLib = glib
        gi = types.ModuleType("gi")
        gi.repository = repository
        monkeypatch.setitem(sys.modules, "gi", gi)
        monkeypatch.setitem(sys.modules, "gi.repository", repository)
    elif backend == "darwin":
        helper = types.ModuleType("PyObjCTools.AppHelper")
        helper.callAfter = lambda fn, *args, **kw: events.put(lambda: fn(*args, **kw))
        package = types.ModuleType("PyObjCTools")
        package.AppHelper = helper
        monkeypatch.setitem(sys.modules, "PyObjCTools", package)
        monkeypatch.setitem(sys.modules, "PyObjCTools.AppHelper", helper)
    elif backend == "win32":
        win32 = types.ModuleType("pystray._util.win32")

        def post_message(hwnd, msg, wparam, lparam):
            icon = windows[hwnd]
            events.put(lambda: icon._message_handlers[msg](wparam, lparam))
            return 1

        windows = {}
        win32.PostMessage = post_message
        monkeypatch.setitem(sys.modules, "pystray._util.win32", win32)

        def init(self, *args, **kwargs):
            LoopIcon.__init__(self, *args, **kwargs)
            object.__setattr__(self, "_message_handlers", {})
            object.__setattr__(self, "_hwnd", None)

        def ready(self):  # pystray's _win32 creates its window in run(), before setup
            object.__setattr__(self, "_hwnd", 0x1234)
            windows[0x1234] = self

        attrs.update(__init__=init, _ready=ready)
    elif backend == "xorg":
        X = pytest.importorskip("Xlib.X")

        def init(self, *args, **kwargs):
            LoopIcon.__init__(self, *args, **kwargs)
            pystray_own = []
            object.__setattr__(self, "pystray_messages", pystray_own)
            object.__setattr__(self, "_message_handlers", {X.ClientMessage: pystray_own.append})
            object.__setattr__(self, "_window", object())
            object.__setattr__(self, "_display", types.SimpleNamespace(intern_atom=lambda name: 401,
                                                                       flush=lambda: None))

        def send_message(self, window, atom):
            events.put(lambda: self._message_handlers[X.ClientMessage](FakeEvent(atom)))

        attrs.update(__init__=init, _send_message=send_message)
    return type(f"{backend.capitalize()}Icon", (LoopIcon,), attrs)


@pytest.fixture
def pystray_module(monkeypatch):
    monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")
    import pystray

    return pystray


@pytest.mark.parametrize("backend", ["gtk", "appindicator", "darwin", "win32", "xorg"])
def test_workers_never_touch_the_icon_every_change_reaches_it_on_the_main_thread(backend, tmp_path, monkeypatch,
                                                                                 pystray_module):
    from vcam_lipstick import tray as tray_module

    monkeypatch.setattr("vcam_lipstick.loop.RETRY_SECONDS", 0.05)
    events = queue.Queue()
    monkeypatch.setattr(pystray_module, "Icon", backend_icon(backend, events, monkeypatch))
    plug = fakes.Plug(connected=False)  # the webcam is unplugged at start
    monkeypatch.setattr("vcam_lipstick.app.open_source", lambda spec, w, h, fps, on_notice=None: plug.open())
    probed = threading.Event()

    def list_cameras(max_index, skip=()):
        assert threading.current_thread() is not MAIN  # the probe is a worker
        probed.set()
        return [2]

    monkeypatch.setattr("vcam_lipstick.devices.sources.list_cameras", list_cameras)
    printed = []
    c = Controller(SettingsStore(tmp_path / "cfg"), notify=printed.append, tracker_factory=lambda: None)
    c.settings.width, c.settings.height = 64, 48
    tray = tray_module.Tray(c)
    icon = tray.icon
    failures = []

    def user_and_workers():
        try:
            assert wait_until(lambda: icon.visible if "visible" in vars(icon) else False)
            # The frame loop's capture thread reports the missing camera, then its return.
            assert wait_until(lambda: any("Camera unavailable" in n for n in icon.notices))
            plug.connected.set()
            assert wait_until(lambda: "Camera is back." in icon.notices)
            # The camera-probe thread's findings reach the menu.
            assert wait_until(lambda: probed.is_set() and any(
                i.text == "Camera 2" for i in next(i for i in icon.menu.items if i.text == "Camera").submenu.items))
            icon.click("Shade: Rose Petal", "Reds", "Classic Red")  # handled on the loop, as pystray does
            assert wait_until(lambda: "Classic Red," in icon.title)
            c.set_finish("gloss")  # a change made on a worker thread (e.g. a dialog's answer)
            assert wait_until(lambda: "Classic Red, gloss" in icon.title)
            if backend == "xorg":  # pystray's own ClientMessages (its cross-thread updates) still reach pystray
                events.put(lambda: icon._message_handlers[33](FakeEvent(999)))
                assert wait_until(lambda: [e.client_type for e in icon.pystray_messages] == [999])
        except BaseException as exc:
            failures.append(exc)
        finally:
            c.quit()  # from a worker: the UI thread stops the icon

    c.start("0", "null")  # on the main thread, as the CLI does
    worker = threading.Thread(target=user_and_workers, name="user")
    try:
        worker.start()
        tray.run()  # the tray's event loop owns the main thread until Quit
        worker.join()
    finally:
        c.stop()
    if failures:
        raise failures[0]
    assert icon.off_main() == []
    assert ("stop", MAIN) in icon.calls and icon.stopped
    assert c.settings.shade == "Classic Red" and c.settings.finish == "gloss"
    assert any("Camera unavailable" in n for n in printed)  # the CLI's notice listener still hears everything


def test_a_backend_with_no_way_onto_its_thread_still_updates(tmp_path, monkeypatch, pystray_module):
    """pystray's dummy backend: no main-loop call to use; updates then run where they are made."""
    from vcam_lipstick import tray as tray_module

    events = queue.Queue()
    monkeypatch.setattr(pystray_module, "Icon", type("DummyIcon", (LoopIcon,), {"__module__": "pystray._dummy",
                                                                               "events": events}))
    c = Controller(SettingsStore(tmp_path / "cfg"), notify=lambda m: None, tracker_factory=lambda: None)
    tray = tray_module.Tray(c)
    threading.Thread(target=lambda: (wait_until(lambda: "visible" in vars(tray.icon)), c.set_shade("Deep Plum"),
                                     c.quit())).start()
    tray.run()
    assert "Deep Plum" in tray.icon.title and tray.icon.stopped


def test_the_tray_refuses_to_run_off_the_main_thread(tmp_path, monkeypatch, pystray_module):
    from vcam_lipstick import tray as tray_module

    monkeypatch.setattr(pystray_module, "Icon", type("GtkIcon", (LoopIcon,), {"__module__": "pystray._gtk",
                                                                             "events": queue.Queue()}))
    tray = tray_module.Tray(Controller(SettingsStore(tmp_path), notify=lambda m: None))
    errors = []

    def run():
        try:
            tray.run()
        except RuntimeError as exc:
            errors.append(str(exc))

    t = threading.Thread(target=run)
    t.start()
    t.join()
    assert errors and "main thread" in errors[0]
    assert "run" not in [call for call, _ in tray.icon.calls]


def test_without_a_tray_menu_the_controls_run_tk_in_a_child_process(tmp_path, monkeypatch, pystray_module):
    """pystray's X11 icon has no menu: the control window opens, Tk on its own process's main thread.
    The user ticks Mirror there; the app applies it on its UI thread, the window shows it ticked, and
    closing the window quits the app."""
    from vcam_lipstick import control_window
    from vcam_lipstick import tray as tray_module

    log = tmp_path / "tk.json"
    monkeypatch.setenv(fake_tk.LOG_ENV, str(log))
    monkeypatch.setattr(control_window, "window_main", fake_tk.control_window_child)
    events = queue.Queue()
    icon_class = backend_icon("gtk", events, monkeypatch)
    icon_class.HAS_MENU = False
    monkeypatch.setattr(pystray_module, "Icon", icon_class)
    c = Controller(SettingsStore(tmp_path / "cfg"), notify=lambda m: None, tracker_factory=lambda: None)
    tray = tray_module.Tray(c)
    assert not tray.has_menu
    tray.run()
    assert c.settings.mirror is True  # the click in the window changed the app
    assert c.quit_requested.is_set()  # closing the window quits, as before
    seen = fake_tk.read_log(log)
    assert seen["steps"] == 2  # the window showed Mirror ticked after the click, then was closed
    assert seen["pid"] != os.getpid()
    tk_calls = seen["calls"]
    assert {"Tk", "Checkbutton", "mainloop"} <= {name for name, _ in tk_calls}
    assert all(on_main for _, on_main in tk_calls), [name for name, on_main in tk_calls if not on_main]
    assert tray.icon.off_main() == []


def test_the_custom_colour_dialog_runs_in_a_child_process_and_its_answer_is_applied(tmp_path, monkeypatch,
                                                                                  pystray_module):
    from vcam_lipstick import tray as tray_module

    log = tmp_path / "tk.json"
    monkeypatch.setenv(fake_tk.LOG_ENV, str(log))
    monkeypatch.setattr("vcam_lipstick.app.ask_color", fake_tk.color_dialog_child)
    events = queue.Queue()
    monkeypatch.setattr(pystray_module, "Icon", backend_icon("darwin", events, monkeypatch))
    c = Controller(SettingsStore(tmp_path / "cfg"), notify=lambda m: None, tracker_factory=lambda: None)
    tray = tray_module.Tray(c)
    icon = tray.icon

    def user():
        wait_until(lambda: "visible" in vars(icon))
        icon.click("Custom colour…")
        wait_until(lambda: "#1A2B3C" in (icon.title or ""))
        c.quit()

    threading.Thread(target=user, name="user").start()
    tray.run()
    assert c.settings.shade == "#1A2B3C" and "#1A2B3C" in icon.title  # the answer came back and was shown
    seen = fake_tk.read_log(log)
    assert seen["pid"] != os.getpid()
    assert seen["askcolor"]["color"] == "#C8637A"  # opened on the shade in use (Rose Petal)
    assert {"Tk", "askcolor", "destroy"} <= {name for name, _ in seen["calls"]}
    assert all(on_main for _, on_main in seen["calls"])
    assert icon.off_main() == []


def test_a_second_click_while_the_colour_dialog_is_open_opens_no_second_one(tmp_path, monkeypatch):
    from vcam_lipstick import dialogs

    started = []

    children = []

    class Process:
        """A child that never answers until the test ends it (``crash()``)."""

        def __init__(self, target, args, name, daemon):
            from multiprocessing.connection import Connection

            started.append(name)
            self.pipe = Connection(os.dup(args[2].fileno()))  # the child's copy of the answer pipe
            children.append(self)

        def start(self):
            pass

        def join(self):
            pass

        def crash(self):
            self.pipe.close()

    import multiprocessing

    context = types.SimpleNamespace(Process=Process, Pipe=multiprocessing.Pipe)
    monkeypatch.setattr("multiprocessing.get_context", lambda method: context)
    answers = []
    dialog = dialogs.ChildDialog(dialogs.ask_color, "colour dialog")
    assert dialog.open(("#112233",), answers.append, answers.append)
    assert not dialog.open(("#112233",), answers.append, answers.append)  # still open: not twice
    assert started == ["colour dialog"] and dialog.is_open
    children[0].crash()  # the child exits without answering: the app hears it, and a new dialog may open
    assert wait_until(lambda: not dialog.is_open) and answers == ["the colour dialog closed unexpectedly"]
    assert dialog.open(("#112233",), answers.append, answers.append)
    children[1].crash()


def test_tray_notices_do_not_replace_the_controllers_notify(tmp_path, monkeypatch, pystray_module):
    from vcam_lipstick import tray as tray_module

    monkeypatch.setattr(pystray_module, "Icon", type("GtkIcon", (LoopIcon,), {"__module__": "pystray._gtk",
                                                                             "events": queue.Queue()}))
    printed = []
    c = Controller(SettingsStore(tmp_path), notify=printed.append)
    notify = c.notify
    tray = tray_module.Tray(c)
    assert c.notify == notify  # registered as a listener, not patched in
    c.notify("Camera is back.")
    tray.ui.drain()  # the UI thread's turn
    assert printed == ["Camera is back."] and tray.icon.notices == ["Camera is back."]


def test_the_window_gets_the_menu_as_data_and_a_stale_click_is_ignored(tmp_path):
    import pickle

    from vcam_lipstick.menu import resolve, screen_of

    c = Controller(SettingsStore(tmp_path), notify=lambda m: None)
    c.cameras = (2,)
    screen = pickle.loads(pickle.dumps(screen_of(c.menu(), c.shade().hex)))  # crosses the process boundary
    items = {item.text: item for item in screen.items}
    camera_2 = next(i for i in items["Camera"].children if i.text == "Camera 2")
    assert screen.swatch == c.shade().hex and items["Mirror"].checked is False and items["Mirror"].clickable
    resolve(c.menu(), items["Mirror"].path, "Mirror").action()
    assert c.settings.mirror
    c.cameras = ()  # the camera was unplugged before the click arrived
    assert resolve(c.menu(), camera_2.path, "Camera 2") is None
    assert c.settings.camera == -1
