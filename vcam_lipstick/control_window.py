"""A small Tk window with the tray menu's controls, for trays that cannot show menus.

The window is a child process, and Tk runs on that process's main thread: the tray owns the app's
main thread, Tk is not thread-safe, and macOS accepts UI calls only on a main thread. The app sends
the menu as plain data (``menu.Screen``) after every change; the window polls for it with
``root.after`` and sends back which entry was clicked, and the app runs that entry's action on its
own UI thread. Closing the window quits the app, as before.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from .child_window import ChildWindow
from .menu import Item, Screen

log = logging.getLogger(__name__)

POLL_MS = 100


class ControlWindow(ChildWindow):
    """The window (in the child process). Every Tk call happens on the thread that created it."""

    def __init__(self, tk, screens, events):
        self.tk = tk
        self.screens = screens  # multiprocessing.Queue of Screen; None closes the window
        self.events = events  # Connection: ("click", path, text) and ("closed",) go back to the app
        self.root = tk.Tk()
        self.root.title("Lipstick Cam")
        self.root.protocol("WM_DELETE_WINDOW", self.close)
        self.frame = None
        self._vars: list = []  # Tk variables must outlive rebuild() or their check marks vanish
        self.root.after(POLL_MS, self._poll)

    def _poll(self) -> None:
        """Show the newest screen; end when the app says so or is gone (also lets Python run signal handlers)."""
        screens = self.drain(self.screens)
        if screens is None:
            return
        if screens:
            self.rebuild(screens[-1])
        self.root.after(POLL_MS, self._poll)

    def _command(self, item: Item) -> Callable[[], None] | None:
        return (lambda: self._send(("click", item.path, item.text))) if item.clickable else None

    def rebuild(self, screen: Screen) -> None:
        tk = self.tk
        if self.frame is not None:
            self.frame.destroy()
        self._vars = []
        self.frame = tk.Frame(self.root, padx=8, pady=8)
        self.frame.pack(fill="both", expand=True)
        swatch = tk.Frame(self.frame, height=14, bg=screen.swatch)
        swatch.pack(fill="x", pady=(0, 6))
        for item in screen.items:
            self._add(self.frame, item)

    def _add(self, parent, item: Item) -> None:
        tk = self.tk
        state = "normal" if item.enabled else "disabled"
        if item.separator:
            tk.Frame(parent, height=1, bg="#999").pack(fill="x", pady=4)
        elif item.children:
            button = tk.Menubutton(parent, text=item.text, relief="raised", anchor="w", state=state)
            menu = tk.Menu(button, tearoff=False)
            self._fill(menu, item.children)
            button["menu"] = menu
            button.pack(fill="x", pady=1)
        elif item.checked is not None:
            var = tk.BooleanVar(value=item.checked)
            self._vars.append(var)
            tk.Checkbutton(parent, text=item.text, variable=var, anchor="w", state=state,
                           command=self._command(item)).pack(fill="x")
        else:
            button = tk.Button(parent, text=item.text, anchor="w", state=state, command=self._command(item))
            button.pack(fill="x", pady=1)

    def _fill(self, menu, items) -> None:
        for item in items:
            if item.separator:
                menu.add_separator()
            elif item.children:
                sub = self.tk.Menu(menu, tearoff=False)
                self._fill(sub, item.children)
                menu.add_cascade(label=item.text, menu=sub)
            elif item.checked is not None:
                var = self.tk.BooleanVar(value=item.checked)
                self._vars.append(var)
                menu.add_checkbutton(label=item.text, command=self._command(item), variable=var)
            else:
                menu.add_command(label=item.text, command=self._command(item))


def window_main(screens, events) -> None:
    """The control window's process: Tk on this process's main thread until closed."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in a terminal is the app's to handle; it closes us
    try:
        import tkinter as tk

        window = ControlWindow(tk, screens, events)
    except Exception as exc:  # no tkinter, or Tk cannot reach the display
        events.send(("error", f"{type(exc).__name__}: {exc}".splitlines()[0]))
        return
    window.run()


class ControlWindowProcess:
    """The app's side of the control window: starts the process, sends it screens, hears clicks.

    ``on_click(path, text)`` and ``on_closed(error)`` are called in a reader thread; the tray posts
    them to its UI thread. ``on_closed`` hears the user closing the window (error None) or a window
    that could not open (error: one line); not a ``close()`` by the app."""

    def __init__(self, on_click: Callable[[tuple[int, ...], str], None], on_closed: Callable[[str | None], None]):
        self.on_click = on_click
        self.on_closed = on_closed
        self._process = None
        self._screens = None
        self._closing = False

    def start(self) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")  # fork would copy the tray's GUI state
        self._screens = context.Queue()
        receive, send = context.Pipe(duplex=False)
        self._process = context.Process(target=window_main, args=(self._screens, send), name="control-window",
                                        daemon=True)
        self._process.start()
        send.close()  # only the child writes: its exit ends our recv() with EOFError
        threading.Thread(target=self._read, args=(receive,), name="control-window-events", daemon=True).start()

    def _read(self, receive) -> None:
        error = None
        try:
            while True:
                try:
                    message = receive.recv()
                except (EOFError, OSError):
                    break
                if message[0] == "click":
                    self.on_click(tuple(message[1]), message[2])
                elif message[0] == "error":
                    error = message[1]
                elif message[0] == "closed":
                    break
        finally:
            receive.close()
        if not self._closing:
            self.on_closed(error)

    def show(self, screen: Screen) -> None:
        """Send the window what to show (never blocks: the queue's feeder thread writes the pipe)."""
        if self._screens is not None and not self._closing:
            self._screens.put(screen)

    def close(self) -> None:
        """Close the window; safe to call twice."""
        if self._process is None:
            return
        self._closing = True
        self._screens.put(None)
        self._process.join(timeout=2.0)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=1.0)
        self._screens.cancel_join_thread()  # screens still queued are not worth waiting for
        self._screens.close()
        self._process = None
