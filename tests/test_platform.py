"""Platform rules, checked on Linux for all three systems: start-at-login entries (Windows Run key, macOS
LaunchAgent, XDG autostart), the frozen app's spec (macOS bundle keys, the Windows console twin), and the
Linux installer script."""

import os
import plistlib
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

from vcam_lipstick import system

REPO = Path(__file__).resolve().parents[1]
INSTALLER = REPO / "installer"
INSTALL_SH = INSTALLER / "linux" / "install.sh"
BUILD_SMALL_LIBS_SH = INSTALLER / "linux" / "build_small_libs.sh"

# Paths a user can really have: spaces, non-ASCII letters, "&" (which broke the old plist), and the
# characters each format must escape.
POSIX_COMMANDS = [
    ["/home/Zoë Ångström/Apps & Tools/venv/bin/python", "-m", "vcam_lipstick"],
    ["/opt/R&D (x86)/vcam-lipstick/vcam-lipstick"],
    ["/opt/R&D/bin/vcam-lipstick"],  # no space, yet "&" must be quoted
    ["/home/u/it's 100% \"mine\" $HOME `x` back\\slash; a|b <c> ~d *e ?f #g/python3", "-m", "vcam_lipstick"],
    ["/home/u/tab\there/new\nline/python3"],
]
WINDOWS_COMMANDS = [
    [r"C:\Users\Zoë\AppData\Local\Programs\Python\Python312\pythonw.exe", "-m", "vcam_lipstick"],
    [r"C:\Program Files\R&D Tools\vcam-lipstick\vcam-lipstick.exe"],
    [r"C:\Users\Zoë & Co\vcam.exe", "trailing\\", 'say "hi"', "50%", "a^b", ""],
]


# --- reference parsers: how each OS reads the entry back ------------------------------------------

def unescape_desktop_string(value: str) -> str:
    """A string value of a desktop entry: \\s \\n \\t \\r \\\\ are escapes."""
    out, i = [], 0
    escapes = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value) and value[i + 1] in escapes:
            out.append(escapes[value[i + 1]])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def parse_desktop_exec(value: str) -> list[str]:
    """An Exec value as the Desktop Entry Specification reads it: string escapes first, then quoting
    (reserved characters only inside double quotes), then '%%' -> '%'. Raises ValueError where the spec
    calls the value invalid (an unquoted reserved character, a field code, an open quote)."""
    text = unescape_desktop_string(value)
    args, arg, quoted, in_arg, i = [], [], False, False, 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == "\\":
                if i + 1 >= len(text) or text[i + 1] not in '"`$\\':
                    raise ValueError(f"bad escape in quoted argument: {text!r}")
                arg.append(text[i + 1])
                i += 2
                continue
            if ch == '"':
                quoted = False
            else:
                arg.append(ch)
        elif ch == " ":
            if in_arg:
                args.append("".join(arg))
                arg, in_arg = [], False
        elif ch == '"':
            quoted = in_arg = True
        elif ch in "\t\n'\\><~|&;$*?#()`":
            raise ValueError(f"unquoted reserved character {ch!r} in {text!r}")
        else:
            arg.append(ch)
            in_arg = True
        i += 1
    if quoted:
        raise ValueError(f"unterminated quote in {text!r}")
    if in_arg:
        args.append("".join(arg))
    out = []
    for a in args:
        if "%" in a.replace("%%", ""):
            raise ValueError(f"field code in {a!r}")
        out.append(a.replace("%%", "%"))
    return out


def desktop_keys(text: str) -> dict[str, str]:
    lines = text.splitlines()
    assert lines[0] == "[Desktop Entry]"
    return dict(line.split("=", 1) for line in lines[1:] if line)


