"""User settings: a dataclass with defaults, a tolerant loader and atomic writes.

Unknown keys are dropped, bad values fall back to their defaults, and a file that is not valid
JSON is kept aside as ``settings.json.bak`` before the app starts with defaults.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path

log = logging.getLogger(__name__)

APP_NAME = "vcam-lipstick"
INTENSITY_STEPS = (25, 50, 75, 100)


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

    @classmethod
    def from_dict(cls, raw: dict) -> "Settings":
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
                ok = isinstance(value, type(default))
            if ok and f.name == "intensity":
                ok = 0 <= value <= 100
            if ok and f.name in ("width", "height"):
                ok = 16 <= value <= 7680
            if ok and f.name == "fps":
                ok = 1 <= value <= 120
            if ok and f.name == "threads":
                ok = 1 <= value <= 64
            if ok:
                values[f.name] = value
            else:
                log.warning("settings: bad value for %s (%r); using %r", f.name, value, default)
        return cls(**values)


class SettingsStore:
    """Loads and saves ``settings.json`` in the config folder."""

    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder) if folder else config_dir()
        self.path = self.folder / "settings.json"

    def load(self) -> Settings:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Settings()
        except OSError as exc:
            log.warning("cannot read %s (%s); using defaults", self.path, exc)
            return Settings()
        try:
            raw = json.loads(text)
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            backup = self.path.with_name(self.path.name + ".bak")
            try:
                os.replace(self.path, backup)
                log.warning("settings file was corrupt (%s); kept it as %s and started with defaults", exc, backup)
            except OSError:
                log.warning("settings file was corrupt (%s); using defaults", exc)
            return Settings()
        return Settings.from_dict(raw)

    def save(self, settings: Settings) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".settings.", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(asdict(settings), fh, indent=2)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
