"""The tray menu as a pure function of the app state, in a neutral form any UI can show.

``build_menu`` returns ``Entry`` trees; ``tray.py`` turns them into pystray items and the control
window into Tk widgets. Handlers only call controller methods.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .processing.shades import Finish
from .settings import INTENSITY_STEPS


@dataclass(frozen=True)
class Entry:
    text: str
    action: Callable[[], None] | None = None
    checked: bool | None = None  # None: not a check item
    radio: bool = False
    enabled: bool = True
    children: tuple["Entry", ...] = field(default_factory=tuple)
    separator: bool = False
    default: bool = False


SEPARATOR = Entry("-", separator=True)


@dataclass(frozen=True)
class MenuState:
    enabled: bool
    shade: str
    finish: str  # the finish in effect
    intensity: int
    compare: bool
    mirror: bool
    show_preview: bool
    start_at_login: bool
    camera: int  # -1: automatic
    cameras: tuple[int, ...]
    families: dict  # family -> list of shade names
    ombre: str | None = None  # the ombré shade's name; None: off
    ombre_match: str = ""  # the matching lighter shade's name


def build_menu(state: MenuState, c) -> list[Entry]:
    """Entries for controller ``c`` (any object with the named methods)."""
    shade_menus = tuple(
        Entry(family.capitalize(), children=tuple(
            Entry(name, (lambda n=name: c.set_shade(n)), checked=name == state.shade, radio=True) for name in names))
        for family, names in state.families.items() if names
    )
    finishes = tuple(Entry(f.value.capitalize(), (lambda v=f.value: c.set_finish(v)), checked=f.value == state.finish,
                           radio=True) for f in Finish)
    intensities = tuple(Entry(f"{v}%", (lambda v=v: c.set_intensity(v)), checked=v == state.intensity, radio=True)
                        for v in INTENSITY_STEPS)
    is_match = state.ombre is not None and state.ombre.casefold() == state.ombre_match.casefold()
    ombres = (Entry("Off", lambda: c.set_ombre(None), checked=state.ombre is None, radio=True),
              Entry(f"Matching lighter: {state.ombre_match}", c.set_ombre_match, checked=is_match, radio=True))
    if state.ombre is not None and not is_match:  # chosen in the palette or the settings: shown, kept
        ombres += (Entry(state.ombre, (lambda n=state.ombre: c.set_ombre(n)), checked=True, radio=True),)
    cameras = (Entry("Automatic", lambda: c.set_camera(-1), checked=state.camera == -1, radio=True),) + tuple(
        Entry(f"Camera {i}", (lambda i=i: c.set_camera(i)), checked=state.camera == i, radio=True)
        for i in state.cameras)
    return [
        Entry("Lipstick on", c.toggle_enabled, checked=state.enabled, default=True),
        SEPARATOR,
        Entry(f"Shade: {state.shade}", children=shade_menus),
        Entry("Shades…", c.open_palette),
        Entry("Custom colour…", c.ask_custom_color),
        Entry("Finish", children=finishes),
        Entry("Intensity", children=intensities),
        Entry(f"Ombré: {state.ombre or 'off'}", children=ombres),
        SEPARATOR,
        Entry("Compare before/after", c.toggle_compare, checked=state.compare),
        Entry("Mirror", c.toggle_mirror, checked=state.mirror),
        Entry("Camera", children=cameras),
        Entry("Show preview", c.toggle_preview, checked=state.show_preview),
        SEPARATOR,
        Entry("Start at login", c.toggle_start_at_login, checked=state.start_at_login),
        Entry("Open log folder", c.open_log_folder),
        Entry("About", c.show_about),
        SEPARATOR,
        Entry("Quit", c.quit),
    ]


def find(entries, text: str) -> Entry:
    """The first entry (depth first) whose text is ``text`` or starts with ``text:``; KeyError if none."""
    for e in entries:
        if e.text == text or e.text.startswith(text + ":"):
            return e
        if e.children:
            try:
                return find(e.children, text)
            except KeyError:
                pass
    raise KeyError(text)


@dataclass(frozen=True)
class Item:
    """An entry as plain data (no callables), for a window in another process; ``path`` finds it again."""

    text: str
    path: tuple[int, ...]
    checked: bool | None = None
    enabled: bool = True
    separator: bool = False
    clickable: bool = False
    children: tuple["Item", ...] = ()


@dataclass(frozen=True)
class Screen:
    """What the control window shows: the shade's colour as a swatch, then the menu."""

    swatch: str  # '#RRGGBB'
    items: tuple[Item, ...]


def screen_of(entries: list[Entry], swatch: str) -> Screen:
    def item(e: Entry, path: tuple[int, ...]) -> Item:
        return Item(e.text, path, e.checked, e.enabled, e.separator, e.action is not None,
                    tuple(item(c, path + (i,)) for i, c in enumerate(e.children)))

    return Screen(swatch, tuple(item(e, (i,)) for i, e in enumerate(entries)))


def resolve(entries, path: tuple[int, ...], text: str) -> Entry | None:
    """The entry at ``path`` if it still reads ``text`` (the menu may have changed since), else None."""
    entry = None
    for index in path:
        if not 0 <= index < len(entries):
            return None
        entry = entries[index]
        entries = entry.children
    return entry if entry is not None and entry.text == text else None