def parse_windows_command_line(line: str) -> list[str]:
    """CommandLineToArgvW: the program name runs to the closing quote (no escapes); then 2n backslashes
    before a quote give n and toggle quoting, 2n+1 give n and a literal quote, others are literal."""
    if line.startswith('"'):
        end = line.index('"', 1)
        args, i = [line[1:end]], end + 1
    else:
        end = next((k for k, c in enumerate(line) if c in " \t"), len(line))
        args, i = [line[:end]], end
    n = len(line)
    while True:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            return args
        arg, quoted = [], False
        while i < n and (quoted or line[i] not in " \t"):
            if line[i] == "\\":
                j = i
                while j < n and line[j] == "\\":
                    j += 1
                if j < n and line[j] == '"':
                    arg.append("\\" * ((j - i) // 2))
                    if (j - i) % 2:
                        arg.append('"')
                        j += 1
                else:
                    arg.append("\\" * (j - i))
                i = j
            elif line[i] == '"':
                quoted = not quoted
                i += 1
            else:
                arg.append(line[i])
                i += 1
        args.append("".join(arg))


class FakeWinreg(types.ModuleType):
    """The part of ``winreg`` that start-at-login uses, backed by a dict: {(root, subkey): {name: (type, value)}}."""

    HKEY_CURRENT_USER = "HKEY_CURRENT_USER"
    KEY_SET_VALUE = 0x0002
    REG_SZ = 1

    class Key:
        def __init__(self, values: dict):
            self.values = values

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def __init__(self):
        super().__init__("winreg")
        self.keys: dict = {}

    def CreateKeyEx(self, root, sub_key, reserved=0, access=KEY_SET_VALUE):  # noqa: N802 (winreg's names)
        return self.Key(self.keys.setdefault((root, sub_key), {}))

    def SetValueEx(self, key, name, reserved, type_, value):  # noqa: N802
        assert isinstance(value, str) and type_ == self.REG_SZ
        key.values[name] = (type_, value)

    def DeleteValue(self, key, name):  # noqa: N802
        if name not in key.values:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        del key.values[name]

    def run_value(self) -> str | None:
        entry = self.keys.get((self.HKEY_CURRENT_USER, system.RUN_KEY), {}).get(system.AUTOSTART_NAME)
        return entry[1] if entry else None


def fake_python(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")
    return folder / names[0]


# --- the entry builders round-trip ------------------------------------------------------------------

@pytest.mark.parametrize("command", POSIX_COMMANDS)
def test_desktop_entry_runs_the_same_command_it_was_given(command, tmp_path):
    text = system.desktop_entry(command)
    keys = desktop_keys(text)
    assert parse_desktop_exec(keys["Exec"]) == command
    assert unescape_desktop_string(keys["TryExec"]) == command[0]  # a plain string: no Exec quoting
    if shutil.which("desktop-file-validate"):  # the freedesktop validator agrees, where it is installed
        path = tmp_path / "vcam-lipstick.desktop"
        path.write_text(text, encoding="utf-8")
        check = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True)
        assert check.returncode == 0 and "error" not in check.stdout.lower(), check.stdout


@pytest.mark.parametrize("command", POSIX_COMMANDS)
def test_launch_agent_plist_runs_the_same_command_it_was_given(command):
    agent = plistlib.loads(system.launch_agent_plist(command))
    assert agent["ProgramArguments"] == command
    assert agent["RunAtLoad"] is True and agent["Label"] == system.LAUNCH_AGENT_LABEL


@pytest.mark.parametrize("command", WINDOWS_COMMANDS)
def test_windows_command_line_splits_back_into_the_same_arguments(command):
    assert parse_windows_command_line(system.windows_command_line(command)) == command


def test_autostart_content_picks_the_format_of_each_system():
    command = POSIX_COMMANDS[0]
    assert plistlib.loads(system.autostart_content(command, "darwin").encode())["ProgramArguments"] == command
    assert parse_windows_command_line(system.autostart_content(command, "win32")) == command
    assert parse_desktop_exec(desktop_keys(system.autostart_content(command, "linux"))["Exec"]) == command


# --- set_autostart on each system -------------------------------------------------------------------

def test_windows_start_at_login_is_a_run_key_value_starting_pythonw(tmp_path, monkeypatch):
    registry = FakeWinreg()
    monkeypatch.setitem(sys.modules, "winreg", registry)
    python = fake_python(tmp_path / "Zoë & Co" / "venv" / "Scripts", "python.exe", "pythonw.exe")
    monkeypatch.setattr(sys, "executable", str(python))
    monkeypatch.setenv("APPDATA", str(tmp_path / "AppData"))
    legacy = system._legacy_windows_startup_file()
    legacy.parent.mkdir(parents=True)
    legacy.write_text("@echo off\r\n")  # what older versions wrote: it would start the app twice

    where = system.set_autostart(True, platform="win32")
    assert system.RUN_KEY in where
    assert parse_windows_command_line(registry.run_value()) == [str(python.with_name("pythonw.exe")),
                                                                "-m", "vcam_lipstick"]
    assert not legacy.exists()
    assert system.autostart_path("win32") is None  # no file to look for on Windows

    system.set_autostart(False, platform="win32")
    assert registry.run_value() is None
    system.set_autostart(False, platform="win32")  # turning it off twice is fine


def test_windows_start_at_login_keeps_python_exe_when_there_is_no_pythonw(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "winreg", FakeWinreg())
    python = fake_python(tmp_path / "py", "python.exe")
    monkeypatch.setattr(sys, "executable", str(python))
    assert system.launch_command("win32") == [str(python), "-m", "vcam_lipstick"]


def test_frozen_console_twin_registers_the_windowed_app(tmp_path, monkeypatch):
    cli = fake_python(tmp_path / "Program Files" / "vcam-lipstick", "vcam-lipstick-cli.exe", "vcam-lipstick.exe")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(cli))
    assert system.launch_command("win32") == [str(cli.with_name("vcam-lipstick.exe"))]


def test_messages_name_the_command_that_prints_on_each_system(monkeypatch):
    """The frozen Windows app's windowed exe prints nothing: "run ... doctor" must name its console twin."""
    assert system.cli_name("win32") == "vcam-lipstick"  # pip install: the script prints
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert system.cli_name("win32") == "vcam-lipstick-cli"
    assert system.cli_name("darwin") == system.cli_name("linux") == "vcam-lipstick"


def test_macos_start_at_login_is_a_valid_launch_agent(tmp_path, monkeypatch):
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path / "home"))  # HOME is not read on Windows
    python = fake_python(tmp_path / "Zoë's R&D <lab>" / "bin", "python3")
    monkeypatch.setattr(sys, "executable", str(python))
    where = Path(system.set_autostart(True, platform="darwin"))
    assert where == tmp_path / "home" / "Library" / "LaunchAgents" / "io.github.vcam-lipstick.plist"
    agent = plistlib.loads(where.read_bytes())
    assert agent["ProgramArguments"] == [str(python), "-m", "vcam_lipstick"]
    system.set_autostart(False, platform="darwin")
    assert not where.exists()


