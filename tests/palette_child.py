"""Stand-ins for the palette window's process: scripted users that speak the palette's protocol.

The app spawns these in place of ``palette_window.window_main`` (a test points it at them), so the
process, the queues and the pipe are the real ones; only Tk is left out (the display tests run the
real window). Each writes what it saw to the JSON file named by ``$VCAM_PALETTE_CHILD_LOG`` as it
ends. Kept free of heavy imports: children load it.
"""

import json
import os

LOG_ENV = "VCAM_PALETTE_CHILD_LOG"
WAIT = 30.0  # seconds; only a broken run waits this long


def _summary(state):
    return {"shade": state.shade, "finish": state.finish, "intensity": state.intensity, "ombre": state.ombre,
            "live": state.live, "notice": state.notice, "names": [s.name for s in state.swatches()]}


def _dump(seen):
    with open(os.environ[LOG_ENV], "w", encoding="utf-8") as f:
        json.dump(seen, f)


def _until_closed(states, seen):
    """Record every state until the app closes the window (None)."""
    while True:
        message = states.get(timeout=WAIT)
        if message is None:
            seen["closed_by_app"] = True
            return
        if message != "raise":
            seen["states"].append(_summary(message))
        else:
            seen["raised"] = seen.get("raised", 0) + 1


def pick_classic_red(states, events, thumbs):
    """Waits for a live thumbnail, clicks Classic Red, then stays open until the app closes it."""
    seen = {"pid": os.getpid(), "states": [], "thumbs": []}
    try:
        seen["states"].append(_summary(states.get(timeout=WAIT)))
        events.send(("shown", {"Classic Red": (10, 20)}))
        t = thumbs.get(timeout=WAIT)
        seen["thumbs"].append({"width": t.width, "height": t.height, "bytes": len(t.before),
                               "differ": t.before != t.after})
        events.send(("shade", "Classic Red"))
        _until_closed(states, seen)
    finally:
        _dump(seen)


def watch(states, events, thumbs):
    """Shows itself and records every state until the app closes it."""
    seen = {"pid": os.getpid(), "states": []}
    try:
        seen["states"].append(_summary(states.get(timeout=WAIT)))
        events.send(("shown", {}))
        _until_closed(states, seen)
    finally:
        _dump(seen)


def choose_and_close(states, events, thumbs):
    """Standalone use: picks Classic Red, gloss, 50 %, ombré Ballet Pink, then closes the window itself."""
    seen = {"pid": os.getpid(), "states": []}
    try:
        seen["states"].append(_summary(states.get(timeout=WAIT)))
        events.send(("shown", {}))
        for message in (("shade", "Classic Red"), ("finish", "gloss"), ("intensity", 50), ("ombre", "Ballet Pink")):
            events.send(message)
        while not seen["states"] or seen["states"][-1]["ombre"] != "Ballet Pink":
            message = states.get(timeout=WAIT)
            if message is None:
                return
            seen["states"].append(_summary(message))
        events.send(("closed",))
    finally:
        _dump(seen)


def cannot_open(states, events, thumbs):
    """A window that cannot reach the display, as Tk says it."""
    states.get(timeout=WAIT)
    events.send(("error", 'TclError: couldn\'t connect to display ":99"'))
