"""The swatch sheet: every shade as a labelled colour square, grouped by family, in one picture.

Each family is a column under its name (a long family continues in the next column); under each
swatch are the shade's name, colour and finish. The squares are filled with the shade's exact sRGB
colour, so a swatch reads back as its shade (no shading, no texture, no alpha).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from .processing.shades import Shade

BACKGROUND = (255, 255, 255)
INK = (40, 40, 40)
FAINT = (110, 110, 110)


@dataclass(frozen=True)
class SheetStyle:
    """Sizes in pixels."""

    swatch: int = 80  # side of a colour square
    gap: int = 16  # between swatches, and around the sheet
    heading: int = 26  # the family names' row
    text_height: int = 32  # two lines under each swatch
    rows: int = 6  # a family with more shades continues in the next column


def _font(size: int):
    try:
        return ImageFont.load_default(size)  # Pillow's bundled scalable font (FreeType builds)
    except (TypeError, OSError, ImportError):  # Pillow < 10.1 or no FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _fit(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    """``text``, shortened with an ellipsis until it fits ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def sheet_layout(families: dict[str, list[Shade]], style: SheetStyle = SheetStyle()):
    """(width, height), [(family, (x, y))] heading positions and [(shade, (x0, y0, x1, y1))] swatch boxes."""
    rows = max(1, min(style.rows, max((len(s) for s in families.values()), default=1)))
    cell_w, cell_h = style.swatch + style.gap, style.swatch + style.text_height + style.gap
    headings, boxes = [], []
    x = style.gap
    for family, shades in families.items():
        headings.append((family, (x, style.gap)))
        for i, shade in enumerate(shades):
            col, row = divmod(i, rows)
            x0, y0 = x + col * cell_w, style.gap + style.heading + row * cell_h
            boxes.append((shade, (x0, y0, x0 + style.swatch, y0 + style.swatch)))
        x += max(1, math.ceil(len(shades) / rows)) * cell_w
    return (x, style.gap + style.heading + rows * cell_h), headings, boxes


def draw_sheet(families: dict[str, list[Shade]], style: SheetStyle = SheetStyle()) -> Image.Image:
    """An RGB picture of ``families`` (family -> shades, in order, as ``ShadeBook.families()`` gives)."""
    size, headings, boxes = sheet_layout(families, style)
    image = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(image)
    title, name_font, small = _font(15), _font(12), _font(10)
    width = style.swatch + style.gap - 4
    for family, (x, y) in headings:
        draw.text((x, y), _fit(draw, family.capitalize(), title, width), fill=INK, font=title)
    for shade, (x0, y0, x1, y1) in boxes:
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=shade.rgb, outline=(215, 215, 215))  # pale shades keep an edge
        draw.text((x0, y1 + 4), _fit(draw, shade.name, name_font, width), fill=INK, font=name_font)
        draw.text((x0, y1 + 18), _fit(draw, f"{shade.hex} · {shade.finish.value}", small, width), fill=FAINT,
                  font=small)
    return image


def write_sheet(path: Path, families: dict[str, list[Shade]], style: SheetStyle = SheetStyle()) -> None:
    """Draw the sheet and write it to ``path`` in the format its extension names (.png keeps the
    colours exact), through a temporary file and a rename, so a failure never leaves half a file.
    An extension Pillow cannot write is a ``ValueError``; a failed write an ``OSError``."""
    path = Path(path)
    Image.init()
    kind = Image.registered_extensions().get(path.suffix.lower())
    if kind is None or kind not in Image.SAVE:
        raise ValueError(f"{path}: cannot tell the picture format from {path.suffix or 'no extension'!r}; use .png")
    image = draw_sheet(families, style)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        image.save(tmp, format=kind, optimize=True)
        os.replace(tmp, path)
    finally:  # also on Ctrl+C; after the rename there is nothing left to remove
        tmp.unlink(missing_ok=True)
