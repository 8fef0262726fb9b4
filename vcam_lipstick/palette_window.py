"""The shade palette window, in its own process: Tk on that process's main thread (see ``palette``).

Swatches are grouped by family; hovering or focusing one shows its name, the current one carries a
ring. A click (or Enter on the focused swatch) applies it; arrow keys move between swatches; Esc
closes. Below them: custom colour, finish, intensity and ombré, and above them a before/after
thumbnail of what the meeting sees. Imports stay light (no numpy, no OpenCV): it must open in well under a second.
"""

from __future__ import annotations

import logging
import queue

from .child_window import ChildWindow
from .palette import COLUMNS, PaletteState, Swatch, neighbour

log = logging.getLogger(__name__)

TITLE = "Lipstick Cam shades"
POLL_MS = 100
SWATCH_PX = 30
THUMB_SIZE = (192, 108)
FOCUS_COLOUR = "#1E6FD9"
INTENSITY_DEBOUNCE_MS = 250
NOT_LIVE = "The app is not running:\nyour choice is saved for its next start."
WAITING = "Waiting for the camera…"


def _contrast(hex_color: str) -> str:
    """A mark colour that shows on ``hex_color``: white on dark shades, near-black on light ones."""
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return "#FFFFFF" if 0.299 * r + 0.587 * g + 0.114 * b < 140 else "#202020"


def _ppm(width: int, height: int, rgb: bytes) -> bytes:
    return b"P6 %d %d 255\n" % (width, height) + rgb


