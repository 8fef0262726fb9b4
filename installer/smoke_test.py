"""Smoke test of a built app: `--version`, then a short demo-source run into a video file.

    python installer/smoke_test.py dist/vcam-lipstick/vcam-lipstick
    python installer/smoke_test.py "python -m vcam_lipstick"      # the installed package, same checks
"""

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    cmd = shlex.split(sys.argv[1])
    env = dict(os.environ, VCAM_LIPSTICK_CONFIG=tempfile.mkdtemp(), VCAM_LIPSTICK_LOGS=tempfile.mkdtemp())
    version = subprocess.run(cmd + ["--version"], capture_output=True, text=True, timeout=60, env=env)
    if version.returncode != 0 or "vcam-lipstick" not in version.stdout:
        print(f"FAIL --version: {version.stdout}{version.stderr}")
        return 1
    out = Path(tempfile.mkdtemp()) / "smoke.mp4"
    run = subprocess.run(cmd + ["run", "--no-tray", "--source", "demo", "--sink", str(out), "--frames", "30",
                                "--size", "640x360"], capture_output=True, text=True, timeout=120, env=env)
    if run.returncode != 0 or not out.is_file() or out.stat().st_size < 1000:
        print(f"FAIL demo run (exit {run.returncode}): {run.stderr[-2000:]}")
        return 1
    if "model unavailable" in run.stderr.lower() or "model failed" in run.stderr.lower():
        print(f"FAIL the models did not load in the build: {run.stderr[-2000:]}")
        return 1
    print(f"OK {version.stdout.strip()}; demo run wrote {out} ({out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
