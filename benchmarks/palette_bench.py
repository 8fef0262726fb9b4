"""Palette benchmark: how fast the shade palette opens, and what it costs the app's CPU while open.

Runs the app's frame loop in this process (Controller, the built-in demo at 1280x720/30 fps, the
shipped lip model on one thread, a null sink) on an X display; with DISPLAY unset it starts Xvfb.

- open: seconds from *Shades…* (``open_palette()``) to the window on screen (it says so on its first
  Map event), ``--opens`` times, each a fresh process; and from ``vcam-lipstick palette`` typed in a
  shell (a new Python, no app running) to its window found on the display (xdotool).
- CPU: the app process's own CPU time (getrusage, so the palette's process is not counted), as % of
  one core, in alternating phases of ``--seconds`` with the palette closed and open (the palette is
  opened and settled before an open phase starts). The load on the machine drifts, so the rounds
  alternate and the difference is taken per round; on a busy machine it is noisy, so the CPU the
  palette itself adds to the app is also measured directly: the frame tap's time in the loop's
  thread plus the threads that exist only while it is open (its event reader, the queues' feeders),
  read from /proc/self/task. The palette process's own CPU is printed for information.
- ``--screenshot FILE.png``: the palette over the running demo, for the README.

    python benchmarks/palette_bench.py [--rounds 4] [--seconds 15] [--opens 5] [--screenshot docs/palette.png] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # before anything imports onnxruntime


def start_xvfb() -> tuple[subprocess.Popen, str]:
    if not shutil.which("Xvfb"):
        raise SystemExit("no DISPLAY and no Xvfb to start one (apt install xvfb)")
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            pass_fds=(write_end,), stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end) as ready:
        number = ready.readline().strip()
    if not number:
        raise SystemExit("Xvfb did not start")
    return proc, f":{number}"


def own_cpu() -> float:
    """CPU seconds (user + system) of this process's threads; children are not included."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def child_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


#: The app's threads that exist only while the palette is open: its event reader and the queues' feeders.
PALETTE_THREADS = ("palette-events", "QueueFeederThread")


def palette_threads_cpu() -> dict[int, float]:
    """CPU seconds of each live thread the palette added to this process, by native thread id."""
    import threading

    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for t in threading.enumerate():
        if t.name in PALETTE_THREADS and t.native_id is not None:
            try:
                with open(f"/proc/self/task/{t.native_id}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[t.native_id] = (int(fields[11]) + int(fields[12])) / ticks
    return out


def wait_for(condition, timeout: float = 20.0, step: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


class TimedTap:
    """Adds up the thread CPU time the frame loop spends in the tap (before + after)."""

    def __init__(self, tap):
        self.seconds = 0.0
        before, after = tap.before, tap.after

        def timed_before(frame):
            t = time.thread_time()
            try:
                return before(frame)
            finally:
                self.seconds += time.thread_time() - t

        def timed_after(*args, **kwargs):
            t = time.thread_time()
            try:
                return after(*args, **kwargs)
            finally:
                self.seconds += time.thread_time() - t

        tap.before, tap.after = timed_before, timed_after


def phase(c, seconds: float, tap: TimedTap) -> dict:
    frames0, cpu0, tap0, t0 = c.loop.stats.frames_out, own_cpu(), tap.seconds, time.monotonic()
    threads0 = palette_threads_cpu()
    pid = c.palette.pid
    child0 = child_cpu(pid) if pid else None
    time.sleep(seconds)
    dt = time.monotonic() - t0
    threads = palette_threads_cpu()
    out = {"cpu_percent": 100 * (own_cpu() - cpu0) / dt, "fps": (c.loop.stats.frames_out - frames0) / dt,
           "tap_ms_per_s": 1000 * (tap.seconds - tap0) / dt,
           "palette_threads_ms_per_s": 1000 * sum(v - threads0.get(k, 0.0) for k, v in threads.items()) / dt}
    if child0 is not None and c.palette.pid == pid:
        out["palette_process_cpu_percent"] = 100 * (child_cpu(pid) - child0) / dt
    return out


def cli_open_seconds(display: str, config: Path) -> float | None:
    """From `vcam-lipstick palette` started to its window on the display (no app running)."""
    from vcam_lipstick.palette_window import TITLE

    if not shutil.which("xdotool"):
        return None
    env = dict(os.environ, DISPLAY=display, VCAM_LIPSTICK_CONFIG=str(config), VCAM_LIPSTICK_LOGS=str(config / "logs"))
    def shown() -> bool:
        found = subprocess.run(["xdotool", "search", "--name", TITLE], env=env, capture_output=True)
        return found.stdout.strip() != b""

    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "vcam_lipstick", "palette"], env=env, stderr=subprocess.DEVNULL)
    try:
        found = wait_for(shown, timeout=30, step=0.02)
        return time.monotonic() - t0 if found else None
    finally:
        proc.terminate()
        proc.wait(10)
        wait_for(lambda: not shown(), timeout=10)  # its window goes with it


