"""Dialogs in a child process: a window with an event loop of its own never shares the app's.

Tk is not thread-safe, and macOS accepts UI calls only on a process's main thread, which the tray
owns. So a dialog runs as the main thread of a spawned child (as the preview window does) and its
answer comes back through a pipe; ``on_result`` hears it in a waiter thread of the app.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class DialogError(RuntimeError):
    """A dialog cannot be shown (no Tk, no process); the message is one line for the user."""


def ask_color(initial: str) -> str | None:
    """The colour picker (in the child process): '#RRGGBB', or None when cancelled."""
    try:
        import tkinter as tk
        from tkinter import colorchooser
    except ImportError:
        raise DialogError("custom colour needs tkinter; set one with: vcam-lipstick run --shade '#RRGGBB'") from None
    root = tk.Tk()
    root.withdraw()
    try:
        _, hex_color = colorchooser.askcolor(color=initial, title="Lipstick colour", parent=root)
    finally:
        root.destroy()
    return hex_color.upper() if hex_color else None


def _child_main(target: Callable, args: tuple, answer) -> None:
    """The child process: ``target(*args)`` on its main thread; sends ("ok", value) or ("error", message)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in a terminal is the app's to handle
    try:
        reply = ("ok", target(*args))
    except DialogError as exc:
        reply = ("error", str(exc))
    except Exception as exc:  # a Tk failure: the app says so in one line
        reply = ("error", f"{type(exc).__name__}: {exc}".splitlines()[0])
    try:
        answer.send(reply)
    finally:
        answer.close()


class ChildDialog:
    """Shows one dialog at a time in a child process.

    ``open(args, on_result, on_error)`` returns at once; ``on_result(value)`` or ``on_error(message)``
    is called in a waiter thread when the dialog closes. A dialog that is already open is not opened twice."""

    def __init__(self, target: Callable, name: str):
        self.target = target
        self.name = name
        self._lock = threading.Lock()
        self._open = False

    @property
    def is_open(self) -> bool:
        return self._open

    def open(self, args: tuple, on_result: Callable[[object], None], on_error: Callable[[str], None]) -> bool:
        with self._lock:
            if self._open:
                return False
            self._open = True
        try:
            import multiprocessing

            context = multiprocessing.get_context("spawn")  # fork would copy the tray's GUI state
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_child_main, args=(self.target, args, send), name=self.name, daemon=True)
            process.start()
            send.close()  # only the child writes: its exit ends our recv() with EOFError
        except Exception as exc:
            self._open = False
            on_error(f"cannot open the {self.name} ({exc})")
            return False
        threading.Thread(target=self._wait, args=(process, receive, on_result, on_error), name=f"{self.name}-wait",
                         daemon=True).start()
        return True

    def _wait(self, process, receive, on_result, on_error) -> None:
        try:
            try:
                status, value = receive.recv()
            except (EOFError, OSError):
                status, value = "error", f"the {self.name} closed unexpectedly"
            finally:
                receive.close()
            process.join()
        finally:
            self._open = False
        if status == "ok":
            on_result(value)
        else:
            on_error(value)
