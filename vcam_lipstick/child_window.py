"""What every Tk window in a child process shares: reading the app's queue, answering on its pipe,
closing when the app says so or is gone, and leaving Tk cleanly."""

from __future__ import annotations

import queue


class ChildWindow:
    """Base of the control window, the palette and the preview. Subclasses set ``root`` (their Tk root)
    and, to answer the app, ``events`` (a Connection back to it), and call ``drain`` from their
    ``root.after`` poll."""

    root = None
    events = None

    def drain(self, messages) -> list | None:
        """Every message waiting on ``messages`` (a multiprocessing queue), oldest first; None (after
        quitting Tk) when the window must close: the app sent None, the queue broke, or the app is gone."""
        import multiprocessing

        waiting = []
        try:
            while True:
                message = messages.get_nowait()
                if message is None:
                    self.root.quit()
                    return None
                waiting.append(message)
        except queue.Empty:
            pass
        except (EOFError, OSError):
            self.root.quit()
            return None
        parent = multiprocessing.parent_process()
        if parent is not None and not parent.is_alive():
            self.root.quit()
            return None
        return waiting

    def _send(self, message: tuple) -> None:
        try:
            self.events.send(message)
        except (OSError, ValueError):  # the app is gone
            self.root.quit()

    def close(self) -> None:
        """The user closed the window: tell the app, end Tk's loop."""
        self._send(("closed",))
        self.root.quit()

    def run(self) -> None:
        self.root.mainloop()
        try:
            self.root.destroy()
        except Exception:  # Tk may already be gone with its display
            pass
