"""What a waiting source costs: CPU (% of one core) and log lines per 2 s retry period.

Four cases, each measured over --seconds after the app is up:
  camera   `run --no-tray --source 9` with no camera 9 (the app retries every 2 s)
  emptied  `run --no-tray --source CLIP` with the clip cut to 0 bytes once the app runs
  raising  the frame loop on a source whose read() raises before its first frame (in this process)
  still    `run --no-tray --source ONE_FRAME.mp4`: not waiting, shown as a still (for comparison)

The child processes are read from /proc/PID/stat (Linux); the in-process case with getrusage.
Log lines are those the app wrote to its log file (or, in process, to the loop's logger) meanwhile.

    python benchmarks/waiting_source.py [--seconds 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_bench import load_average, proc_stat  # noqa: E402

RETRY_SECONDS = 2.0


def log_lines(folder: Path) -> int:
    return sum(len(p.read_text(errors="replace").splitlines()) for p in folder.glob("*.log*"))


def child_case(source: str, seconds: float, before=None) -> dict:
    logs = Path(tempfile.mkdtemp())
    env = dict(os.environ, VCAM_LIPSTICK_CONFIG=tempfile.mkdtemp(), VCAM_LIPSTICK_LOGS=str(logs), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "vcam_lipstick", "run", "--no-tray", "--source", source,
                             "--sink", "null", "--size", "1280x720", "--fps", "30"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    time.sleep(6)  # model loaded, first frames (or first retries) done
    if before is not None:
        before()
        time.sleep(3)  # the loop notices and settles into its retries
    lines0, (cpu0, _), t0 = log_lines(logs), proc_stat(proc.pid), time.monotonic()
    time.sleep(seconds)
    lines1, (cpu1, rss), wall = log_lines(logs), proc_stat(proc.pid), time.monotonic() - t0
    proc.terminate()
    proc.wait(10)
    return {"cpu_percent_of_one_core": round(100 * (cpu1 - cpu0) / wall, 2),
            "log_lines_per_retry_period": round((lines1 - lines0) / (wall / RETRY_SECONDS), 2),
            "rss_mb": round(rss, 1), "seconds": round(wall, 1)}


def raising_case(seconds: float) -> dict:
    from vcam_lipstick.devices.sinks import NullSink
    from vcam_lipstick.loop import FrameLoop

    class Raising:
        paced, width, height, fps = True, 1280, 720, 30.0

        def read(self):
            raise OSError("VIDIOC_DQBUF: No such device")

        def close(self):
            pass

    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record)
    logging.getLogger("vcam_lipstick").addHandler(handler)
    logging.getLogger("vcam_lipstick").setLevel(logging.INFO)
    loop = FrameLoop(Raising, NullSink(), lambda f: f, 1280, 720, 30.0).start()
    time.sleep(3)

    def cpu():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    n0, c0, t0 = len(lines), cpu(), time.monotonic()
    time.sleep(seconds)
    n1, c1, wall = len(lines), cpu(), time.monotonic() - t0
    loop.stop()
    return {"cpu_percent_of_one_core": round(100 * (c1 - c0) / wall, 2),
            "log_lines_per_retry_period": round((n1 - n0) / (wall / RETRY_SECONDS), 2), "seconds": round(wall, 1)}


def one_frame_clip(path: Path) -> Path:
    import cv2

    from vcam_lipstick.devices.sources import DemoSource

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (1280, 720))
    with DemoSource(1280, 720) as demo:
        writer.write(demo.read())
    writer.release()
    return path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp())
    clip = work / "clip.mp4"
    from app_bench import make_video

    make_video(clip, 5.0, (1280, 720))
    result = {
        "camera": child_case("9", args.seconds),
        "emptied": child_case(str(clip), args.seconds, before=lambda: clip.write_bytes(b"")),
        "raising": raising_case(args.seconds),
        "still": child_case(str(one_frame_clip(work / "one.mp4")), args.seconds),
        "load_average": load_average(),
    }
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
