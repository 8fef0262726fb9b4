"""The system tray: a thin pystray shell over the controller's pure menu.

pystray picks a backend at import. On Linux its pure-X11 backend docks an icon but shows no menu;
then the same controls open in a small Tk window instead (see README: getting the real menu).

One thread owns the UI: the main thread, which ``Icon.run()`` blocks in the backend's event loop
(pystray's docs: it "must be called from the main thread"; macOS requires it, and ``setup`` runs
"in a separate thread"). pystray has no public way to run code on that thread, and only some
backends forward icon updates to it by themselves (GTK through ``GObject.idle_add``, X11 through a
ClientMessage); on macOS ``_darwin.Icon`` calls AppKit on the caller's thread, which AppKit does not
allow. So every icon call goes through ``Tray.ui`` (a ``UiThread``), which each backend's own
"run this on the main loop" call drains: ``waker_for`` below.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
from collections.abc import Callable

from PIL import Image, ImageDraw

from .menu import Entry, resolve, screen_of
from .ui_thread import UiThread

log = logging.getLogger(__name__)


def lips_icon(rgb: tuple[int, int, int], size: int = 64, enabled: bool = True) -> Image.Image:
    """A lips glyph in the shade's colour (greyed when lipstick is off)."""
    if not enabled:
        g = int(sum(rgb) / 3 * 0.4 + 110)
        rgb = (g, g, g)
    scale = 4  # draw large, then downsample for smooth edges
    s = size * scale
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    cx, cy, w = s / 2, s / 2, s * 0.46
    upper = [(cx + w * math.cos(t), cy - 0.05 * s - 0.28 * s * math.sin(t) * (1 - 0.55 * math.exp(-((t - math.pi / 2) ** 2) * 18)))
             for t in [i * math.pi / 40 for i in range(41)]]
    lower = [(cx - w * math.cos(t), cy + 0.32 * s * math.sin(t)) for t in [i * math.pi / 40 for i in range(41)]]
    d.polygon(upper + lower, fill=rgb + (255,), outline=(40, 20, 20, 255), width=scale * 2)
    d.line([(cx - w, cy), (cx, cy + 0.04 * s), (cx + w, cy)], fill=(40, 20, 20, 255), width=scale * 2)
    return img.resize((size, size), Image.LANCZOS)


def _has_typelib(gi, namespace: str, version: str) -> bool:
    try:
        gi.require_version(namespace, version)
        return True
    except (ValueError, ImportError):
        return False


def xembed_tray_present() -> bool:
    """Whether an X11 system tray (the XEmbed kind GTK's status icon docks into) owns its selection."""
    try:
        from Xlib import display as xdisplay

        d = xdisplay.Display()
        try:
            atom = d.intern_atom(f"_NET_SYSTEM_TRAY_S{d.get_default_screen()}")
            return d.get_selection_owner(atom) != 0
        finally:
            d.close()
    except Exception:  # no X server or no python-xlib: assume there is one, as pystray does
        return True


def pick_linux_backend(gi=None, tray_present=xembed_tray_present) -> str | None:
    """The pystray backend to use on Linux, or None to leave pystray's choice.

    pystray tries appindicator, gtk, xorg but skips a backend only on ImportError; PyGObject without
    the AppIndicator typelib raises ValueError instead and takes the tray down. And GTK's status icon
    is invisible without a system tray, where the menu-less X11 icon at least gets the control window.
    """
    if gi is None:
        try:
            import gi
        except ImportError:
            return None  # no PyGObject: pystray falls through to xorg by itself
    if not _has_typelib(gi, "Gtk", "3.0"):
        return "xorg"
    if _has_typelib(gi, "AppIndicator3", "0.1") or _has_typelib(gi, "AyatanaAppIndicator3", "0.1"):
        return "appindicator"
    return "gtk" if tray_present() else "xorg"


def _handler(entry: Entry, refresh):
    """pystray calls handlers with (icon, item) on its loop thread; ours take nothing and are followed by a refresh."""

    def run(icon, item):
        try:
            if entry.action is not None:
                entry.action()
        except Exception:
            log.exception("menu action %s failed", entry.text)
        refresh()

    return run


def to_pystray(entries: list[Entry], pystray, refresh):
    """Neutral entries -> pystray.Menu; every action is followed by ``refresh()``."""

    def item(e: Entry):
        if e.separator:
            return pystray.Menu.SEPARATOR
        if e.children:
            return pystray.MenuItem(e.text, pystray.Menu(*[item(c) for c in e.children]), enabled=e.enabled)

        checked = (lambda _i, v=e.checked: v) if e.checked is not None else None
        return pystray.MenuItem(e.text, _handler(e, refresh), checked=checked, radio=e.radio, enabled=e.enabled,
                                default=e.default)

    return pystray.Menu(*[item(e) for e in entries])


