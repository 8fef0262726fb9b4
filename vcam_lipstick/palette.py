"""The shade palette, the app's side: what the window shows, what it sends back, and its process.

The window itself (``palette_window``) is a child process with Tk on that process's main thread, as
the control window is: the tray owns the app's main thread, Tk is not thread-safe, and macOS accepts
UI calls only on a main thread. The app sends ``PaletteState`` (plain data) after every change and,
every ``frame_tap.TAP_PERIOD`` seconds, a small before/after copy of the output through a queue of
one that drops a copy when full, so the frame loop never waits. The window sends back events:

- ``("shade", name)``, ``("custom", "#RRGGBB")``, ``("finish", value)``, ``("intensity", percent)``,
  ``("ombre", name or None)``: what the user chose; the app applies it to the next frame and saves it;
- ``("shown", {shade name: (x, y)})``: the window is on screen (the centre of each swatch, in screen
  pixels, for tests and the benchmark);
- ``("closed",)`` when the user closes it; ``("error", line)`` when it cannot open.

The window polls the app's pipe and the app's process sentinel, and closes itself when the app is
gone, so it never outlives the app; the app closes it (and if need be terminates it) on quit.

Standalone (``vcam-lipstick palette`` with no app running), the same window changes the settings
file: the app uses the stored shade when it next starts. While an app runs, the command says so and
points to the tray's *Shades…* instead: there is no channel into a running app (no sockets).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: Swatches per row in the window.
COLUMNS = 8
#: How often the app checks ``shades.json`` for changes while the palette is open (seconds).
WATCH_SECONDS = 1.0


@dataclass(frozen=True)
class Swatch:
    name: str
    hex: str  # '#RRGGBB'
    finish: str
    family: str


@dataclass(frozen=True)
class PaletteState:
    """Everything the window shows; plain data, so it crosses to the window's process.

    ``shade``: the current shade's name ('#RRGGBB' for a custom colour); ``finish``: the finish in
    effect; ``ombre``: the ombré shade's name or None; ``ombre_match``: the matching lighter shade's;
    ``live``: frames are flowing (an app runs), else the thumbnail says why there is none;
    ``notice``: problems with the user's shade file, one per line ('' when there are none)."""

    families: tuple[tuple[str, tuple[Swatch, ...]], ...]
    shade: str
    shade_hex: str
    finish: str
    intensity: int
    ombre: str | None
    ombre_match: str
    enabled: bool
    live: bool
    notice: str = ""

    def swatches(self) -> list[Swatch]:
        return [s for _, group in self.families for s in group]


def state_of(controller, live: bool) -> PaletteState:
    """The palette's view of a ``Controller``: its shade book by family, the current look, problems."""
    current = controller.shade()
    families = [(family, tuple(Swatch(s.name, s.hex, s.finish.value, family) for s in shades))
                for family, shades in controller.shades.families().items()]
    if not any(s.name.casefold() == current.name.casefold() for _, group in families for s in group):
        families.append(("custom", (Swatch(current.name, current.hex, current.finish.value, "custom"),)))
    ombre = controller.ombre()
    return PaletteState(tuple(families), current.name, current.hex, controller.finish().value,
                        controller.settings.intensity, ombre.name if ombre is not None else None,
                        controller.ombre_match().name, controller.settings.enabled, live,
                        "\n".join(controller.shade_problems))


def neighbour(counts: tuple[int, ...], index: int, key: str, columns: int = COLUMNS) -> int:
    """Where an arrow key moves the focus among swatches laid out by family, ``columns`` to a row.

    ``counts``: swatches per family, in order; ``index``: the focused swatch, counted across all
    families; ``key``: 'Left', 'Right', 'Up' or 'Down'. Left/Right step through every swatch in
    reading order; Up/Down go to the row above/below, across families, keeping the column where the
    row is long enough. At an edge the focus stays."""
    total = sum(counts)
    if total == 0:
        return index
    index = max(0, min(index, total - 1))
    if key == "Left":
        return max(0, index - 1)
    if key == "Right":
        return min(total - 1, index + 1)
    if key not in ("Up", "Down"):
        return index
    rows = []  # (first index, length) of every row, top to bottom
    start = 0
    for count in counts:
        for offset in range(0, count, columns):
            rows.append((start + offset, min(columns, count - offset)))
        start += count
    row = next(r for r, (first, length) in enumerate(rows) if first <= index < first + length)
    column = index - rows[row][0]
    target = row - 1 if key == "Up" else row + 1
    if not 0 <= target < len(rows):
        return index
    first, length = rows[target]
    return first + min(column, length - 1)


