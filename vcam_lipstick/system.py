"""Small OS integrations: single instance, start at login, opening folders, logging to a file."""

from __future__ import annotations

import logging
import logging.handlers
import os
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)


class LockError(RuntimeError):
    """The single-instance lock cannot be taken; the message is one line for the user."""


class AlreadyRunning(LockError):
    pass


# What a refused second instance says, by the running one's mode (written into the lock file).
_RUNNING_HINTS = {
    "tray": " (look for its icon in the system tray)",
    "headless": " without a tray icon, as process {pid} (stop it with Ctrl+C where it runs)",
}


class SingleInstance:
    """An OS file lock in the config folder, held while the app runs (released even on a crash).

    ``mode`` ("tray" or "headless") is written into the lock file beside the process id, so that a
    second instance can say where the running one is.
    """

    def __init__(self, folder: Path, name: str = "app.lock", mode: str = ""):
        self.path = Path(folder) / name
        self.mode = mode
        self.fh = None

    def acquire(self) -> "SingleInstance":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(self.path, "a+", encoding="utf-8")
        except IsADirectoryError:
            raise LockError(f"the lock file {self.path} is a folder; remove it if vcam-lipstick is not running") from None
        except OSError as exc:
            raise LockError(f"cannot create the lock file {self.path} ({exc.strerror or exc})") from None
        try:
            if sys.platform.startswith("win"):
                import msvcrt

                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise AlreadyRunning(self._running_message()) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n{self.mode}\n")
        fh.flush()
        self.fh = fh
        return self

    def _running_message(self) -> str:
        """'already running', with where to find the running instance when its lock file says so."""
        try:
            with open(self.path, encoding="utf-8", errors="replace") as fh:
                pid, mode = (fh.read(200).split("\n") + ["", ""])[:2]
        except OSError:  # Windows: the holder's locked byte cannot be read
            pid, mode = "", ""
        hint = _RUNNING_HINTS.get(mode.strip(), "")
        if "{pid}" in hint and not pid.strip().isdigit():
            hint = " without a tray icon"
        return "vcam-lipstick is already running" + hint.format(pid=pid.strip())

    def release(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None

    def __enter__(self) -> "SingleInstance":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def launch_command() -> list[str]:
    """How to start this app again (for autostart entries)."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "vcam_lipstick"]


def autostart_path() -> Path:
    home = Path.home()
    if sys.platform.startswith("win"):
        appdata = Path(os.environ.get("APPDATA", home / "AppData" / "Roaming"))
        return appdata / "Microsoft" / "Windows" / "Start Menu" / "Programs" / "Startup" / "vcam-lipstick.cmd"
    if sys.platform == "darwin":
        return home / "Library" / "LaunchAgents" / "io.github.vcam-lipstick.plist"
    config = Path(os.environ.get("XDG_CONFIG_HOME", home / ".config"))
    return config / "autostart" / "vcam-lipstick.desktop"


def autostart_content(command: list[str]) -> str:
    if sys.platform.startswith("win"):
        return "@echo off\r\nstart \"\" " + " ".join(f'"{c}"' for c in command) + "\r\n"
    if sys.platform == "darwin":
        args = "".join(f"    <string>{c}</string>\n" for c in command)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n'
            '<plist version="1.0"><dict>\n  <key>Label</key><string>io.github.vcam-lipstick</string>\n'
            f"  <key>ProgramArguments</key><array>\n{args}  </array>\n  <key>RunAtLoad</key><true/>\n</dict></plist>\n"
        )
    exec_line = " ".join(f'"{c}"' if " " in c else c for c in command)
    return (
        "[Desktop Entry]\nType=Application\nName=Lipstick Cam\nComment=Lipstick on your webcam\n"
        f"Exec={exec_line}\nIcon=camera-web\nTerminal=false\nX-GNOME-Autostart-enabled=true\n"
    )


def set_autostart(enabled: bool) -> Path:
    """Create or remove this user's start-at-login entry; returns its path."""
    path = autostart_path()
    if enabled:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(autostart_content(launch_command()), encoding="utf-8")
        tmp.replace(path)
    else:
        path.unlink(missing_ok=True)
    return path


def open_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if sys.platform.startswith("win"):
        os.startfile(str(folder))  # type: ignore[attr-defined]
    else:
        opener = "open" if sys.platform == "darwin" else "xdg-open"
        try:
            subprocess.Popen([opener, str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError:
            log.warning("cannot open %s (no %s)", folder, opener)


def quiet_opencv() -> None:
    """Keep OpenCV's own console warnings (a camera index it cannot open, a codec it lacks) to errors:
    the app reports those in its own words. ``OPENCV_LOG_LEVEL`` in the environment still wins."""
    if "OPENCV_LOG_LEVEL" in os.environ:
        return
    import cv2

    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except AttributeError:  # a build without the logging utilities
        pass


def setup_logging(folder: Path, verbose: bool = False, console: bool = True) -> Path:
    """Rotating log file in ``folder`` (a tray app has no console), plus stderr for warnings."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "vcam-lipstick.log"
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for h in list(root.handlers):
        root.removeHandler(h)
    fh = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(fh)
    if console:
        sh = logging.StreamHandler()
        sh.setLevel(logging.DEBUG if verbose else logging.WARNING)
        sh.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        root.addHandler(sh)
    return path