#: Our window message on Windows: WM_APP + 0x2A, clear of pystray's WM_USER + 10 and + 11.
WM_DRAIN = 0x8000 + 0x2A
#: The X11 ClientMessage type that asks the loop thread to drain.
DRAIN_ATOM = "_VCAM_LIPSTICK_DRAIN"


def waker_for(icon, drain: Callable[[], None], owner: threading.Thread) -> Callable[[], bool | None] | None:
    """A function that makes ``owner`` (the thread in ``icon.run()``) call ``drain()`` soon; None if
    this backend offers no way. Call it before ``icon.run()``, on the owner thread.

    - gtk, appindicator: ``GLib.idle_add`` (thread-safe; the callback runs once when it returns a false value).
    - darwin: ``PyObjCTools.AppHelper.callAfter`` ("call a function on the main thread", via
      ``performSelectorOnMainThread:``), served by the NSApplication run loop pystray runs.
    - win32: a message posted to the icon's hidden window (``icon._hwnd``, created by ``run()``)
      and handled through ``icon._message_handlers``, as pystray's own ``WM_STOP`` is.
    - xorg: a ClientMessage to the icon's window, dispatched through ``icon._message_handlers``,
      as pystray's ``_rewrite_implementation`` does for its own updates.
    The last two use pystray internals (stable since 0.14); if they are missing, None.
    """
    backend = type(icon).__module__.rpartition(".")[2].lstrip("_")
    try:
        if backend in ("gtk", "appindicator"):
            from gi.repository import GLib

            return lambda: GLib.idle_add(drain)
        if backend == "darwin":
            from PyObjCTools import AppHelper

            return lambda: AppHelper.callAfter(drain)
        if backend == "win32":
            return _win32_waker(icon, drain)
        if backend == "xorg":
            return _xorg_waker(icon, drain, owner)
    except (ImportError, AttributeError) as exc:
        log.warning("pystray backend %s: cannot reach its thread (%s)", backend, exc)
    return None


def _win32_waker(icon, drain):
    from pystray._util import win32

    handlers = icon._message_handlers

    def on_drain(wparam, lparam):
        drain()
        return 0

    handlers[WM_DRAIN] = on_drain

    def wake():
        hwnd = getattr(icon, "_hwnd", None)
        if not hwnd:
            return False  # the loop is not running yet: setup() wakes it once it is
        return bool(win32.PostMessage(hwnd, WM_DRAIN, 0, 0))

    return wake


def _xorg_waker(icon, drain, owner):
    from Xlib import X

    atom = icon._display.intern_atom(DRAIN_ATOM)
    handlers = icon._message_handlers
    previous = handlers.get(X.ClientMessage, lambda event: None)

    def on_client_message(event):
        if event.client_type == atom:
            drain()
        else:
            previous(event)

    handlers[X.ClientMessage] = on_client_message

    def send():
        icon._send_message(icon._window, atom)
        icon._display.flush()

    def wake():
        if threading.current_thread() is owner:
            # e.g. a signal handler, which may have interrupted the loop inside Xlib: do not re-enter it
            threading.Thread(target=send, name="ui-wake", daemon=True).start()
        else:
            send()

    return wake


#: How often the UI thread is woken so that it runs pending signal handlers.
SIGNAL_TICK_SECONDS = 0.5


def _nothing() -> None:
    pass