def test_linux_start_at_login_runs_this_interpreter_of_a_venv_with_spaces(tmp_path, monkeypatch):
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    python = fake_python(tmp_path / "Zoë & Co" / "my venv" / "bin", "python")
    monkeypatch.setattr(sys, "executable", str(python))
    where = Path(system.set_autostart(True, platform="linux"))
    assert where == tmp_path / "xdg" / "autostart" / "vcam-lipstick.desktop"
    keys = desktop_keys(where.read_text(encoding="utf-8"))
    assert parse_desktop_exec(keys["Exec"]) == [str(python), "-m", "vcam_lipstick"]
    system.set_autostart(False, platform="linux")
    assert not where.exists()


# --- the PyInstaller spec ---------------------------------------------------------------------------

class SpecRun:
    """Executes installer/vcam-lipstick.spec with recording stand-ins for PyInstaller's build classes."""

    SUBMODULES = ["vcam_lipstick.cli", "vcam_lipstick.app", "vcam_lipstick.training", "vcam_lipstick.training.train"]

    def __init__(self, platform: str, tmp_path: Path):
        self.calls: dict[str, list] = {"Analysis": [], "EXE": [], "COLLECT": [], "BUNDLE": []}
        hooks = types.ModuleType("PyInstaller.utils.hooks")
        hooks.collect_data_files = lambda *a, **k: []
        hooks.collect_dynamic_libs = lambda *a, **k: []
        hooks.collect_submodules = lambda pkg, filter=None: [m for m in self.SUBMODULES
                                                              if m.startswith(pkg) and (filter is None or filter(m))]
        namespace = {"SPECPATH": str(INSTALLER), "workpath": str(tmp_path / "build"), "__name__": "__spec__",
                     "Analysis": self._record("Analysis", pure=[], scripts=[], binaries=[], datas=[]),
                     "PYZ": lambda *a, **k: "pyz", "EXE": self._record("EXE"), "COLLECT": self._record("COLLECT"),
                     "BUNDLE": self._record("BUNDLE")}
        with pytest.MonkeyPatch.context() as mp:  # everything the spec touches is put back
            for name in ("PyInstaller", "PyInstaller.utils"):
                mp.setitem(sys.modules, name, types.ModuleType(name))
            mp.setitem(sys.modules, "PyInstaller.utils.hooks", hooks)
            mp.setattr(sys, "path", list(sys.path))
            mp.setattr(os, "environ", dict(os.environ))
            mp.setattr(sys, "platform", platform)
            exec(compile((INSTALLER / "vcam-lipstick.spec").read_text(), "vcam-lipstick.spec", "exec"), namespace)

    def _record(self, kind: str, **attrs):
        def build(*args, **kwargs):
            obj = types.SimpleNamespace(kind=kind, args=args, **{**kwargs, **attrs})
            self.calls[kind].append(obj)
            return obj
        return build


