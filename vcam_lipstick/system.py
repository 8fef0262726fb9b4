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
    "palette": ": its shade palette is open on its own (close it first)",
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


# Start at login. Each OS keeps the entry in its own format, built here by a pure function so tests can
# round-trip any path (spaces, non-ASCII, "&", "%", quotes) without touching the real OS.
AUTOSTART_NAME = "vcam-lipstick"
LAUNCH_AGENT_LABEL = "io.github.vcam-lipstick"
# Per-user Run key: read by Explorer at logon and stored as UTF-16, so "C:\\Users\\Zoë" survives (a .cmd in
# the Startup folder is read in the OEM code page and does not).
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"


def _platform(platform: str | None) -> str:
    platform = platform or sys.platform
    return "win32" if platform.startswith("win") else platform


def cli_name(platform: str | None = None) -> str:
    """The command a user types for ``doctor`` and the other subcommands: on Windows the frozen app's
    windowed exe prints nothing, so messages name its console twin."""
    if getattr(sys, "frozen", False) and _platform(platform) == "win32":
        return f"{AUTOSTART_NAME}-cli"
    return AUTOSTART_NAME


def launch_command(platform: str | None = None) -> list[str]:
    """How to start this app again at login: argv, program first.

    The frozen app starts its own windowed executable (never the ``-cli`` console twin, which would open
    a console window at every login); otherwise this interpreter runs ``-m vcam_lipstick``, which works
    for a venv without activating it. On Windows that interpreter is ``pythonw.exe``, so no console
    window stays open beside the tray icon.
    """
    exe = Path(sys.executable)
    if getattr(sys, "frozen", False):
        windowed = exe.with_name(exe.name.replace(f"{AUTOSTART_NAME}-cli", AUTOSTART_NAME))
        return [str(windowed if windowed != exe and windowed.is_file() else exe)]
    if _platform(platform) == "win32" and exe.name.lower() == "python.exe":
        pythonw = exe.with_name("pythonw.exe")
        if pythonw.is_file():
            exe = pythonw
    return [str(exe), "-m", "vcam_lipstick"]


def autostart_path(platform: str | None = None) -> Path | None:
    """The file holding this user's start-at-login entry; None on Windows, where it is the registry value
    ``HKEY_CURRENT_USER\\<RUN_KEY>\\vcam-lipstick``."""
    platform = _platform(platform)
    return None if platform == "win32" else _autostart_file(platform)


def _autostart_file(platform: str) -> Path:
    home = Path.home()
    if platform == "darwin":
        return home / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"
    config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    return config / "autostart" / f"{AUTOSTART_NAME}.desktop"


def _legacy_windows_startup_file() -> Path:
    """Where versions before the Run key wrote a ``.cmd``; removed whenever the setting changes."""
    appdata = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    return appdata / "Microsoft" / "Windows" / "Start Menu" / "Programs" / "Startup" / f"{AUTOSTART_NAME}.cmd"


def windows_command_line(command: list[str]) -> str:
    """argv -> one Windows command line (the Run key's value), every argument quoted.

    Follows the rules ``CommandLineToArgvW`` and the C runtime parse by: backslashes are literal unless
    they precede a double quote, so those are doubled and an embedded quote is escaped. Nothing here is
    read by ``cmd.exe``, so ``&``, ``^`` and ``%`` need no escaping.
    """
    parts = []
    for arg in command:
        out, backslashes = [], 0
        for ch in arg:
            if ch == "\\":
                backslashes += 1
                continue
            if ch == '"':
                out.append("\\" * (2 * backslashes + 1) + '"')
            else:
                out.append("\\" * backslashes + ch)
            backslashes = 0
        out.append("\\" * (2 * backslashes))  # before the closing quote
        parts.append('"' + "".join(out) + '"')
    return " ".join(parts)


