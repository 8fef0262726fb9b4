"""Whole-app benchmark: CPU (% of one core), latency, RSS over time, startup and shutdown; CPU per stage.

Runs `vcam-lipstick run --no-tray --source SOURCE --sink null --stats FILE` at 1280x720/30 fps in a child
process and reads its CPU time and memory from /proc (Linux), its capture-to-publish latency and frame
counts from the stats file, and how long it takes to exit after SIGTERM. With --stages it then runs the
same loop in this process and splits the CPU by stage (thread CPU time of each stage; "other" is what
library threads burn: the video decoder's own threads, onnxruntime's pool, the allocator).

    python benchmarks/app_bench.py [--seconds 60] [--source demo|FILE] [--stages] [--json]
    python benchmarks/app_bench.py --make-video /tmp/demo720.mp4   # a 720p30 clip of the demo to decode
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # before anything imports onnxruntime


def proc_stat(pid: int) -> tuple[float, float]:
    """(cpu seconds user+system, RSS MB) of a live process."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    with open(f"/proc/{pid}/status") as fh:
        rss = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:")) / 1024
    return cpu, rss


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def make_video(path: Path, seconds: float, size: tuple[int, int]) -> str:
    """Record the demo source to ``path`` (H.264 where this OpenCV can encode it, else MPEG-4); the codec."""
    import cv2

    from vcam_lipstick.devices.sources import DemoSource

    for fourcc in ("avc1", "mp4v"):
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 30.0, size)
        if writer.isOpened():
            break
    else:
        raise SystemExit(f"{path}: no video encoder available")
    with DemoSource(*size) as demo:
        for _ in range(round(seconds * 30)):
            writer.write(demo.read())
    writer.release()
    return fourcc


def child_run(args, env) -> dict:
    stats_file = Path(tempfile.mkdtemp()) / "stats.json"
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "vcam_lipstick", "run", "--no-tray", "--source", args.source,
                             "--sink", "null", "--size", args.size, "--fps", "30", "--stats", str(stats_file)],
                            stderr=subprocess.PIPE, text=True, env=env)
    for line in proc.stderr:
        if "first frame sent" in line:
            break
    startup = time.monotonic() - t0
    time.sleep(args.warmup)  # acquisition, allocator, caches
    cpu0, rss0 = proc_stat(proc.pid)
    w0 = time.monotonic()
    samples = [rss0]
    while time.monotonic() - w0 < args.seconds:
        time.sleep(min(5.0, args.seconds))
        samples.append(proc_stat(proc.pid)[1])
    cpu1, rss1 = proc_stat(proc.pid)
    wall = time.monotonic() - w0
    t_term = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)
    shutdown = time.monotonic() - t_term
    stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
    return {
        "source": args.source, "size": args.size, "fps": 30, "seconds": round(wall, 1),
        "startup_s": round(startup, 2), "shutdown_s": round(shutdown, 2), "exit_code": proc.returncode,
        "cpu_percent_of_one_core": round(100 * (cpu1 - cpu0) / wall, 1),
        "rss_mb_start": round(rss0, 1), "rss_mb_end": round(rss1, 1),
        "rss_mb_min": round(min(samples), 1), "rss_mb_max": round(max(samples), 1),
        **{f"run_{k}": v for k, v in stats.items()},  # the app's own --stats (whole run, warm-up included)
        "load_average": load_average(),
    }


def stage_run(args) -> dict:
    """The loop in this process: thread CPU time per stage over ``args.seconds`` after the warm-up."""
    from vcam_lipstick.app import Controller
    from vcam_lipstick.settings import SettingsStore
    from vcam_lipstick.system import share_the_cpu

    share_the_cpu()  # as `vcam-lipstick run` does
    width, height = (int(v) for v in args.size.split("x"))
    controller = Controller(SettingsStore(Path(tempfile.mkdtemp())), notify=lambda m: None)
    controller.settings.width, controller.settings.height, controller.settings.fps = width, height, 30
    loop = controller.start(args.source, "null")

    def snapshot():
        return (time.monotonic(), time.process_time(), dict(loop.stats.cpu_seconds),
                dict(controller.pipeline.cpu_seconds), loop.stats.frames_in, loop.stats.frames_out)

    time.sleep(args.warmup)
    t0, cpu0, loop0, pipe0, in0, out0 = snapshot()
    time.sleep(args.seconds)
    t1, cpu1, loop1, pipe1, in1, out1 = snapshot()
    controller.stop()
    wall = t1 - t0

    def pct(seconds: float) -> float:
        return round(100.0 * seconds / wall, 1)

    d = {k: loop1[k] - loop0[k] for k in loop1}
    p = {k: pipe1[k] - pipe0[k] for k in pipe1}
    total = cpu1 - cpu0
    stages = {
        "capture_decode": pct(d["capture"]),
        "perception": pct(p["perception"]),
        "render": pct(p["render"]),
        "pipeline_rest": pct(d["process"] - p["perception"] - p["render"]),  # mirror, compare, bookkeeping
        "publish": pct(d["publish"]),
        "other_threads": pct(total - d["capture"] - d["process"] - d["publish"]),
    }
    return {"stages_cpu_percent_of_one_core": stages, "stages_total": pct(total),
            "stages_fps_in": round((in1 - in0) / wall, 1), "stages_fps_out": round((out1 - out0) / wall, 1)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--source", default="demo")
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--stages", action="store_true", help="also split the CPU by stage (in this process)")
    ap.add_argument("--no-child", action="store_true", help="only the in-process stage split")
    ap.add_argument("--make-video", type=Path, metavar="FILE", help="write a 30 s 720p30 clip of the demo and exit")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.make_video:
        width, height = (int(v) for v in args.size.split("x"))
        codec = make_video(args.make_video, 30.0, (width, height))
        print(f"wrote {args.make_video} ({codec}, {width}x{height}, 30 fps, 30 s)")
        return 0
    env = dict(os.environ, VCAM_LIPSTICK_CONFIG=tempfile.mkdtemp(), VCAM_LIPSTICK_LOGS=tempfile.mkdtemp(),
               PYTHONUNBUFFERED="1")
    os.environ.update(VCAM_LIPSTICK_CONFIG=env["VCAM_LIPSTICK_CONFIG"], VCAM_LIPSTICK_LOGS=env["VCAM_LIPSTICK_LOGS"])
    result = {} if args.no_child else child_run(args, env)
    if args.stages or args.no_child:
        result.update(stage_run(args))
        result.setdefault("load_average", load_average())
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
