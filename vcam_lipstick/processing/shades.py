"""Shades: named colours with a default finish, built-in and user-defined, and looks."""

from __future__ import annotations

import difflib
import json
import logging
import re
from dataclasses import dataclass
from enum import Enum
from importlib import resources
from pathlib import Path

log = logging.getLogger(__name__)

FAMILIES = ("nudes", "pinks", "corals", "reds", "berries", "plums", "browns", "bold", "custom")
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


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
        raise ShadeError(f"'{text}' is not a colour: use #RRGGBB, e.g. #C0141E")
    value = match.group(1)
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def parse_finish(text: str) -> Finish:
    try:
        return Finish(str(text).strip().lower())
    except ValueError:
        raise ShadeError(f"unknown finish '{text}': choose {', '.join(f.value for f in Finish)}") from None


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
    """What to render: a shade, a finish, an intensity in [0, 1], and an optional lip liner."""

    shade: Shade
    finish: Finish
    intensity: float = 0.75
    liner: bool = False

    def __post_init__(self):
        if not 0.0 <= float(self.intensity) <= 1.0:
            raise ShadeError(f"intensity {self.intensity} is outside 0-100%")


def _parse_entries(raw, source: str) -> list[Shade]:
    entries = raw.get("shades") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        log.warning("%s: expected {\"shades\": [...]}; ignoring the file", source)
        return []
    shades = []
    for i, entry in enumerate(entries):
        try:
            if not isinstance(entry, dict):
                raise ShadeError("entry is not an object")
            name = str(entry["name"]).strip()
            if not name:
                raise ShadeError("empty name")
            family = str(entry.get("family", "custom")).strip().lower() or "custom"
            finish = parse_finish(entry.get("finish", "satin"))
            shades.append(Shade(name, family, parse_hex(entry["color"]), finish))
        except (KeyError, ShadeError, TypeError) as exc:
            label = entry.get("name", f"#{i + 1}") if isinstance(entry, dict) else f"#{i + 1}"
            log.warning("%s: skipping shade %s: %s", source, label, exc if not isinstance(exc, KeyError) else f"missing {exc}")
    return shades


class ShadeBook:
    """Built-in shades, overridden or extended by the user's shade file."""

    def __init__(self, shades: list[Shade]):
        self._by_key: dict[str, Shade] = {}
        for shade in shades:
            self._by_key[shade.name.casefold()] = shade

    @classmethod
    def load(cls, user_file: Path | None = None) -> "ShadeBook":
        text = resources.files("vcam_lipstick.processing").joinpath("shades.json").read_text(encoding="utf-8")
        shades = _parse_entries(json.loads(text), "built-in shades")
        if user_file is not None and Path(user_file).is_file():
            try:
                raw = json.loads(Path(user_file).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                log.warning("%s: cannot read user shades (%s); using built-ins only", user_file, exc)
            else:
                shades += _parse_entries(raw, str(user_file))
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
        raise ShadeError(f"unknown shade '{text}'{hint}")
