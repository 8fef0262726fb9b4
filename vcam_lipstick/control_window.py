"""A small Tk window with the tray menu's controls, for trays that cannot show menus."""

from __future__ import annotations

import logging

from .menu import Entry

log = logging.getLogger(__name__)


def ask_color(initial: str) -> str | None:
    """A colour picker; returns '#RRGGBB' or None (cancelled, or no Tk available)."""
    try:
        import tkinter as tk
        from tkinter import colorchooser
    except ImportError:
        log.warning("custom colour needs tkinter; set it with: vcam-lipstick process --shade '#RRGGBB' or settings")
        return None
    root = tk.Tk()
    root.withdraw()
    try:
        _, hex_color = colorchooser.askcolor(color=initial, title="Lipstick colour")
    finally:
        root.destroy()
    return hex_color.upper() if hex_color else None


class ControlWindow:
    """Renders ``controller.menu()`` as buttons and check boxes; rebuilt after every change."""

    def __init__(self, controller):
        import tkinter as tk

        self.tk = tk
        self.controller = controller
        self.root = tk.Tk()
        self.root.title("Lipstick Cam")
        self.root.protocol("WM_DELETE_WINDOW", controller.quit)
        self.frame = None
        self._dirty = False
        # Listeners may fire on other threads: only flag here; Tk is touched on its own thread.
        controller.listeners.append(self._mark_dirty)
        self.rebuild()
        self.root.after(100, self._poll)

    def _mark_dirty(self) -> None:
        self._dirty = True

    def _poll(self) -> None:
        """Every 100 ms: rebuild after changes, close on quit (also lets Python run signal handlers)."""
        if self.controller.quit_requested.is_set():
            self.root.quit()
            return
        if self._dirty:
            self._dirty = False
            self.rebuild()
        self.root.after(100, self._poll)

    def rebuild(self) -> None:
        if self.frame is not None:
            self.frame.destroy()
        self._vars = []  # Tk variables must outlive this call or their check marks vanish
        self.frame = self.tk.Frame(self.root, padx=8, pady=8)
        self.frame.pack(fill="both", expand=True)
        swatch = self.tk.Frame(self.frame, height=14, bg=self.controller.shade().hex)
        swatch.pack(fill="x", pady=(0, 6))
        for entry in self.controller.menu():
            self._add(self.frame, entry)

    def _add(self, parent, e: Entry) -> None:
        tk = self.tk
        if e.separator:
            tk.Frame(parent, height=1, bg="#999").pack(fill="x", pady=4)
        elif e.children:
            button = tk.Menubutton(parent, text=e.text, relief="raised", anchor="w")
            menu = tk.Menu(button, tearoff=False)
            self._fill(menu, e.children)
            button["menu"] = menu
            button.pack(fill="x", pady=1)
        elif e.checked is not None:
            var = tk.BooleanVar(value=e.checked)
            self._vars.append(var)
            tk.Checkbutton(parent, text=e.text, variable=var, anchor="w", command=e.action).pack(fill="x")
        else:
            tk.Button(parent, text=e.text, anchor="w", command=e.action).pack(fill="x", pady=1)

    def _fill(self, menu, entries) -> None:
        for e in entries:
            if e.children:
                sub = self.tk.Menu(menu, tearoff=False)
                self._fill(sub, e.children)
                menu.add_cascade(label=e.text, menu=sub)
            elif e.checked is not None:
                var = self.tk.BooleanVar(value=e.checked)
                self._vars.append(var)
                menu.add_checkbutton(label=e.text, command=e.action, variable=var)
            else:
                menu.add_command(label=e.text, command=e.action)

    def run(self) -> None:
        self.root.mainloop()
        try:
            self.root.destroy()
        except Exception:
            pass