class Tray:
    """Shows the controller in the tray; ``run()`` owns the main thread until Quit.

    Workers call ``request_refresh()`` and ``notify()`` (through the controller's listeners); the
    icon itself is touched only on the main thread, by what they post to ``ui``."""

    def __init__(self, controller, waker=waker_for):
        if sys.platform.startswith("linux") and not os.environ.get("PYSTRAY_BACKEND"):
            backend = pick_linux_backend()
            if backend:
                os.environ["PYSTRAY_BACKEND"] = backend
        import pystray

        self.pystray = pystray
        self.controller = controller
        self.ui = UiThread(threading.main_thread())
        self._waker = waker
        self._refresh_pending = threading.Event()
        self.window = None  # the control window's process, where the tray shows no menu
        self.icon = pystray.Icon("vcam-lipstick", self._image(), controller.tooltip(), menu=self._menu())
        self.has_menu = bool(getattr(self.icon, "HAS_MENU", True))
        controller.add_listener(self.request_refresh)
        controller.add_notice_listener(self.notify)
        log.info("tray backend %s (menu: %s)", type(self.icon).__module__, self.has_menu)

    def _image(self):
        c = self.controller
        return lips_icon(c.shade().rgb, enabled=c.settings.enabled)

    def _menu(self):
        return to_pystray(self.controller.menu(), self.pystray, self.request_refresh)

    # -- any thread --------------------------------------------------------------------------
    def request_refresh(self) -> None:
        """Redraw the icon, menu and control window from the controller's state, on the UI thread."""
        if self._refresh_pending.is_set():
            return  # one redraw shows every change made before it
        self._refresh_pending.set()
        self.ui.post(self._pending_refresh)

    def _pending_refresh(self) -> None:
        self._refresh_pending.clear()
        self.refresh()

    def notify(self, message: str) -> None:
        """Show ``message`` as a notification (from any thread); always logged."""
        log.warning("%s", message)
        if getattr(self.icon, "HAS_NOTIFICATION", False):
            self.ui.post(lambda: self._show_notification(message))

    def stop(self) -> None:
        self.ui.call(self.icon.stop)

    # -- the UI thread -----------------------------------------------------------------------
    def refresh(self) -> None:
        if self.controller.quit_requested.is_set():
            self.icon.stop()
            return
        self.icon.icon = self._image()
        self.icon.title = self.controller.tooltip()
        self.icon.menu = self._menu()
        try:
            self.icon.update_menu()
        except Exception:  # some backends cannot update menus; the next open rebuilds it
            pass
        if self.window is not None:
            self.window.show(screen_of(self.controller.menu(), self.controller.shade().hex))

    def _show_notification(self, message: str) -> None:
        try:
            self.icon.notify(message, "Lipstick Cam")
        except Exception:  # no notification service: the log has it
            log.debug("notification failed", exc_info=True)

    def _show(self) -> None:
        self.icon.visible = True
        self.refresh()

    def _window_click(self, path: tuple[int, ...], text: str) -> None:
        entry = resolve(self.controller.menu(), path, text)
        if entry is None:
            log.info("control window: %r changed before the click arrived; ignored", text)
        else:
            _handler(entry, self.request_refresh)(self.icon, None)

    def _window_closed(self, error: str | None) -> None:
        if error:
            self.notify(f"The controls window cannot open ({error}); quitting. "
                        "Run 'vcam-lipstick run --no-tray' to use the camera without it.")
        self.controller.quit()

    def _open_window(self) -> None:
        from .control_window import ControlWindowProcess

        self.window = ControlWindowProcess(
            on_click=lambda path, text: self.ui.post(lambda: self._window_click(path, text)),
            on_closed=lambda error: self.ui.post(lambda: self._window_closed(error)))
        self.window.start()
        self.window.show(screen_of(self.controller.menu(), self.controller.shade().hex))

    def run(self, setup=None) -> None:
        """Run the tray's event loop on the main thread until Quit. ``setup()`` runs once it is ready,
        in pystray's setup thread. Without a tray menu the controls open in a window (a child process)."""
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("the tray must run on the main thread")
        wake = self._waker(self.icon, self.ui.drain, self.ui.owner)
        if wake is None:
            log.warning("tray backend %s: updating the icon from the calling threads", type(self.icon).__module__)
            self.ui.run_inline()
        self.ui.set_waker(wake)

        def ready(icon) -> None:  # pystray calls this in a thread of its own, not on the UI thread
            self.ui.post(self._show)  # also drains what was posted before the loop ran
            if setup is not None:
                setup()

        if not self.has_menu:
            self._open_window()
        ticking = threading.Event()
        threading.Thread(target=self._tick, args=(ticking,), name="ui-tick", daemon=True).start()
        try:
            self.icon.run(setup=ready)
        except Exception as exc:
            if not self.controller.quit_requested.is_set():
                raise
            # pystray's GTK backend closes its notification on the way out and fails without a
            # notification service; the app is quitting anyway.
            log.info("tray backend failed while closing: %s", exc)
        finally:
            ticking.set()
            self.ui.close()  # notices while the app shuts down are only logged
            if self.window is not None:
                self.window.close()

    def _tick(self, done: threading.Event) -> None:
        """Wake the UI thread now and then, so that Python runs signal handlers (Ctrl+C, SIGTERM) there.

        The kernel may deliver a signal to any thread; Python then runs its handler on the main thread
        only at the next Python instruction there, and a toolkit loop (X11's select, NSApplication)
        may sleep in C for as long as nothing happens on screen."""
        while not done.wait(SIGNAL_TICK_SECONDS):
            self.ui.post(_nothing)
