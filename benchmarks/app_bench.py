"""Whole-app benchmark: CPU (% of one core), RSS over time, and startup to first frame.

Runs `vcam-lipstick run --no-tray --source demo --sink null` at 1280x720/30 fps in a child process and
reads its CPU time and memory from /proc (Linux). Usage:
    python benchmarks/app_bench.py [--seconds 60] [--source demo|FILE] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def proc_stat(pid: int) -> tuple[float, float]:
    """(cpu seconds user+system, RSS MB) of a live process."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    with open(f"/proc/{pid}/status") as fh:
        rss = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:")) / 1024
    return cpu, rss


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--source", default="demo")
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    env = dict(os.environ, VCAM_LIPSTICK_CONFIG=tempfile.mkdtemp(), VCAM_LIPSTICK_LOGS=tempfile.mkdtemp(),
               PYTHONUNBUFFERED="1")
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "vcam_lipstick", "run", "--no-tray", "--source", args.source,
                             "--sink", "null", "--size", args.size, "--fps", "30"],
                            stderr=subprocess.PIPE, text=True, env=env)
    for line in proc.stderr:
        if "first frame sent" in line:
            break
    startup = time.monotonic() - t0
    time.sleep(5)  # warm-up: acquisition, allocator, caches
    cpu0, rss0 = proc_stat(proc.pid)
    w0 = time.monotonic()
    samples = [rss0]
    while time.monotonic() - w0 < args.seconds:
        time.sleep(min(5.0, args.seconds))
        samples.append(proc_stat(proc.pid)[1])
    cpu1, rss1 = proc_stat(proc.pid)
    wall = time.monotonic() - w0
    proc.terminate()
    proc.wait(5)
    result = {
        "source": args.source, "size": args.size, "fps": 30, "seconds": round(wall, 1),
        "startup_s": round(startup, 2),
        "cpu_percent_of_one_core": round(100 * (cpu1 - cpu0) / wall, 1),
        "rss_mb_start": round(rss0, 1), "rss_mb_end": round(rss1, 1),
        "rss_mb_min": round(min(samples), 1), "rss_mb_max": round(max(samples), 1),
    }
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