def file_signature(path: Path) -> tuple[int, int] | None:
    """(mtime in ns, size) of ``path``, or None when it does not exist: tells whether a file changed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


class PaletteProcess:
    """Runs the palette window in a child process and carries messages both ways.

    ``launch()`` starts the process, which loads Tk and waits for its first state; ``start(state)``
    (launching if need be) shows it. ``on_event(message)`` hears every event the window sends and
    ``on_closed(error)`` its end (error None: the user closed it; else one line why it could not
    open), both in a reader thread; not a ``close()`` by the app. ``on_idle()`` runs in that thread
    about every ``WATCH_SECONDS``."""

    def __init__(self, on_event: Callable[[tuple], None] | None = None,
                 on_closed: Callable[[str | None], None] | None = None,
                 on_idle: Callable[[], None] | None = None, target: Callable | None = None):
        self.on_event = on_event
        self.on_closed = on_closed
        self.on_idle = on_idle
        self.target = target
        self.process = None
        self._states = None
        self._thumbs = None
        self._receive = None
        self._closing = False
        self._ended = threading.Event()  # the window closed or could not open
        self._reader: threading.Thread | None = None

    @property
    def is_open(self) -> bool:
        return self.process is not None and not self._closing and not self._ended.is_set()

    def launch(self) -> None:
        """Start the window's process (once); it loads Tk meanwhile and shows nothing until ``start``."""
        if self.process is not None:
            return
        import multiprocessing

        target = self.target
        if target is None:
            from .palette_window import window_main as target
        context = multiprocessing.get_context("spawn")  # fork would copy the tray's GUI state
        self._states = context.Queue()
        self._thumbs = context.Queue(maxsize=1)  # one copy in flight: the loop drops the next while it waits
        self._receive, send = context.Pipe(duplex=False)
        self.process = context.Process(target=target, args=(self._states, send, self._thumbs), name="palette",
                                       daemon=True)
        self.process.start()
        send.close()  # only the child writes: its exit ends our recv() with EOFError

    def start(self, state: PaletteState) -> None:
        """Show ``state`` in the window (launching its process if need be) and listen to it."""
        self.launch()
        self._states.put(state)  # the window builds itself from the first state
        self._reader = threading.Thread(target=self._read, args=(self._receive,), name="palette-events", daemon=True)
        self._reader.start()

    def _read(self, receive) -> None:
        error = None
        next_idle = time.monotonic() + WATCH_SECONDS
        try:
            while not self._closing:
                try:
                    if receive.poll(max(0.0, next_idle - time.monotonic())):
                        message = receive.recv()
                    else:
                        message = None
                except (EOFError, OSError):
                    break
                if time.monotonic() >= next_idle:
                    next_idle = time.monotonic() + WATCH_SECONDS
                    self._idle()
                if message is None:
                    continue
                if message[0] == "error":
                    error = message[1]
                elif message[0] == "closed":
                    break
                else:
                    try:
                        self.on_event(message)
                    except Exception:  # a bad value from the window must not end the reader
                        log.exception("palette: %r failed", message[0])
        finally:
            receive.close()
            self._ended.set()
        if not self._closing and self.on_closed is not None:
            self.on_closed(error)

    def _idle(self) -> None:
        if self.on_idle is not None:
            try:
                self.on_idle()
            except Exception:
                log.exception("palette: watching failed")

    def show(self, state: PaletteState) -> None:
        """Send the window what to show (never blocks: the queue's feeder thread writes the pipe)."""
        if self.is_open:
            try:
                self._states.put(state)
            except (ValueError, OSError):  # closed meanwhile
                pass

    def bring_to_front(self) -> None:
        self.show("raise")  # type: ignore[arg-type]  # a command, not a state

    def offer(self, thumbnails) -> None:
        """A before/after copy for the thumbnail, from the frame loop: dropped if the last one is still queued."""
        thumbs = self._thumbs
        if thumbs is None or self._closing:
            return
        try:
            thumbs.put_nowait(thumbnails)
        except (queue.Full, ValueError, OSError):
            pass

    def close(self) -> None:
        """Close the window and end its process; safe to call twice."""
        if self.process is None:
            return
        self._closing = True
        try:
            self._states.put(None)
        except (ValueError, OSError):
            pass
        self.process.join(timeout=2.0)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=1.0)
        for q in (self._states, self._thumbs):
            q.cancel_join_thread()  # what is still queued is not worth waiting for
            q.close()
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(timeout=2.0)
        elif self._reader is None:
            self._receive.close()  # launched, never started
        self.process = None


