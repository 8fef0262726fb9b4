"""The frame loop: capture thread -> latest-frame slot -> worker (pipeline) -> sink, paced to the fps.

* Latest frame wins: the capture thread overwrites a single slot, so there is never a backlog and
  the added latency is at most one frame. ``stats`` records capture-to-publish latency per frame.
* If the source stalls, the last good output is repeated so the meeting never freezes on a
  black frame; if it is gone, a placeholder says so and the source is reopened with a 2 s back-off.
  A source that fails over and over costs next to no CPU and logs at most a line per back-off.
* A sink that raises is reported once and tried again with the next frame; the loop goes on.
* The capture thread alone opens, reads and closes the source, so a close never races a read.
* ``stop()`` asks both threads to end and waits up to ``timeout``; a thread still inside a driver
  call then releases its device when that call returns.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from .devices.sources import FrameSource, SourceError

log = logging.getLogger(__name__)

RETRY_SECONDS = 2.0
STALL_SECONDS = 1.0  # no frame for this long: show the placeholder, and reopen the source
PLACEHOLDER_FPS = 5.0  # the card is still: sending it at full rate would only cost CPU while we wait


def placeholder_frame(width: int, height: int, text: str) -> np.ndarray:
    frame = np.full((height, width, 3), 32, np.uint8)
    scale = max(0.5, width / 1280.0)
    size, _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
    org = ((width - size[0]) // 2, (height + size[1]) // 2)
    cv2.putText(frame, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (230, 230, 230), 2, cv2.LINE_AA)
    return frame


class LatencyHistogram:
    """Milliseconds in 0.1 ms bins up to 1 s (slower frames share the last bin).

    Constant memory however long the call lasts; percentiles are read as a bin's upper edge."""

    BIN_MS = 0.1
    BINS = 10_000

    def __init__(self):
        self.counts = np.zeros(self.BINS + 1, np.int64)
        self.count = 0

    def add(self, seconds: float) -> None:
        self.counts[min(int(seconds * 1000.0 / self.BIN_MS), self.BINS)] += 1
        self.count += 1

    def percentile(self, q: float) -> float | None:
        """The ``q``-th percentile in ms (None before the first sample)."""
        if self.count == 0:
            return None
        rank = max(1, math.ceil(q / 100.0 * self.count))
        index = int(np.searchsorted(np.cumsum(self.counts), rank))
        return round((index + 1) * self.BIN_MS, 1)


def peak_rss_mb() -> float | None:
    """The process's peak resident memory in MB (None where the system does not say)."""
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KB elsewhere
    except (ImportError, OSError):  # Windows
        pass
    try:
        import ctypes
        from ctypes import wintypes

        class Counters(ctypes.Structure):
            _fields_ = [("cb", wintypes.DWORD), ("PageFaultCount", wintypes.DWORD)] + [
                (name, ctypes.c_size_t) for name in ("PeakWorkingSetSize", "WorkingSetSize", "QuotaPeakPagedPoolUsage",
                                                     "QuotaPagedPoolUsage", "QuotaPeakNonPagedPoolUsage",
                                                     "QuotaNonPagedPoolUsage", "PagefileUsage", "PeakPagefileUsage")]

        counters = Counters()
        counters.cb = ctypes.sizeof(counters)
        process = ctypes.windll.kernel32.GetCurrentProcess()
        if ctypes.windll.psapi.GetProcessMemoryInfo(process, ctypes.byref(counters), counters.cb):
            return counters.PeakWorkingSetSize / (1024 * 1024)
    except (AttributeError, OSError):
        pass
    return None