class PaletteWindow(ChildWindow):
    """The window (in the child process). Every Tk call happens on the thread that created it."""

    def __init__(self, tk, root, state: PaletteState, states, events, thumbs):
        self.tk = tk
        self.states = states  # multiprocessing.Queue: PaletteState, "raise", or None to close
        self.events = events  # Connection: events back to the app (see ``palette``)
        self.thumbs = thumbs  # multiprocessing.Queue of frame_tap.Thumbnails
        self.state = state
        self.swatches: list[Swatch] = []
        self.canvases: list = []
        self._shown = False
        self._intensity_job = None
        self._images: dict[str, object] = {}  # Tk drops an image nobody references
        self.root = root
        root.title(TITLE)
        root.resizable(False, False)
        root.protocol("WM_DELETE_WINDOW", self.close)
        root.bind("<Escape>", lambda event: self.close())
        root.bind("<Map>", self._mapped)
        self._build()
        root.after(POLL_MS, self._poll)

    # -- building ------------------------------------------------------------------------------
    def _build(self) -> None:
        tk, root = self.tk, self.root
        thumbs = tk.Frame(root, padx=8, pady=6)
        thumbs.grid(row=0, column=0, sticky="we")
        self.thumb_labels = {}
        for column, side in enumerate(("before", "after")):
            tk.Label(thumbs, text=side.capitalize()).grid(row=0, column=column)
            label = tk.Label(thumbs, width=THUMB_SIZE[0], height=THUMB_SIZE[1], bg="#303030", fg="#E0E0E0",
                             compound="center", wraplength=THUMB_SIZE[0] - 8)
            label.grid(row=1, column=column, padx=2)
            self.thumb_labels[side] = label
        self._show_waiting()
        self.notice = tk.Label(root, fg="#A01010", justify="left", anchor="w", wraplength=400)
        self.swatch_area = tk.Frame(root, padx=8)
        self.swatch_area.grid(row=2, column=0, sticky="we")
        self.name_label = tk.Label(root, anchor="w", padx=8, font=("TkDefaultFont", 11, "bold"))
        self.name_label.grid(row=3, column=0, sticky="we", pady=(4, 0))
        self._build_controls(tk.Frame(root, padx=8, pady=6))
        tk.Label(root, text="Arrows move · Enter applies · Esc closes", fg="#606060", padx=8,
                 anchor="w").grid(row=5, column=0, sticky="we", pady=(0, 6))
        self._build_swatches()
        self._apply_state(self.state, rebuild=False)

    def _build_controls(self, frame) -> None:
        tk = self.tk
        frame.grid(row=4, column=0, sticky="we")
        tk.Label(frame, text="Finish").grid(row=0, column=0, sticky="w")
        self.finish_var = tk.StringVar(value=self.state.finish)
        finishes = tk.Frame(frame)
        finishes.grid(row=0, column=1, sticky="w")
        for value in ("matte", "satin", "gloss", "shimmer"):
            tk.Radiobutton(finishes, text=value.capitalize(), value=value, variable=self.finish_var,
                           command=lambda: self._send(("finish", self.finish_var.get()))).pack(side="left")
        tk.Label(frame, text="Intensity").grid(row=1, column=0, sticky="w")
        self.intensity_var = tk.IntVar(value=self.state.intensity)
        self.intensity = tk.Scale(frame, from_=0, to=100, resolution=5, orient="horizontal", length=220,
                                  variable=self.intensity_var, command=self._intensity_moved)
        self.intensity.grid(row=1, column=1, sticky="w")
        tk.Label(frame, text="Ombré").grid(row=2, column=0, sticky="w")
        self.ombre_var = tk.StringVar(value=self.state.ombre or "")
        self.ombre_button = tk.Menubutton(frame, relief="raised", anchor="w", width=26)
        self.ombre_button.grid(row=2, column=1, sticky="w", pady=2)
        self.ombre_menu = tk.Menu(self.ombre_button, tearoff=False)
        self.ombre_button["menu"] = self.ombre_menu
        tk.Button(frame, text="Custom colour…", command=self._ask_custom).grid(row=3, column=1, sticky="w", pady=2)

    def _build_swatches(self) -> None:
        tk = self.tk
        for child in self.swatch_area.winfo_children():
            child.destroy()
        self.swatches, self.canvases = [], []
        row = 0
        for family, group in self.state.families:
            tk.Label(self.swatch_area, text=family.capitalize(), anchor="w", width=8).grid(row=row, column=0,
                                                                                           sticky="w")
            for i, swatch in enumerate(group):
                canvas = tk.Canvas(self.swatch_area, width=SWATCH_PX, height=SWATCH_PX, bg=swatch.hex, takefocus=1,
                                   highlightthickness=3, highlightcolor=FOCUS_COLOUR,
                                   highlightbackground=self.root.cget("bg"), cursor="hand2")
                canvas.grid(row=row + i // COLUMNS, column=1 + i % COLUMNS, padx=1, pady=1)
                self._bind_swatch(canvas, len(self.swatches))
                self.swatches.append(swatch)
                self.canvases.append(canvas)
            row += (len(group) + COLUMNS - 1) // COLUMNS

    def _bind_swatch(self, canvas, index: int) -> None:
        canvas.bind("<Button-1>", lambda event: self._clicked(index))
        for key in ("<Return>", "<KP_Enter>", "<space>"):
            canvas.bind(key, lambda event: self.apply(index))
        for key in ("Left", "Right", "Up", "Down"):
            canvas.bind(f"<{key}>", lambda event, k=key: self._move(index, k))
        canvas.bind("<Enter>", lambda event: self._show_name(self.swatches[index]))
        canvas.bind("<FocusIn>", lambda event: self._show_name(self.swatches[index]))
        canvas.bind("<Leave>", lambda event: self._show_name(self._focused() or self._current()))

    # -- state from the app --------------------------------------------------------------------
    def _apply_state(self, state: PaletteState, rebuild: bool = True) -> None:
        families_changed = state.families != self.state.families
        focused = self._focused()
        self.state = state
        if rebuild and families_changed:
            self._build_swatches()
            if focused is not None:
                self._focus_name(focused.name)
        self._mark(state.shade)
        self.finish_var.set(state.finish)
        if self._intensity_job is None and self.intensity_var.get() != state.intensity:
            self.intensity_var.set(state.intensity)
        self._fill_ombre(state)
        if state.notice:
            self.notice.configure(text=state.notice + "\nShowing the built-in shades and the valid entries.")
            self.notice.grid(row=1, column=0, sticky="we", padx=8)
        else:
            self.notice.grid_remove()
        if not state.live:
            self._show_waiting()
        self._show_name(self._focused() or self._current())

    def _fill_ombre(self, state: PaletteState) -> None:
        menu = self.ombre_menu
        menu.delete(0, "end")
        self.ombre_var.set(state.ombre or "")
        send = self._send
        menu.add_radiobutton(label="Off", value="", variable=self.ombre_var, command=lambda: send(("ombre", None)))
        menu.add_radiobutton(label=f"Matching lighter: {state.ombre_match}", value=state.ombre_match,
                             variable=self.ombre_var, command=lambda: send(("ombre", state.ombre_match)))
        menu.add_separator()
        for family, group in state.families:
            sub = self.tk.Menu(menu, tearoff=False)
            for swatch in group:
                sub.add_radiobutton(label=swatch.name, value=swatch.name, variable=self.ombre_var,
                                    command=lambda n=swatch.name: send(("ombre", n)))
            menu.add_cascade(label=family.capitalize(), menu=sub)
        self.ombre_button.configure(text=f"{state.ombre or 'Off'} ▾")

    def _mark(self, name: str) -> None:
        for canvas, swatch in zip(self.canvases, self.swatches):
            canvas.delete("mark")
            if swatch.name.casefold() == name.casefold():
                colour = _contrast(swatch.hex)
                c = SWATCH_PX / 2
                canvas.create_oval(c - 8, c - 8, c + 8, c + 8, outline=colour, width=3, tags="mark")

    # -- the user ------------------------------------------------------------------------------
    def _clicked(self, index: int) -> None:
        self.canvases[index].focus_set()
        self.apply(index)

    def apply(self, index: int) -> None:
        swatch = self.swatches[index]
        self._mark(swatch.name)  # at once; the app's next state confirms it
        self._show_name(swatch)
        self._send(("shade", swatch.name))

    def _move(self, index: int, key: str) -> str:
        counts = tuple(len(group) for _, group in self.state.families)
        self.canvases[neighbour(counts, index, key)].focus_set()
        return "break"

    def _focused(self) -> Swatch | None:
        widget = self.root.focus_get()
        for canvas, swatch in zip(self.canvases, self.swatches):
            if canvas is widget:
                return swatch
        return None

    def _focus_name(self, name: str) -> None:
        for canvas, swatch in zip(self.canvases, self.swatches):
            if swatch.name.casefold() == name.casefold():
                canvas.focus_set()
                return

    def _current(self) -> Swatch:
        s = self.state
        return next((w for w in self.swatches if w.name.casefold() == s.shade.casefold()),
                    Swatch(s.shade, s.shade_hex, s.finish, "custom"))

    def _show_name(self, swatch: Swatch) -> None:
        current = " (current)" if swatch.name.casefold() == self.state.shade.casefold() else ""
        self.name_label.configure(text=f"{swatch.name}{current}  ·  {swatch.finish}  ·  {swatch.hex}")

    def _intensity_moved(self, value) -> None:
        if self._intensity_job is not None:
            self.root.after_cancel(self._intensity_job)
        self._intensity_job = self.root.after(INTENSITY_DEBOUNCE_MS, self._send_intensity)

    def _send_intensity(self) -> None:
        self._intensity_job = None
        value = int(self.intensity_var.get())
        if value != self.state.intensity:
            self._send(("intensity", value))

    def _ask_custom(self) -> None:
        from tkinter import colorchooser

        _, hex_color = colorchooser.askcolor(color=self.state.shade_hex, title="Lipstick colour", parent=self.root)
        if hex_color:
            self._send(("custom", hex_color.upper()))

    # -- thumbnails ----------------------------------------------------------------------------
    def _show_waiting(self) -> None:
        text = WAITING if self.state.live else NOT_LIVE
        blank = self._images.get("blank")
        if blank is None:
            blank = self._images["blank"] = self.tk.PhotoImage(width=THUMB_SIZE[0], height=THUMB_SIZE[1])
        for label in self.thumb_labels.values():
            label.configure(image=blank, text=text)

    def _show_thumbnails(self, t) -> None:
        for side in ("before", "after"):
            image = self.tk.PhotoImage(data=_ppm(t.width, t.height, getattr(t, side)), format="PPM")
            self._images[side] = image
            self.thumb_labels[side].configure(image=image, text="")

    # -- the app -------------------------------------------------------------------------------
    def _mapped(self, event) -> None:
        if self._shown or event.widget is not self.root:
            return
        self._shown = True
        self.root.update_idletasks()
        self._focus_name(self.state.shade)
        layout = {s.name: (c.winfo_rootx() + c.winfo_width() // 2, c.winfo_rooty() + c.winfo_height() // 2)
                  for s, c in zip(self.swatches, self.canvases)}
        self._send(("shown", layout))

    def _poll(self) -> None:
        """Show the newest state and thumbnail; close when the app says so or is gone."""
        messages = self.drain(self.states)
        if messages is None:
            return
        latest = None
        for message in messages:
            if message == "raise":
                self.root.deiconify()
                self.root.lift()
                self.root.focus_force()
            else:
                latest = message
        if latest is not None:
            self._apply_state(latest)
        try:
            thumbnails = self.thumbs.get_nowait()
        except (queue.Empty, EOFError, OSError):
            thumbnails = None
        if thumbnails is not None and self.state.live:
            self._show_thumbnails(thumbnails)
        self.root.after(POLL_MS, self._poll)


def _first_state(states) -> PaletteState | None:
    """Wait for the state to show first; None when the app closes the window first or is gone."""
    import multiprocessing

    while True:
        try:
            message = states.get(timeout=0.2)
        except queue.Empty:
            parent = multiprocessing.parent_process()
            if parent is not None and not parent.is_alive():
                return None
            continue
        if message is None or isinstance(message, PaletteState):
            return message


def window_main(states, events, thumbs) -> None:
    """The palette's process: Tk on this process's main thread until closed or the app is gone.

    Tk starts before the first state arrives (the app may still be loading), hidden until built."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in a terminal is the app's to handle; it closes us
    try:
        import tkinter as tk

        root = tk.Tk()
        root.withdraw()
        state = _first_state(states)
        if state is None:
            root.destroy()
            return
        window = PaletteWindow(tk, root, state, states, events, thumbs)
        root.deiconify()
    except Exception as exc:  # no tkinter, or Tk cannot reach the display
        try:
            events.send(("error", f"{type(exc).__name__}: {exc}".splitlines()[0]))
        except (OSError, ValueError):
            pass
        return
    window.run()
