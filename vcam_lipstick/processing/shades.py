"""Shades: named colours with a default finish, built-in and user-defined, and looks."""

from __future__ import annotations

import difflib
import json
import logging
import math
import re
import reprlib
from dataclasses import dataclass
from enum import Enum
from importlib import resources
from pathlib import Path

from ..jsonfile import JsonFileError, read_json

log = logging.getLogger(__name__)

FAMILIES = ("nudes", "pinks", "corals", "reds", "berries", "plums", "browns", "bold", "custom")
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")
MAX_NAME_LENGTH = 64  # a shade name is a menu label
_short = reprlib.Repr()
_short.maxstring = _short.maxother = 40


class Finish(str, Enum):
    MATTE = "matte"
    SATIN = "satin"
    GLOSS = "gloss"
    SHIMMER = "shimmer"


class ShadeError(ValueError):
    """A shade, colour, finish or intensity the user gave is not valid."""


def parse_hex(text: str) -> tuple[int, int, int]:
    """'#RRGGBB' (or 'RRGGBB') -> (r, g, b) ints; raises ShadeError."""
    match = _HEX.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ShadeError(f"{_short.repr(text)} is not a colour: use #RRGGBB, e.g. #C0141E")
    value = match.group(1)
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def parse_finish(text: str) -> Finish:
    try:
        return Finish(str(text).strip().lower())
    except ValueError:
        raise ShadeError(f"unknown finish {_short.repr(text)}: choose {', '.join(f.value for f in Finish)}") from None


@dataclass(frozen=True)
class Shade:
    name: str
    family: str
    rgb: tuple[int, int, int]
    finish: Finish = Finish.SATIN

    @property
    def hex(self) -> str:
        return "#{:02X}{:02X}{:02X}".format(*self.rgb)

    @classmethod
    def custom(cls, hex_color: str, finish: Finish = Finish.SATIN) -> "Shade":
        rgb = parse_hex(hex_color)
        return cls("#{:02X}{:02X}{:02X}".format(*rgb), "custom", rgb, finish)


@dataclass(frozen=True)
class Look:
    """What to render: a shade, a finish, an intensity in [0, 1], an optional lip liner, and an
    optional ombré shade that takes over towards the middle of the mouth (None: one shade)."""

    shade: Shade
    finish: Finish
    intensity: float = 0.75
    liner: bool = False
    ombre: Shade | None = None

    def __post_init__(self):
        if not 0.0 <= float(self.intensity) <= 1.0:
            raise ShadeError(f"intensity {self.intensity} is outside 0-100%")
        if self.ombre is not None and not isinstance(self.ombre, Shade):
            raise TypeError(f"ombre must be a Shade or None, not {type(self.ombre).__name__}")


