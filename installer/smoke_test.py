"""Smoke test of a built app: `--version`, a short demo-source run into a video file, and, where an X
display is set (Linux, e.g. under Xvfb), the same run into the preview window.

    python installer/smoke_test.py dist/vcam-lipstick/vcam-lipstick
    python installer/smoke_test.py dist\\vcam-lipstick\\vcam-lipstick-cli.exe        # Windows: the console twin
    python installer/smoke_test.py dist/vcam-lipstick.app/Contents/MacOS/vcam-lipstick
    python installer/smoke_test.py "python -m vcam_lipstick"      # the installed package, same checks

It prints the time from starting the process to the app's "first frame sent" line (start-up to first
frame), and the bundle's size when given a frozen build. Exit 0 when every check passes.
"""

import os
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

RUN_TIMEOUT_S = 120


def folder_size(path: Path) -> int:
    """Bytes in every file under ``path`` (links not followed)."""
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def bundle_root(program: Path) -> Path:
    """The folder a user installs: ``X.app`` for a macOS bundle, else the program's folder."""
    for parent in program.resolve().parents:
        if parent.suffix == ".app":
            return parent
    return program.resolve().parent


def run_demo(cmd: list[str], sink: str, env: dict) -> tuple[int, str, float | None]:
    """Run 30 demo frames into ``sink``; returns (exit code, stderr, seconds to the first frame or None)."""
    args = cmd + ["run", "--no-tray", "--source", "demo", "--sink", sink, "--frames", "30", "--size", "640x360"]
    start = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            encoding="utf-8", errors="replace", env=env)
    lines: list[str] = []
    first: list[float] = []

    def read() -> None:  # stderr is read as it comes, so the first-frame line is timed when it appears
        for line in proc.stderr:
            if not first and "first frame sent" in line:
                first.append(time.monotonic() - start)
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        code = proc.wait(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
        lines.append(f"(killed after {RUN_TIMEOUT_S} s)\n")
    reader.join(10)
    return code, "".join(lines), (first[0] if first else None)


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    cmd = shlex.split(sys.argv[1], posix=os.name != "nt")
    if Path(cmd[0]).is_file():
        cmd[0] = str(Path(cmd[0]).resolve())  # a native absolute path (backslashes on Windows)
    env = dict(os.environ, VCAM_LIPSTICK_CONFIG=tempfile.mkdtemp(), VCAM_LIPSTICK_LOGS=tempfile.mkdtemp())
    version = subprocess.run(cmd + ["--version"], capture_output=True, text=True, timeout=60, env=env)
    if version.returncode != 0 or "vcam-lipstick" not in version.stdout:
        print(f"FAIL --version: {version.stdout}{version.stderr}")
        return 1
    out = Path(tempfile.mkdtemp()) / "smoke.mp4"
    code, stderr, first_frame_s = run_demo(cmd, str(out), env)
    if code != 0 or not out.is_file() or out.stat().st_size < 1000:
        print(f"FAIL demo run (exit {code}): {stderr[-2000:]}")
        return 1
    if "model unavailable" in stderr.lower() or "model failed" in stderr.lower():
        print(f"FAIL the models did not load in the build: {stderr[-2000:]}")
        return 1
    if first_frame_s is None:
        print(f"FAIL no 'first frame sent' line: {stderr[-2000:]}")
        return 1
    print(f"OK {version.stdout.strip()}; demo run wrote {out} ({out.stat().st_size} bytes)")
    print(f"start-up to first frame: {first_frame_s:.2f} s")
    if sys.platform.startswith("linux") and os.environ.get("DISPLAY"):
        # The preview window lives in its own process and imports Tk and PIL.ImageTk there: a frozen
        # build that misses one of them still writes files fine, so try the window too.
        code, stderr, _ = run_demo(cmd, "window", env)
        if code != 0 or "Traceback" in stderr:
            print(f"FAIL preview window run (exit {code}): {stderr[-2000:]}")
            return 1
        print("OK preview window run")
    program = Path(cmd[0])
    if len(cmd) == 1 and program.is_file():
        root = bundle_root(program)
        print(f"bundle {root}: {folder_size(root) / 1e6:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