_spare: PaletteProcess | None = None


def prestart() -> None:
    """Launch a palette process now, for the next ``PaletteHost.open()`` in this process to use: its Python
    and Tk start while the caller imports the app (``vcam-lipstick palette`` opens sooner)."""
    global _spare
    if _spare is None:
        _spare = PaletteProcess()
        _spare.launch()


def discard_spare() -> None:
    """End a process ``prestart()`` launched that no palette took."""
    global _spare
    spare, _spare = _spare, None
    if spare is not None:
        spare.close()


def _take_spare() -> PaletteProcess | None:
    global _spare
    spare, _spare = _spare, None
    return spare


class PaletteHost:
    """The palette for a ``Controller``: opens it once, applies what the user picks, keeps it current.

    While it is open the controller's frame tap feeds the thumbnail and ``shades.json`` is watched:
    a change is read again, and a broken file leaves the built-in shades with the bad entry named."""

    def __init__(self, controller):
        self.controller = controller
        self.window: PaletteProcess | None = None
        self.opened_in: float | None = None  # seconds from open() to the window on screen
        self.layout: dict[str, tuple[int, int]] = {}
        self.error: str | None = None
        self.closed = threading.Event()
        self._opened_at = 0.0
        self._lock = threading.Lock()
        controller.add_listener(self.refresh)

    @property
    def is_open(self) -> bool:
        window = self.window
        return window is not None and window.is_open

    @property
    def pid(self) -> int | None:
        window = self.window
        return window.process.pid if window is not None and window.process is not None else None

    def open(self) -> bool:
        """Open the window, or bring it to the front if it is open; False if it cannot start."""
        with self._lock:
            if self.is_open:
                self.window.bring_to_front()
                return True
            if self.window is not None:  # closed by the user earlier: reap its process first
                self.window.close()
            self.controller.reload_shades()  # edited since the app started?
            self.closed.clear()
            self.error, self.opened_in, self.layout = None, None, {}
            window = _take_spare() or PaletteProcess()
            window.on_event, window.on_closed = self._event, self._window_closed
            window.on_idle = self.controller.reload_shades
            self._opened_at = time.monotonic()  # a prestarted process was faster: this times the open itself
            try:
                window.start(self._state())
            except Exception as exc:
                self.error = f"cannot start the palette ({exc})"
                self.closed.set()
                self.controller.notify(f"The shades palette cannot open: {self.error}")
                return False
            self.window = window
        tap = self.controller.frame_tap
        tap.connect(window.offer)
        return True

    def _state(self) -> PaletteState:
        return state_of(self.controller, live=self.controller.runner is not None)

    def refresh(self) -> None:
        """The controller's state changed (any thread): show it."""
        window = self.window
        if window is not None and window.is_open:
            window.show(self._state())

    def _event(self, message: tuple) -> None:
        kind, value = message[0], message[1] if len(message) > 1 else None
        c = self.controller
        if kind == "shown":
            self.opened_in = time.monotonic() - self._opened_at
            self.layout = dict(value or {})
            log.info("palette open in %.2f s", self.opened_in)
        elif kind == "shade":
            c.set_shade(value)
        elif kind == "custom":
            c.set_custom_color(value)
        elif kind == "finish":
            c.set_finish(value)
        elif kind == "intensity":
            c.set_intensity(int(value))
        elif kind == "ombre":
            c.set_ombre(value)
        else:
            log.debug("palette: unknown event %r", kind)

    def _window_closed(self, error: str | None) -> None:
        self.controller.frame_tap.disconnect()
        self.error = error
        if error:
            self.controller.notify(f"The shades palette cannot open ({error}).")
        self.closed.set()

    def close(self) -> None:
        """Close the window (the app quits); safe to call twice."""
        self.controller.frame_tap.disconnect()
        with self._lock:
            window, self.window = self.window, None
        if window is not None:
            window.close()
        self.closed.set()


def run_standalone(controller, poll: float = 0.2) -> str | None:
    """``vcam-lipstick palette`` with no app running: the window edits the stored settings until the user
    closes it. Returns None, or one line saying why the window could not open."""
    if not controller.palette.open():
        return controller.palette.error or "cannot start the palette"
    try:
        while not controller.palette.closed.wait(poll):  # a short wait keeps Ctrl+C responsive
            pass
    finally:
        controller.palette.close()
    return controller.palette.error