def test_spec_builds_a_macos_app_that_may_use_the_camera_and_stays_out_of_the_dock(tmp_path):
    spec = SpecRun("darwin", tmp_path)
    (bundle,) = spec.calls["BUNDLE"]
    (collect,) = spec.calls["COLLECT"]
    assert bundle.name.endswith(".app") and collect in bundle.args
    plist = bundle.info_plist
    assert "camera" in plist["NSCameraUsageDescription"].lower()
    assert plist["LSUIElement"] is True
    assert bundle.bundle_identifier == system.LAUNCH_AGENT_LABEL
    (exe,) = spec.calls["EXE"]
    assert Path(exe.entitlements_file) == INSTALLER / "macos" / "entitlements.plist"


def test_spec_ships_a_console_twin_on_windows_for_doctor_and_version(tmp_path):
    spec = SpecRun("win32", tmp_path)
    programs = {exe.name: exe.console for exe in spec.calls["EXE"]}
    assert programs == {"vcam-lipstick": False, "vcam-lipstick-cli": True}
    (collect,) = spec.calls["COLLECT"]
    assert all(exe in collect.args for exe in spec.calls["EXE"])
    assert spec.calls["BUNDLE"] == []


def test_spec_never_bundles_torch_or_the_training_code(tmp_path):
    spec = SpecRun("linux", tmp_path)
    (analysis,) = spec.calls["Analysis"]
    assert {"torch", "onnx", "vcam_lipstick.training"} <= set(analysis.excludes)
    assert "vcam_lipstick.cli" in analysis.hiddenimports
    assert not [m for m in analysis.hiddenimports if ".training" in m]
    assert [exe.name for exe in spec.calls["EXE"]] == ["vcam-lipstick"] and spec.calls["BUNDLE"] == []


def test_macos_signing_entitlements_allow_the_camera():
    entitlements = plistlib.loads((INSTALLER / "macos" / "entitlements.plist").read_bytes())
    assert entitlements == {"com.apple.security.device.camera": True}
    readme = (INSTALLER / "README.md").read_text(encoding="utf-8")
    assert "--options runtime" in readme and "installer/macos/entitlements.plist" in readme


# --- installer/linux/install.sh ---------------------------------------------------------------------

# install.sh is the Linux installer: its behaviour tests run bash with Linux tools (getent, /usr/bin).
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="install.sh runs on Linux")

RECORDED = ["apt-get", "apt-cache", "dnf", "pacman", "modprobe", "akmods", "mokutil", "getent", "sudo"]


def fake_commands(tmp_path: Path, **scripts: str) -> tuple[Path, Path]:
    """A folder of stand-ins for the system commands install.sh may run: each appends its name and
    arguments to the returned log. ``scripts`` adds behaviour after the logging line (by command name)."""
    bin_dir, log = tmp_path / "fakebin", tmp_path / "calls.log"
    bin_dir.mkdir(exist_ok=True)
    log.touch()
    for name in RECORDED + list(scripts):
        body = scripts.get(name.replace("-", "_"), scripts.get(name, ""))
        path = bin_dir / name
        path.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n{body}\n')
        path.chmod(0o755)
    return bin_dir, log


