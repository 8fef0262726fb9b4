"""A fake ``tkinter`` that records the process and thread of every call, and a scripted user.

The control window and the colour dialog run in child processes, so the fake is installed there by
the child entry points below (the test points the app at them); each child writes what it saw to
the JSON file named by ``$VCAM_FAKE_TK_LOG`` as it ends. Kept free of heavy imports: children load it.
"""

import json
import os
import sys
import threading
import time
import types

LOG_ENV = "VCAM_FAKE_TK_LOG"
#: Everything the fake saw: [call, on the main thread?] in order.
CALLS = []
STATE = {"pid": os.getpid(), "askcolor": None, "steps": 0}
#: The bound on a scripted session; only a broken run reaches it.
MAX_SECONDS = 60.0


def record(name):
    CALLS.append([name, threading.current_thread() is threading.main_thread()])


class TclError(Exception):
    pass


class Widget:
    live = []  # every widget not destroyed, newest last

    def __init__(self, parent=None, text="", command=None, variable=None, **options):
        record(type(self).__name__)
        self.parent, self.text, self.command, self.variable = parent, text, command, variable
        self.options = options
        self.children = []
        self.destroyed = False
        if isinstance(parent, Widget):
            parent.children.append(self)
        Widget.live.append(self)

    def pack(self, **kw):
        record("pack")

    def destroy(self):
        record("destroy")
        for child in self.children:
            child.destroy()
        self.destroyed = True
        if self in Widget.live:
            Widget.live.remove(self)

    def __setitem__(self, key, value):
        record("configure")
        self.options[key] = value


class Frame(Widget):
    pass


class Button(Widget):
    pass


class Checkbutton(Widget):
    pass


class Menubutton(Widget):
    pass


class Menu(Widget):
    def __init__(self, parent=None, **options):
        super().__init__(parent, **options)
        self.entries = []

    def _add(self, kind, **options):
        record(f"Menu.{kind}")
        self.entries.append((kind, options))

    def add_cascade(self, **options):
        self._add("cascade", **options)

    def add_checkbutton(self, **options):
        self._add("checkbutton", **options)

    def add_command(self, **options):
        self._add("command", **options)

    def add_separator(self, **options):
        self._add("separator", **options)


class BooleanVar:
    def __init__(self, value=False):
        record("BooleanVar")
        self.value = value

    def get(self):
        record("BooleanVar.get")
        return self.value


class Tk(Widget):
    def __init__(self):
        super().__init__(None)
        self.protocols = {}
        self.scheduled = []
        self.running = False

    def title(self, text):
        record("title")

    def withdraw(self):
        record("withdraw")

    def protocol(self, name, handler):
        record("protocol")
        self.protocols[name] = handler

    def after(self, ms, fn):
        record("after")
        self.scheduled.append((ms, fn))

    def quit(self):
        record("quit")
        self.running = False

    def mainloop(self):
        record("mainloop")
        self.running = True
        deadline = time.monotonic() + MAX_SECONDS
        while self.running:
            if not self.scheduled or time.monotonic() > deadline:
                raise RuntimeError("the fake Tk has nothing left to run")
            ms, fn = self.scheduled.pop(0)
            time.sleep(ms / 1000.0)
            fn()
            if self.running and USER is not None:
                USER(self)


def askcolor(color=None, title=None, parent=None):
    record("askcolor")
    STATE["askcolor"] = {"color": color, "title": title}
    answer = STATE.get("answer")
    return ((0, 0, 0), answer) if answer else (None, None)


#: The scripted user, called after every turn of the fake main loop with the root window.
USER = None


def find(cls, text):
    """The newest live widget of ``cls`` showing ``text``, or None."""
    for widget in reversed(Widget.live):
        if isinstance(widget, cls) and widget.text == text:
            return widget
    return None


def mirror_then_close(root):
    """Ticks "Mirror", waits until the app sends a screen with it ticked, then closes the window."""
    box = find(Checkbutton, "Mirror")
    if box is None:
        return
    if STATE["steps"] == 0 and box.variable.value is False:
        STATE["steps"] = 1
        box.command()
    elif STATE["steps"] == 1 and box.variable.value is True:
        STATE["steps"] = 2
        root.protocols["WM_DELETE_WINDOW"]()


def install(answer=None, user=None):
    """Make ``import tkinter`` (and ``tkinter.colorchooser``) give this fake."""
    global USER
    tk = types.ModuleType("tkinter")
    for name in ("Tk", "Frame", "Button", "Checkbutton", "Menubutton", "Menu", "BooleanVar", "TclError"):
        setattr(tk, name, globals()[name])
    chooser = types.ModuleType("tkinter.colorchooser")
    chooser.askcolor = askcolor
    tk.colorchooser = chooser
    sys.modules["tkinter"] = tk
    sys.modules["tkinter.colorchooser"] = chooser
    STATE["answer"] = answer
    USER = user


def dump():
    with open(os.environ[LOG_ENV], "w", encoding="utf-8") as f:
        json.dump({**STATE, "calls": CALLS}, f)


def read_log(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# -- child entry points (the app spawns these in place of its own) ----------------------------------
def control_window_child(screens, events):
    install(user=mirror_then_close)
    from vcam_lipstick.control_window import window_main

    try:
        window_main(screens, events)
    finally:
        dump()


def color_dialog_child(initial):
    install(answer="#1a2b3c")
    from vcam_lipstick.dialogs import ask_color

    try:
        return ask_color(initial)
    finally:
        dump()
