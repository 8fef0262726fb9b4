"""The system tray: a thin pystray shell over the controller's pure menu.

pystray picks a backend at import. On Linux its pure-X11 backend docks an icon but shows no menu;
then the same controls open in a small Tk window instead (see README: getting the real menu).
"""

from __future__ import annotations

import logging
import math
import os
import sys

from PIL import Image, ImageDraw

from .menu import Entry

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
    """pystray calls handlers with (icon, item); ours take nothing and are followed by a refresh."""

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


class Tray:
    """Shows the controller in the tray; ``run()`` owns the main thread until Quit."""

    def __init__(self, controller):
        if sys.platform.startswith("linux") and not os.environ.get("PYSTRAY_BACKEND"):
            backend = pick_linux_backend()
            if backend:
                os.environ["PYSTRAY_BACKEND"] = backend
        import pystray

        self.pystray = pystray
        self.controller = controller
        self.icon = pystray.Icon("vcam-lipstick", self._image(), controller.tooltip(), menu=self._menu())
        self.has_menu = bool(getattr(self.icon, "HAS_MENU", True))
        controller.listeners.append(self.refresh)
        controller.notify = self.notify
        log.info("tray backend %s (menu: %s)", type(self.icon).__module__, self.has_menu)

    def _image(self):
        c = self.controller
        return lips_icon(c.shade().rgb, enabled=c.settings.enabled)

    def _menu(self):
        return to_pystray(self.controller.menu(), self.pystray, self.refresh)

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

    def notify(self, message: str) -> None:
        log.warning("%s", message)
        try:
            if getattr(self.icon, "HAS_NOTIFICATION", False):
                self.icon.notify(message, "Lipstick Cam")
        except Exception:
            pass

    def run(self, setup=None) -> None:
        def _setup(icon):
            icon.visible = True
            if setup is not None:
                setup()

        try:
            self.icon.run(setup=_setup)
        except Exception as exc:
            if not self.controller.quit_requested.is_set():
                raise
            # pystray's GTK backend closes its notification on the way out and fails without a
            # notification service; the app is quitting anyway.
            log.info("tray backend failed while closing: %s", exc)

    def stop(self) -> None:
        self.icon.stop()