@dataclass
class LoopStats:
    """What the loop did. ``cpu_seconds``: thread CPU time per stage (capture = read + decode in the
    capture thread, process = the pipeline, publish = the sink)."""

    frames_in: int = 0  # frames read from the source
    frames_out: int = 0  # frames the sink took: new, repeated and placeholder frames
    repeats: int = 0  # the last good frame sent again during a short stall
    placeholders: int = 0
    dropped: int = 0  # frames read but never published (a newer frame replaced it, or the sink failed)
    send_failures: int = 0
    reconnects: int = 0
    first_frame_at: float | None = None
    process_seconds: float = 0.0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    cpu_seconds: dict = field(default_factory=lambda: {"capture": 0.0, "process": 0.0, "publish": 0.0})
    started_at: float | None = None  # monotonic time and process CPU time at start() and stop()
    stopped_at: float | None = None
    cpu_at_start: float = 0.0
    cpu_at_stop: float = 0.0

    def cpu_percent_of_one_core(self) -> float | None:
        """Process CPU time over wall time while the loop ran (all threads, libraries' included)."""
        if self.started_at is None:
            return None
        end = self.stopped_at if self.stopped_at is not None else time.monotonic()
        cpu = self.cpu_at_stop if self.stopped_at is not None else time.process_time()
        wall = end - self.started_at
        return round(100.0 * (cpu - self.cpu_at_start) / wall, 1) if wall > 0 else None

    def summary(self) -> dict:
        """The run's numbers as ``run --stats FILE.json`` writes them (latency: capture to publish)."""
        rss = peak_rss_mb()
        return {
            "frames_published": self.frames_out,
            "frames_dropped": self.dropped,
            "frames_repeated": self.repeats,
            "latency_ms_p50": self.latency.percentile(50),
            "latency_ms_p99": self.latency.percentile(99),
            "cpu_percent_of_one_core": self.cpu_percent_of_one_core(),
            "rss_mb_max": round(rss, 1) if rss is not None else None,
        }


class _Throttle:
    """At most one log line per ``period`` for a repeating fault; counts the ones it held back."""

    def __init__(self, period: float):
        self.period, self.last, self.held = period, -math.inf, 0

    def ready(self) -> tuple[bool, int]:
        now = time.monotonic()
        if now - self.last >= self.period:
            held, self.held, self.last = self.held, 0, now
            return True, held
        self.held += 1
        return False, 0