def launch_agent_plist(command: list[str]) -> bytes:
    """A macOS LaunchAgent that runs ``command`` at login, written by ``plistlib`` (so ``&``, ``<`` and
    non-ASCII paths are escaped and encoded as XML requires)."""
    import plistlib

    agent = {
        "Label": LAUNCH_AGENT_LABEL,
        "ProgramArguments": [str(c) for c in command],
        "RunAtLoad": True,
        "ProcessType": "Interactive",  # a UI app: not throttled like a background daemon
    }
    return plistlib.dumps(agent, fmt=plistlib.FMT_XML)


# Desktop Entry Specification, "The Exec key": an argument holding a reserved character is quoted, and
# inside quotes '"', '`', '$' and '\\' take a backslash; '%' is written '%%' (field codes). The value is
# then escaped as any string value ('\\' -> '\\\\', newline -> '\\n'), which readers undo first.
_DESKTOP_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")


def _desktop_string(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def _desktop_exec_arg(arg: str) -> str:
    arg = arg.replace("%", "%%")
    if arg and not _DESKTOP_RESERVED.intersection(arg):
        return arg
    return '"' + "".join("\\" + ch if ch in '"`$\\' else ch for ch in arg) + '"'


def desktop_entry(command: list[str]) -> str:
    """An XDG autostart ``.desktop`` file that runs ``command`` at login.

    ``TryExec`` names the program, so a removed install or venv is skipped quietly at login instead of
    failing."""
    exec_line = " ".join(_desktop_exec_arg(str(c)) for c in command)
    return (
        "[Desktop Entry]\nType=Application\nName=Lipstick Cam\nComment=Lipstick on your webcam\n"
        f"TryExec={_desktop_string(str(command[0]))}\nExec={_desktop_string(exec_line)}\n"
        "Icon=camera-web\nTerminal=false\nX-GNOME-Autostart-enabled=true\n"
    )


def autostart_content(command: list[str], platform: str | None = None) -> str:
    """The start-at-login entry for ``command`` as text: the Run key's command line on Windows, the
    LaunchAgent plist on macOS, the ``.desktop`` file elsewhere."""
    platform = _platform(platform)
    if platform == "win32":
        return windows_command_line(command)
    if platform == "darwin":
        return launch_agent_plist(command).decode("utf-8")
    return desktop_entry(command)


def _set_run_key(enabled: bool, command: list[str]) -> None:
    import winreg

    with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
        if enabled:
            winreg.SetValueEx(key, AUTOSTART_NAME, 0, winreg.REG_SZ, windows_command_line(command))
        else:
            try:
                winreg.DeleteValue(key, AUTOSTART_NAME)
            except FileNotFoundError:
                pass


def set_autostart(enabled: bool, platform: str | None = None) -> str:
    """Create or remove this user's start-at-login entry; returns where it is (for the log).

    Raises ``OSError`` when the entry cannot be written (a read-only folder, a refused registry key).
    """
    platform = _platform(platform)
    command = launch_command(platform)
    if platform == "win32":
        _set_run_key(enabled, command)
        _legacy_windows_startup_file().unlink(missing_ok=True)  # never start twice
        return f"HKEY_CURRENT_USER\\{RUN_KEY}\\{AUTOSTART_NAME}"
    path = _autostart_file(platform)
    if enabled:
        data = launch_agent_plist(command) if platform == "darwin" else desktop_entry(command).encode("utf-8")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    else:
        path.unlink(missing_ok=True)
    return str(path)


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
    the app reports those in its own words. ``OPENCV_LOG_LEVEL`` in the environment still wins.
    FFmpeg's decoder complaints about a damaged video go too: the app says how many frames it read."""
    if "OPENCV_LOG_LEVEL" in os.environ:
        return
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # read by OpenCV's FFmpeg backend when it opens a file
    import cv2

    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except AttributeError:  # a build without the logging utilities
        pass


def share_the_cpu() -> None:
    """One thread for OpenCV, as for onnxruntime: a meeting app shares the CPU. OpenCV's own pool wakes
    its workers for every small parallel job (a crop, a paste); at 30 fps that cost ~4% of a core in
    those threads and bought nothing (measured with ``benchmarks/app_bench.py --stages``)."""
    import cv2

    cv2.setNumThreads(1)


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