def run_install_sh(args: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(INSTALL_SH), *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def script_env(tmp_path: Path, bin_dir: Path, *first: Path) -> dict:
    """The environment for install.sh: fake commands first on PATH, HOME in tmp_path, and /etc and /sys
    under tmp_path, so that even a broken script cannot change this machine."""
    env = {k: v for k, v in os.environ.items() if k not in ("SUDO_USER", "VIRTUAL_ENV", "XDG_CONFIG_HOME")}
    env["VCAM_LIPSTICK_INSTALL_ROOT"] = str(tmp_path)
    env["HOME"] = str(tmp_path / "home")
    env["PATH"] = os.pathsep.join([*map(str, first), str(bin_dir), "/usr/bin", "/bin"])
    (tmp_path / "home").mkdir(exist_ok=True)
    return env


def make_program(folder: Path, name: str, body: str = "exit 0") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def autostart_exec(config: Path) -> list[str]:
    keys = desktop_keys((config / "autostart" / "vcam-lipstick.desktop").read_text(encoding="utf-8"))
    assert unescape_desktop_string(keys["TryExec"]) == parse_desktop_exec(keys["Exec"])[0]
    return parse_desktop_exec(keys["Exec"])


@pytest.mark.parametrize("script", [INSTALL_SH, BUILD_SMALL_LIBS_SH], ids=lambda p: p.name)
def test_linux_scripts_pass_shellcheck(script):
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not installed (apt-get install -y shellcheck)")
    check = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout


@linux_only
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_install_sh_help_prints_usage_and_changes_nothing(flag, tmp_path):
    bin_dir, log = fake_commands(tmp_path)
    env = script_env(tmp_path, bin_dir)
    result = run_install_sh([flag], env, tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("Usage:")
    assert "--autostart" in result.stdout and "Secure Boot" in result.stdout
    assert log.read_text() == ""  # no package manager, modprobe or sudo ran
    assert list((tmp_path / "home").iterdir()) == []


@linux_only
def test_install_sh_unknown_option_is_refused_without_changes(tmp_path):
    bin_dir, log = fake_commands(tmp_path)
    result = run_install_sh(["--yes"], script_env(tmp_path, bin_dir), tmp_path)
    assert result.returncode == 2 and "unknown option: --yes" in result.stderr
    assert log.read_text() == ""


@linux_only
def test_install_sh_autostart_runs_the_program_found_on_path(tmp_path):
    bin_dir, _ = fake_commands(tmp_path)
    program = make_program(tmp_path / "Zoë & Co" / "my venv" / "bin", "vcam-lipstick")
    env = script_env(tmp_path, bin_dir, program.parent)
    result = run_install_sh(["--autostart"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert autostart_exec(tmp_path / "home" / ".config") == [str(program)]


@linux_only
def test_install_sh_autostart_for_a_venv_uses_its_python_even_when_not_activated(tmp_path):
    bin_dir, _ = fake_commands(tmp_path)
    # a venv whose python3 has the package and no console script on PATH: the old fallback,
    # a bare "python3 -m vcam_lipstick", would start the system python, which lacks it
    python = make_program(tmp_path / "venv" / "bin", "python3",
                          'case "$2" in "import vcam_lipstick") exit 0;; esac; exit 1')
    env = script_env(tmp_path, bin_dir, python.parent)
    result = run_install_sh(["--autostart"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert autostart_exec(tmp_path / "home" / ".config") == [str(python), "-m", "vcam_lipstick"]


@linux_only
def test_install_sh_autostart_finds_the_console_script_of_virtual_env(tmp_path):
    bin_dir, _ = fake_commands(tmp_path)
    program = make_program(tmp_path / "venvs" / "lip stick" / "bin", "vcam-lipstick")
    env = script_env(tmp_path, bin_dir, make_program(tmp_path / "nopython", "python3", "exit 1").parent)
    env["VIRTUAL_ENV"] = str(program.parent.parent)
    result = run_install_sh(["--autostart"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert autostart_exec(tmp_path / "home" / ".config") == [str(program)]


@linux_only
def test_install_sh_autostart_without_the_app_says_how_to_name_it(tmp_path):
    bin_dir, _ = fake_commands(tmp_path)
    env = script_env(tmp_path, bin_dir, make_program(tmp_path / "nopython", "python3", "exit 1").parent)
    result = run_install_sh(["--autostart"], env, tmp_path)
    assert result.returncode == 1 and "--autostart" in result.stderr and "cannot find vcam-lipstick" in result.stderr
    assert list((tmp_path / "home").iterdir()) == []


@linux_only
def test_install_sh_autostart_under_sudo_writes_into_the_invoking_users_home(tmp_path):
    user_home = tmp_path / "users" / "zoë"
    bin_dir, log = fake_commands(
        tmp_path,
        getent=f'[ "$2" = zoe ] && echo "zoe:x:1000:1000:Zoë:{user_home}:/bin/bash"',
        sudo='[ "$1" = -u ] && shift 2; [ "$1" = -- ] && shift; exec "$@"',  # runs it as "the user"
    )
    program = make_program(tmp_path / "opt" / "R&D" / "bin", "vcam-lipstick")
    env = script_env(tmp_path, bin_dir, program.parent)
    env["SUDO_USER"] = "zoe"
    result = run_install_sh(["--autostart"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert autostart_exec(user_home / ".config") == [str(program)]
    assert list((tmp_path / "home").iterdir()) == []  # root's home ($HOME under sudo) untouched
    assert any(line.startswith("sudo -u zoe ") for line in log.read_text().splitlines())


def call_install_function(tmp_path: Path, snippet: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Source install.sh (its main does not run when sourced) with /etc and /sys under tmp_path, as if
    root, and run ``snippet``."""
    if env is None:
        env = script_env(tmp_path, *fake_commands(tmp_path)[:1])
    setup = f'source "{INSTALL_SH}"; DEVICE_WAIT_TRIES=1; is_root() {{ true; }}; '
    return subprocess.run(["bash", "-c", setup + snippet], env=env, capture_output=True, text=True, timeout=60)


@linux_only
def test_install_sh_keeps_another_programs_v4l2loopback_options(tmp_path):
    obs = tmp_path / "etc" / "modprobe.d" / "obs-v4l2loopback.conf"
    obs.parent.mkdir(parents=True)
    obs.write_text('# OBS\noptions v4l2loopback devices=1 video_nr=9 card_label="OBS Virtual Camera" exclusive_caps=1\n')
    before = obs.read_text()
    result = call_install_function(tmp_path, "check_existing_config")
    assert result.returncode == 1
    assert str(obs) in result.stderr and "OBS Virtual Camera" in result.stderr and "card_label=<yours>," in result.stderr
    assert obs.read_text() == before


@linux_only
def test_install_sh_accepts_a_configuration_that_already_has_lipstick_cam(tmp_path):
    (tmp_path / "etc" / "modprobe.d").mkdir(parents=True)
    (tmp_path / "etc" / "modprobe.d" / "v4l2loopback.conf").write_text(
        'options v4l2loopback devices=1 video_nr=10 card_label="Lipstick Cam" exclusive_caps=1\n')
    (tmp_path / "etc" / "modprobe.d" / "blacklist.conf").write_text("blacklist pcspkr\n")
    result = call_install_function(tmp_path, 'check_existing_config; echo "already=$ALREADY_CONFIGURED"')
    assert result.returncode == 0 and "already=1" in result.stdout, result.stderr


def fake_video_device(tmp_path: Path, node: str, name: str) -> None:
    folder = tmp_path / "sys" / "class" / "video4linux" / node
    folder.mkdir(parents=True)
    (folder / "name").write_text(name + "\n")


@linux_only
def test_install_sh_finds_the_device_by_its_label(tmp_path):
    fake_video_device(tmp_path, "video0", "Integrated Camera")
    assert call_install_function(tmp_path, "find_device").returncode == 1
    fake_video_device(tmp_path, "video12", "Lipstick Cam")
    result = call_install_function(tmp_path, "find_device")
    assert result.returncode == 0 and result.stdout.strip() == "/dev/video12"


def driver_fakes(tmp_path: Path, device_appears: bool):
    sysfs = tmp_path / "sys" / "class" / "video4linux" / "video10"
    make_device = f'mkdir -p "{sysfs}" && echo "Lipstick Cam" > "{sysfs}/name"' if device_appears else ""
    bin_dir, log = fake_commands(tmp_path, modprobe=make_device, uname='echo 6.1.0-test')
    env = script_env(tmp_path, bin_dir)
    return env, log


@linux_only
def test_install_sh_does_not_say_ready_when_the_device_never_appears(tmp_path):
    env, log = driver_fakes(tmp_path, device_appears=False)
    result = call_install_function(tmp_path, "install_driver", env)
    assert result.returncode != 0 and "ready" not in result.stdout
    assert 'no device named "Lipstick Cam"' in result.stderr
    assert not (tmp_path / "etc" / "modprobe.d" / "vcam-lipstick.conf").exists()  # nothing persisted for a failed load
    apt = [line for line in log.read_text().splitlines() if line.startswith("apt-get")]
    assert apt[0] == "apt-get update"  # before installing: a fresh machine's package lists are stale
    assert apt[1].startswith("apt-get install") and "linux-headers-6.1.0-test" in apt[1]


@linux_only
def test_install_sh_says_ready_once_lipstick_cam_exists_and_persists_it(tmp_path):
    env, log = driver_fakes(tmp_path, device_appears=True)
    result = call_install_function(tmp_path, "install_driver", env)
    assert result.returncode == 0, result.stderr
    assert "virtual camera ready: /dev/video10 (Lipstick Cam)" in result.stdout
    assert "modprobe v4l2loopback devices=1 video_nr=10 card_label=Lipstick Cam exclusive_caps=1" in log.read_text()
    conf = (tmp_path / "etc" / "modprobe.d" / "vcam-lipstick.conf").read_text()
    assert conf == 'options v4l2loopback devices=1 video_nr=10 card_label="Lipstick Cam" exclusive_caps=1\n'
    assert (tmp_path / "etc" / "modules-load.d" / "vcam-lipstick.conf").read_text() == "v4l2loopback\n"


# --- the CI workflow --------------------------------------------------------------------------------

def test_ci_workflow_builds_and_smoke_tests_on_three_systems_and_two_pythons():
    yaml = pytest.importorskip("ruamel.yaml", reason="ruamel.yaml comes with check-jsonschema (.ci/run installs it)")
    workflow = yaml.YAML(typ="safe").load((REPO / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    (job,) = workflow["jobs"].values()
    matrix = job["strategy"]["matrix"]
    assert set(matrix["os"]) == {"ubuntu-latest", "windows-latest", "macos-latest"}
    assert set(matrix["python-version"]) == {"3.10", "3.12"}  # strings: YAML would read 3.10 as 3.1
    assert job["strategy"]["fail-fast"] is False  # one system failing still shows the others
    scripts = [step.get("run", "") for step in job["steps"]]
    order = [next(i for i, s in enumerate(scripts) if needle in s)
             for needle in ('pip install -e ".[$extras]"', "python -m pytest", "installer/vcam-lipstick.spec",
                            "installer/smoke_test.py")]
    assert order == sorted(order)  # install, test, build, smoke-test
    smoke = scripts[order[-1]]
    assert "vcam-lipstick-cli.exe" in smoke and "vcam-lipstick.app/Contents/MacOS" in smoke
    assert any(step.get("uses", "").startswith("actions/upload-artifact@") for step in job["steps"])


@linux_only
def test_build_small_libs_sh_explains_itself_and_builds_nothing_without_a_folder(tmp_path):
    for args, code in (["--help"], 0), ([], 2):
        result = subprocess.run(["bash", str(BUILD_SMALL_LIBS_SH), *args], capture_output=True, text=True,
                                cwd=tmp_path, timeout=30)
        assert result.returncode == code
        assert "core, imgproc" in result.stdout + result.stderr  # the usage names what it builds
    assert list(tmp_path.iterdir()) == []  # nothing was downloaded or unpacked