class FrameLoop:
    """Runs ``process(frame) -> frame`` on frames from a source and sends them to a sink.

    ``open_source`` is called (in the capture thread) to (re)open the source; ``process`` is called
    for every new frame and may draw into it. ``max_frames`` stops the loop after that many frames
    out. ``on_status`` hears "running", "source unavailable: REASON", "output failed: REASON" and
    "output restored", each once per change. ``source_label`` names the source on the placeholder.
    """

    def __init__(self, open_source: Callable[[], FrameSource], sink, process: Callable[[np.ndarray], np.ndarray],
                 width: int, height: int, fps: float, max_frames: int | None = None,
                 on_status: Callable[[str], None] | None = None, source_label: str = "Camera"):
        self.open_source = open_source
        self.sink = sink
        self.process = process
        self.width, self.height, self.fps = width, height, float(fps)
        self.max_frames = max_frames
        self.on_status = on_status or (lambda message: None)
        self.stats = LoopStats()
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._latest: np.ndarray | None = None
        self._latest_seq = 0
        self._latest_time = 0.0  # perf_counter when the frame in the slot was read
        self._taken_seq = 0
        self._last_frame_time = 0.0
        self._source: FrameSource | None = None
        self._threads: list[threading.Thread] = []
        self.status = "starting"
        self.error: BaseException | None = None
        self._sink_ok = True
        self._traced = False
        self._source_log = _Throttle(RETRY_SECONDS)
        self._process_log = _Throttle(RETRY_SECONDS)
        self._sink_log = _Throttle(RETRY_SECONDS)
        self._placeholder = placeholder_frame(width, height, f"{source_label} unavailable - retrying")

    # -- capture -----------------------------------------------------------------------------
    def _set_status(self, status: str) -> None:
        if status != self.status:
            self.status = status
            log.info("loop: %s", status)
            self.on_status(status)

    def _source_fault(self, reason: str, exc: BaseException | None = None) -> None:
        """Report a source fault: the status once per change, the log at most once per back-off."""
        show, held = self._source_log.ready()
        if show:
            trace = exc is not None and not isinstance(exc, SourceError) and not self._traced
            self._traced = self._traced or trace  # one traceback per loop is enough to debug a driver
            log.warning("source: %s%s", reason, f" ({held} more since)" if held else "", exc_info=exc if trace else None)
        if not self.status.startswith("source unavailable"):
            self._set_status(f"source unavailable: {reason}")

    def _capture(self) -> None:
        try:
            self._capture_frames()
        except BaseException as exc:  # faults are handled inside; this is a bug: stop and report it
            self.error = exc
            log.exception("capture thread failed")
            self._stop.set()
        finally:
            self._close_source()  # here, in the thread that reads: a close never races a read

    def _capture_frames(self) -> None:
        next_time = time.monotonic()
        failures = 0  # faults since the last good frame: from the second on, wait before reopening
        opened_at = 0.0
        while not self._stop.is_set():
            if self._source is None:
                if failures >= 2 and self._stop.wait(RETRY_SECONDS):
                    break
                if failures:
                    self.stats.reconnects += 1
                try:
                    self._source = self.open_source()
                except Exception as exc:
                    failures = max(failures, 1) + 1
                    self._source_fault(str(exc) or type(exc).__name__, exc)
                    continue
                opened_at = time.monotonic()
            t_cpu = time.thread_time()
            try:
                frame = self._source.read()
            except SourceError as exc:  # gone (unplugged, file removed): reopen
                self.stats.cpu_seconds["capture"] += time.thread_time() - t_cpu
                self._source_fault(str(exc), exc)
                self._close_source()
                failures += 1
                continue
            except Exception as exc:  # a driver error: try again for a while, then reopen
                frame = None
                self._source_fault(str(exc) or type(exc).__name__, exc)
                self._stop.wait(1.0 / self.fps)
            if frame is None:
                self.stats.cpu_seconds["capture"] += time.thread_time() - t_cpu
                if time.monotonic() - max(self._last_frame_time, opened_at) > STALL_SECONDS:
                    self._source_fault(f"no frames for {STALL_SECONDS:g} s")
                    self._close_source()  # stalled, or failing, for too long: reopen
                    failures += 1
                else:
                    self._stop.wait(0.01)
                continue
            t_read = time.perf_counter()
            if frame.shape[1] != self.width or frame.shape[0] != self.height:
                frame = cv2.resize(frame, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
            self.stats.cpu_seconds["capture"] += time.thread_time() - t_cpu
            with self._cond:
                if self._latest_seq != self._taken_seq:
                    self.stats.dropped += 1  # the worker never took the one in the slot
                self._latest = frame
                self._latest_seq += 1
                self._latest_time = t_read
                self._last_frame_time = time.monotonic()
                self._cond.notify()
            self.stats.frames_in += 1
            failures = 0
            self._set_status("running")
            if not self._source.paced:  # files and the demo deliver at their own fps
                next_time += 1.0 / self.fps
                delay = next_time - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                else:
                    next_time = time.monotonic()

    def _close_source(self) -> None:
        source, self._source = self._source, None
        if source is not None:
            try:
                source.close()
            except Exception:
                log.exception("closing the source failed")

    # -- processing --------------------------------------------------------------------------
    def _run_process(self, frame: np.ndarray) -> np.ndarray:
        t_cpu, t = time.thread_time(), time.perf_counter()
        try:
            return self.process(frame)
        except Exception:  # a bug in one frame's processing must not end the call: pass it through
            show, held = self._process_log.ready()
            if show:
                log.exception("processing a frame failed; passing it through" + (f" ({held} more since)" if held else ""))
            return frame
        finally:
            self.stats.process_seconds += time.perf_counter() - t
            self.stats.cpu_seconds["process"] += time.thread_time() - t_cpu

    def _publish(self, frame: np.ndarray) -> bool:
        t_cpu = time.thread_time()
        try:
            self.sink.send(frame)
        except Exception as exc:  # e.g. the virtual camera was removed: say so once, try again next frame
            self.stats.send_failures += 1
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if self._sink_ok:
                self._sink_ok = False
                log.warning("output failed: %s; trying again with every frame", reason)
                self.on_status(f"output failed: {reason}")
            else:
                show, held = self._sink_log.ready()
                if show:
                    log.debug("output still failing: %s (%d more)", reason, held)
            return False
        finally:
            self.stats.cpu_seconds["publish"] += time.thread_time() - t_cpu
        if not self._sink_ok:
            self._sink_ok = True
            log.info("output works again")
            self.on_status("output restored")
        return True

    def _work(self) -> None:
        seen = 0
        last_out: np.ndarray | None = None
        interval = 1.0 / self.fps
        out = None
        try:
            while not self._stop.is_set():
                with self._cond:
                    if self._latest_seq == seen:  # a new frame wakes us at once; the timeout paces repeats
                        self._cond.wait(timeout=1.0 / PLACEHOLDER_FPS if out is self._placeholder else interval * 1.5)
                    frame, seq, read_at = self._latest, self._latest_seq, self._latest_time
                    self._taken_seq = seq
                if self._stop.is_set():
                    break
                new = seq != seen and frame is not None
                if new:
                    seen = seq
                    out = last_out = self._run_process(frame)
                elif time.monotonic() - self._last_frame_time < STALL_SECONDS and last_out is not None:
                    out = last_out  # a short stall: repeat the last good frame
                elif time.monotonic() - max(self._last_frame_time, self.started_at) < STALL_SECONDS:
                    continue  # starting up: no frame yet, but no reason for the card either
                else:
                    out = self._placeholder
                if self._stop.is_set():  # stopped while processing: the sink may belong to a new loop
                    break
                if not self._publish(out):
                    self.stats.dropped += int(new)
                    continue
                if new:
                    self.stats.latency.add(time.perf_counter() - read_at)
                elif out is last_out:
                    self.stats.repeats += 1
                else:
                    self.stats.placeholders += 1
                self.stats.frames_out += 1
                if self.stats.first_frame_at is None:
                    self.stats.first_frame_at = time.monotonic()
                if self.max_frames is not None and self.stats.frames_out >= self.max_frames:
                    self._stop.set()
                if getattr(self.sink, "closed", False):  # the preview window was closed
                    self._stop.set()
        except BaseException as exc:
            self.error = exc
            log.exception("frame loop failed")
            self._stop.set()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "FrameLoop":
        self.started_at = self.stats.started_at = time.monotonic()
        self.stats.cpu_at_start = time.process_time()
        self._threads = [threading.Thread(target=self._capture, name="capture", daemon=True),
                         threading.Thread(target=self._work, name="worker", daemon=True)]
        for t in self._threads:
            t.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the loop stops by itself (frame limit, window closed); True if it did."""
        return self._stop.wait(timeout)

    def stop(self, timeout: float = 1.0) -> bool:
        """Ask both threads to end and wait up to ``timeout`` s; True if both ended.

        The capture thread closes the source itself as it ends; one still inside a driver's read
        (False here) closes it when the read returns. The sink is the caller's to close."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if self.stats.stopped_at is None and self.stats.started_at is not None:
            self.stats.stopped_at, self.stats.cpu_at_stop = time.monotonic(), time.process_time()
        busy = [t.name for t in self._threads if t.is_alive()]
        if busy:
            log.warning("%s thread still busy after %.1f s; it lets go of its device when the call returns",
                        " and ".join(busy), timeout)
        return not busy

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s more for threads that were still busy at ``stop()``; True if all ended."""
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    def run(self) -> LoopStats:
        """Start, wait until done, stop; for headless runs."""
        self.start()
        try:
            while not self.wait(0.2):
                pass
        finally:
            self.stop()
        if self.error is not None:
            raise self.error
        return self.stats