def shade_lab(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    """(r, g, b) 0-255 sRGB -> CIELAB (L 0-100, a, b), D65; plain Python, for choosing between shades."""
    def linear(c: float) -> float:
        c /= 255.0
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    def f(t: float) -> float:
        return t ** (1.0 / 3.0) if t > 216.0 / 24389.0 else (24389.0 / 27.0 * t + 16.0) / 116.0

    r, g, b = (linear(c) for c in rgb)
    fx = f((0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047)
    fy = f(0.2126 * r + 0.7152 * g + 0.0722 * b)
    fz = f((0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883)
    return 116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)


def _text(entry: dict, key: str, default: str | None = None) -> str:
    """A short printable string from ``entry[key]``; ShadeError (never a str() of null or a list)."""
    value = entry[key] if default is None else entry.get(key, default)
    if not isinstance(value, str):
        raise ShadeError(f"{key} must be text, not {'null' if value is None else type(value).__name__}")
    value = value.strip()
    if not value:
        raise ShadeError(f"empty {key}")
    if not value.isprintable():
        raise ShadeError(f"{key} has control or unprintable characters")
    if len(value) > MAX_NAME_LENGTH:
        raise ShadeError(f"{key} is longer than {MAX_NAME_LENGTH} characters")
    return value


def _label(i: int, entry) -> str:
    """How a warning names an entry: its number, and its name as repr (never raw control characters)."""
    name = entry.get("name") if isinstance(entry, dict) else None
    return f"#{i + 1}" + (f" {_short.repr(name)}" if name is not None else "")


def _warn(problems: list[str] | None, message: str) -> None:
    log.warning("%s", message)
    if problems is not None:
        problems.append(message)


def _parse_entries(raw, source: str, problems: list[str] | None = None) -> list[Shade]:
    """Shades from ``{"shades": [...]}``; a bad entry is skipped and a repeated name warned about,
    one line each (also appended to ``problems``). The later of two entries with the same name (any case) wins."""
    entries = raw.get("shades") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        _warn(problems, f"{source}: expected {{\"shades\": [...]}}; ignoring the file")
        return []
    shades = []
    first_seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        try:
            if not isinstance(entry, dict):
                raise ShadeError("entry is not an object")
            name = _text(entry, "name")
            family = _text(entry, "family", "custom").lower()
            finish = parse_finish(entry.get("finish", "satin"))
            shades.append(Shade(name, family, parse_hex(entry["color"]), finish))
        except (KeyError, ShadeError) as exc:
            reason = f"missing {exc}" if isinstance(exc, KeyError) else exc
            _warn(problems, f"{source}: skipping shade {_label(i, entry)}: {reason}")
            continue
        key = name.casefold()
        if key in first_seen:
            _warn(problems, f"{source}: shade {_label(i, entry)} repeats the name of #{first_seen[key] + 1}; "
                            "using the later one")
        first_seen[key] = i
    return shades


class ShadeBook:
    """Built-in shades, overridden or extended by the user's shade file."""

    def __init__(self, shades: list[Shade]):
        self._by_key: dict[str, Shade] = {}
        for shade in shades:
            self._by_key[shade.name.casefold()] = shade

    @classmethod
    def load(cls, user_file: Path | None = None, problems: list[str] | None = None) -> "ShadeBook":
        """The built-in shades plus ``user_file``'s; a user file that cannot be used is one warning
        and the built-ins alone. The user file is only ever read. Every warning about the user
        file (one line each, naming the entry) is also appended to ``problems`` when given."""
        text = resources.files("vcam_lipstick.processing").joinpath("shades.json").read_text(encoding="utf-8")
        shades = _parse_entries(json.loads(text), "built-in shades")
        if user_file is not None and Path(user_file).is_file():
            try:
                raw = read_json(Path(user_file))
            except (OSError, JsonFileError) as exc:
                reason = exc if isinstance(exc, JsonFileError) else (exc.strerror or exc)
                _warn(problems, f"{user_file}: cannot read user shades ({reason}); using built-ins only")
            else:
                shades += _parse_entries(raw, str(user_file), problems)
        return cls(shades)

    def __iter__(self):
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)

    def families(self) -> dict[str, list[Shade]]:
        out: dict[str, list[Shade]] = {}
        for shade in self:
            out.setdefault(shade.family, []).append(shade)
        order = {f: i for i, f in enumerate(FAMILIES)}
        return dict(sorted(out.items(), key=lambda kv: order.get(kv[0], len(order))))

    def lighter_match(self, shade: Shade) -> Shade:
        """A lighter shade of about the same hue, for ombré (the tray's "matching lighter shade").

        The book's shade 8-40 L* lighter with the closest hue (within 25 degrees; the same family
        and a step of about 18 L* preferred); when there is none (the lightest shades), ``shade``
        mixed 35% towards white, as a custom colour."""
        L0, a0, b0 = shade_lab(shade.rgb)
        hue0 = math.atan2(b0, a0)
        best, best_score = None, math.inf
        for other in self:
            L, a, b = shade_lab(other.rgb)
            step = L - L0
            hue_gap = abs(math.degrees((math.atan2(b, a) - hue0 + math.pi) % (2 * math.pi) - math.pi))
            if not 8.0 <= step <= 40.0 or hue_gap > 25.0:
                continue
            score = hue_gap + 0.4 * abs(step - 18.0) - (8.0 if other.family == shade.family else 0.0)
            if score < best_score:
                best, best_score = other, score
        if best is not None:
            return best
        mixed = tuple(round(c + 0.35 * (255 - c)) for c in shade.rgb)
        return Shade.custom("#{:02X}{:02X}{:02X}".format(*mixed), shade.finish)

    def get(self, name: str) -> Shade:
        """A shade by name (case-insensitive) or a #RRGGBB colour; ShadeError lists close names."""
        text = str(name).strip()
        if _HEX.match(text):
            return Shade.custom(text)
        if text.startswith("#"):
            parse_hex(text)  # raises a ShadeError that explains the format
        shade = self._by_key.get(text.casefold())
        if shade is not None:
            return shade
        names = [s.name for s in self]
        close = difflib.get_close_matches(text, names, n=3, cutoff=0.4)
        close += [n for n in names if text.casefold() in n.casefold() and n not in close][:3]
        hint = f"; did you mean {', '.join(close[:3])}?" if close else "; run 'vcam-lipstick shades' for the list"
        raise ShadeError(f"unknown shade {_short.repr(text)}{hint}")