def screenshot(c, display: str, path: Path) -> None:
    from PIL import ImageGrab

    c.set_shade("Classic Red")
    c.set_ombre_match()
    time.sleep(1.5)  # the thumbnail follows within a few frames
    out = subprocess.run(["xdotool", "search", "--name", "Lipstick Cam shades", "getwindowgeometry", "--shell"],
                         env=dict(os.environ, DISPLAY=display), capture_output=True, text=True).stdout
    geometry = dict(line.split("=", 1) for line in out.split())
    box = tuple(int(geometry[k]) for k in ("X", "Y")) + (int(geometry["X"]) + int(geometry["WIDTH"]),
                                                         int(geometry["Y"]) + int(geometry["HEIGHT"]))
    image = ImageGrab.grab(bbox=box, xdisplay=display).convert("RGB")
    image.quantize(colors=128, dither=0).save(path, optimize=True)  # a screenshot, kept small
    print(f"wrote {path} ({path.stat().st_size // 1024} KB, {image.size[0]}x{image.size[1]})", file=sys.stderr)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--seconds", type=float, default=15.0, help="length of each closed / open phase")
    p.add_argument("--opens", type=int, default=5)
    p.add_argument("--screenshot", type=Path, default=None, metavar="FILE.png")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    xvfb = None
    if not os.environ.get("DISPLAY"):
        xvfb, display = start_xvfb()
        os.environ["DISPLAY"] = display
    display = os.environ["DISPLAY"]
    config = Path(tempfile.mkdtemp(prefix="palette-bench-"))
    os.environ["VCAM_LIPSTICK_CONFIG"] = str(config)

    from vcam_lipstick.app import Controller
    from vcam_lipstick.settings import SettingsStore

    result: dict = {"display": display, "load_average": " ".join(Path("/proc/loadavg").read_text().split()[:3])}
    c = Controller(SettingsStore(config), notify=lambda m: print(m, file=sys.stderr))
    c.settings.width, c.settings.height, c.settings.fps = 1280, 720, 30
    try:
        c.start("demo", "null")
        tap = TimedTap(c.frame_tap)
        time.sleep(5)  # acquisition, allocator, caches

        opens = []
        for _ in range(args.opens):
            c.open_palette()
            if not wait_for(lambda: c.palette.opened_in is not None):
                raise SystemExit(f"the palette did not open: {c.palette.error}")
            opens.append(c.palette.opened_in)
            time.sleep(0.5)
            c.palette.close()
            time.sleep(0.5)
        result["open_seconds"] = opens
        result["open_seconds_median"] = statistics.median(opens)
        result["cli_open_seconds"] = cli_open_seconds(display, config / "cli")

        rounds = []
        for _ in range(args.rounds):
            closed = phase(c, args.seconds, tap)
            c.open_palette()
            wait_for(lambda: c.palette.opened_in is not None)
            time.sleep(2.0)  # settled: the window drawn, the first thumbnails sent
            opened = phase(c, args.seconds, tap)
            c.palette.close()
            time.sleep(1.0)
            rounds.append({"closed": closed, "open": opened,
                           "rise_percent_of_core": opened["cpu_percent"] - closed["cpu_percent"]})
        result["rounds"] = rounds
        rises = [r["rise_percent_of_core"] for r in rounds]
        result["rise_percent_of_core_mean"] = statistics.mean(rises)
        result["rise_percent_of_core_stdev"] = statistics.stdev(rises) if len(rises) > 1 else 0.0
        result["tap_ms_per_s_open"] = statistics.mean(r["open"]["tap_ms_per_s"] for r in rounds)
        result["palette_threads_ms_per_s_open"] = statistics.mean(r["open"]["palette_threads_ms_per_s"]
                                                                  for r in rounds)
        result["attributed_percent_of_core"] = (result["tap_ms_per_s_open"]
                                                + result["palette_threads_ms_per_s_open"]) / 10
        if args.screenshot is not None:
            c.open_palette()
            wait_for(lambda: c.palette.opened_in is not None)
            screenshot(c, display, args.screenshot)
    finally:
        c.stop()
        shutil.rmtree(config, ignore_errors=True)
        if xvfb is not None:
            xvfb.terminate()

    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"load average at start {result['load_average']}")
    print("palette open (Shades… to window on screen): " + ", ".join(f"{s:.2f}" for s in opens)
          + f" s; median {result['open_seconds_median']:.2f} s, max {max(opens):.2f} s")
    if result["cli_open_seconds"] is not None:
        print(f"'vcam-lipstick palette' typed to window on screen: {result['cli_open_seconds']:.2f} s")
    for i, r in enumerate(rounds, 1):
        print(f"round {i}: app CPU closed {r['closed']['cpu_percent']:.1f}% ({r['closed']['fps']:.1f} fps), "
              f"open {r['open']['cpu_percent']:.1f}% ({r['open']['fps']:.1f} fps), "
              f"rise {r['rise_percent_of_core']:+.2f}% of a core; tap {r['open']['tap_ms_per_s']:.2f} ms/s, "
              f"palette threads {r['open']['palette_threads_ms_per_s']:.2f} ms/s; "
              f"palette process {r['open'].get('palette_process_cpu_percent', float('nan')):.1f}%")
    print(f"app CPU rise with the palette open, whole process: mean {result['rise_percent_of_core_mean']:+.2f}% "
          f"of one core (stdev between rounds {result['rise_percent_of_core_stdev']:.2f})")
    print(f"attributed to the palette: {result['attributed_percent_of_core']:.2f}% of one core (the frame tap "
          f"{result['tap_ms_per_s_open'] / 10:.2f}% + its threads in the app "
          f"{result['palette_threads_ms_per_s_open'] / 10:.2f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
