"""argparse types shared by the app's CLI and the trainer's (so neither imports the other)."""

from __future__ import annotations

import argparse

from .settings import LIMITS


def parse_size(text: str) -> tuple[int, int]:
    """'1280x720' -> (1280, 720), for argparse."""
    (wl, wh), (hl, hh) = LIMITS["width"], LIMITS["height"]
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1280x720, not '{text}'") from None
    if not (wl <= w <= wh and hl <= h <= hh):
        raise argparse.ArgumentTypeError(f"size {text} is out of range ({wl}x{hl} to {wh}x{hh})")
    return w, h


def bounded(cast, low, high=None, what: str = "value"):
    """An argparse type: a number (``int`` or ``float``) from ``low`` to ``high`` (no upper limit if None)."""
    kind = "a whole number" if cast is int else "a number"

    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be {kind}, not '{text}'") from None
        if not value >= low or (high is not None and value > high):  # "not >=" also rejects nan
            limit = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"{what} must be {limit}, not {text}")
        return value

    return parse
