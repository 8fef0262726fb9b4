"""User settings: a dataclass with defaults, a tolerant loader and atomic writes.

Unknown keys are dropped, bad values fall back to their defaults, and a file that is not usable
JSON (not UTF-8, not JSON, nested too deeply, larger than 1 MB) is kept aside as
``settings.json.bak`` before the app starts with defaults: no settings file stops the app.
"""

from __future__ import annotations

import json
import logging
import os
import reprlib
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .jsonfile import JsonFileError, read_json
from .processing.shades import MAX_NAME_LENGTH

log = logging.getLogger(__name__)

APP_NAME = "vcam-lipstick"
INTENSITY_STEPS = (25, 50, 75, 100)

#: Inclusive bounds of the numeric settings; the CLI's options use the same ones.
LIMITS: dict[str, tuple[int, int]] = {
    "intensity": (0, 100),  # percent
    "width": (16, 7680),
    "height": (16, 4320),
    "fps": (1, 120),
    "threads": (1, 64),
}
_short = reprlib.Repr()
_short.maxstring = _short.maxother = 60


def config_dir() -> Path:
    override = os.environ.get("VCAM_LIPSTICK_CONFIG")
    if override:
        return Path(override)
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    override = os.environ.get("VCAM_LIPSTICK_LOGS")
    if override:
        return Path(override)
    from platformdirs import user_log_dir

    return Path(user_log_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    override = os.environ.get("VCAM_LIPSTICK_CACHE")
    if override:
        return Path(override)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(APP_NAME, appauthor=False))


@dataclass
class Settings:
    enabled: bool = True
    shade: str = "Rose Petal"
    finish: str = ""  # empty: the shade's own finish
    intensity: int = 75  # percent
    liner: bool = False
    compare: bool = False
    mirror: bool = False
    camera: int = -1  # -1: the first camera that delivers frames
    width: int = 1280
    height: int = 720
    fps: int = 30
    show_preview: bool = False
    start_at_login: bool = False
    threads: int = 1
    all_faces: bool = False
    ombre: str | None = None  # None: one shade; else a shade name or #RRGGBB for the middle of the lips

    @classmethod
    def from_dict(cls, raw: dict) -> "Settings":
        """Settings from parsed JSON: unknown keys dropped, each bad value reset (one warning line each)."""
        defaults = cls()
        values = {}
        for f in fields(cls):
            if f.name not in raw:
                continue
            value, default = raw[f.name], getattr(defaults, f.name)
            if isinstance(default, bool):
                ok = isinstance(value, bool)
            elif isinstance(default, int):
                ok = isinstance(value, int) and not isinstance(value, bool)
            else:
                # Text settings name a shade or a finish: short and printable, like a shade name.
                ok = isinstance(value, str) and len(value) <= MAX_NAME_LENGTH and value.isprintable()
                if default is None and (value is None or ok and not value.strip()):
                    ok, value = True, None  # optional text (ombre): null, or "" written by hand, is off
            low, high = LIMITS.get(f.name, (None, None))
            in_range = not ok or low is None or low <= value <= high
            if ok and in_range:
                values[f.name] = value
            elif f.name in ("width", "height"):
                continue  # reported below, as a pair
            elif not in_range:
                log.warning("settings: %s %s is outside %d-%d; using %r", f.name, value, low, high, default)
            else:
                log.warning("settings: bad value for %s (%s); using %r", f.name, _short.repr(value), default)
        # The size is a pair: half of a bad one (7680x7680) would make an odd 7680x720.
        if any(k in raw and k not in values for k in ("width", "height")):
            (wl, wh), (hl, hh) = LIMITS["width"], LIMITS["height"]
            log.warning("settings: bad size %sx%s (allowed %dx%d to %dx%d); using %dx%d",
                        _short.repr(raw.get("width", defaults.width)), _short.repr(raw.get("height", defaults.height)),
                        wl, hl, wh, hh, defaults.width, defaults.height)
            values.pop("width", None)
            values.pop("height", None)
        return cls(**values)


class SettingsStore:
    """Loads and saves ``settings.json`` in the config folder."""

    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder) if folder else config_dir()
        self.path = self.folder / "settings.json"

    def load(self) -> Settings:
        """The saved settings, or defaults; never raises for what the file contains."""
        try:
            raw = read_json(self.path)
            if not isinstance(raw, dict):
                raise JsonFileError("not a JSON object")
        except FileNotFoundError:
            return Settings()
        except JsonFileError as exc:
            backup = self._free_backup_name()
            try:
                os.replace(self.path, backup)
                log.warning("settings file was corrupt (%s); kept it as %s and started with defaults", exc, backup)
            except OSError:
                log.warning("settings file %s was corrupt (%s); using defaults", self.path, exc)
            return Settings()
        except OSError as exc:
            log.warning("cannot read %s (%s); using defaults", self.path, exc.strerror or exc)
            return Settings()
        return Settings.from_dict(raw)

    def _free_backup_name(self) -> Path:
        """``settings.json.bak``, or ``.bak.1``, ``.bak.2``... so an earlier backup is never overwritten."""
        backup = self.path.with_name(self.path.name + ".bak")
        n = 1
        while backup.exists() or backup.is_symlink():
            backup = self.path.with_name(f"{self.path.name}.bak.{n}")
            n += 1
        return backup

    def save(self, settings: Settings) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = Path(os.path.realpath(self.path))  # a symlinked settings file (dotfiles) stays a link
        fd, tmp = tempfile.mkstemp(prefix=".settings.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(asdict(settings), fh, indent=2)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
