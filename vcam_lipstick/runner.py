"""The frame loop's lifecycle: the output it sends to, starting it, restarting it on another source, stopping it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from .devices.sinks import SinkError, WindowSink, display_available
from .devices.sources import FrameSource
from .frame_tap import FrameTap
from .loop import FrameLoop, LoopStats
from .pipeline import LipstickPipeline, View

log = logging.getLogger(__name__)

#: How often a failed output (the virtual camera removed) is reopened.
OUTPUT_RETRY_SECONDS = 2.0
#: How long a restart waits for the old worker to finish its frame before giving the new loop its own model.
RESTART_WAIT_SECONDS = 5.0


class OutputSink:
    """The main sink plus an optional preview window, switchable while running.

    With ``reopen`` (the virtual camera), a main sink that raises is closed, the user is told once,
    a preview window stands in where there is a display, and ``reopen()`` is tried every
    ``OUTPUT_RETRY_SECONDS`` until it works. Without it, send errors reach the frame loop."""

    def __init__(self, primary, reopen: Callable[[], object] | None = None,
                 notify: Callable[[str], None] | None = None):
        self.primary = primary
        self.reopen = reopen
        self.notify = notify or (lambda message: log.warning("%s", message))
        self.preview: WindowSink | None = None
        self.name = primary.name
        self._want_preview = False
        self._stand_in = False  # a preview shown because the main sink failed
        self._next_try = 0.0
        self._lock = threading.Lock()  # one sender at a time, even across a loop restart

    def want_preview(self, on: bool) -> None:
        self._want_preview = on

    def send(self, frame) -> None:
        with self._lock:
            self._send_primary(frame)
            want = self._want_preview or self._stand_in
            if want and self.preview is None and display_available():
                try:
                    self.preview = WindowSink()
                except SinkError as exc:
                    log.warning("preview: %s", exc)
                    self._want_preview = self._stand_in = False
                    want = False
            if self.preview is not None:
                if not want:
                    self.preview.close()
                    self.preview = None
                else:
                    self.preview.send(frame)

    def _send_primary(self, frame) -> None:
        if self.reopen is None:
            self.primary.send(frame)
            return
        if self.primary is None:
            if time.monotonic() < self._next_try:
                return
            try:
                self.primary = self.reopen()
            except Exception as exc:
                log.debug("output still unavailable: %s", exc)
                self._next_try = time.monotonic() + OUTPUT_RETRY_SECONDS
                return
            self.name, self._stand_in = self.primary.name, False
            self.notify(f"{self.name} is back.")
        try:
            self.primary.send(frame)
        except Exception as exc:  # e.g. the virtual camera device was removed
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            broken, self.primary = self.primary, None
            try:
                broken.close()
            except Exception:
                log.debug("closing the failed output", exc_info=True)
            self._next_try = time.monotonic() + OUTPUT_RETRY_SECONDS
            self._stand_in = display_available() and not self._want_preview
            instead = "Showing a preview window meanwhile. " if self._stand_in else ""
            log.warning("output %s failed: %s", self.name, reason)
            self.notify(f"{self.name} stopped ({reason}). {instead}Retrying every {OUTPUT_RETRY_SECONDS:g} s.")

    @property
    def closed(self) -> bool:
        return bool(getattr(self.primary, "closed", False))

    @property
    def failure(self) -> str | None:
        """Why the main output ended by itself (a preview window that could not open), or None."""
        return getattr(self.primary, "failure", None)

    def close(self) -> None:
        with self._lock:
            if self.preview is not None:
                self.preview.close()
                self.preview = None
            if self.primary is not None:
                self.primary.close()


class LoopRunner:
    """Runs one ``FrameLoop`` at a time from a source opener to ``sink``, with one lip model.

    ``frame_format`` is (width, height, fps) of the output; ``view()`` is read for every frame;
    ``build_pipeline()`` makes a second model when a restart cannot wait for the old worker;
    ``tap`` gets a small before/after copy now and then (the palette's live thumbnail)."""

    def __init__(self, sink: OutputSink, pipeline: LipstickPipeline, view: Callable[[], View],
                 frame_format: tuple[int, int, float], max_frames: int | None = None,
                 on_status: Callable[[str], None] | None = None,
                 build_pipeline: Callable[[], LipstickPipeline] | None = None, tap: FrameTap | None = None):
        self.sink = sink
        self.tap = tap
        self.pipeline = pipeline
        self.view = view
        self.frame_format = frame_format
        self.max_frames = max_frames
        self.on_status = on_status
        self.build_pipeline = build_pipeline
        self.loop: FrameLoop | None = None
        self._opener: Callable[[], FrameSource] | None = None
        self._lock = threading.Lock()  # one start, restart or stop at a time (menu, permission answer, quit)

    def _make_loop(self, source_label: str) -> FrameLoop:
        width, height, fps = self.frame_format
        pipeline, view, tap = self.pipeline, self.view, self.tap

        def process(frame):
            if tap is None:
                return pipeline.apply(frame, view())
            current = view()
            before = tap.before(frame)  # a small copy when one is due: the pipeline draws into frame
            out = pipeline.apply(frame, current)
            tap.after(before, out, current.mirror)
            return out

        return FrameLoop(self._opener, self.sink, process, width, height, fps,
                         max_frames=self.max_frames, on_status=self.on_status, source_label=source_label)

    def start(self, opener: Callable[[], FrameSource], source_label: str) -> FrameLoop:
        with self._lock:
            self._opener = opener
            self.loop = self._make_loop(source_label)
            return self.loop.start()

    def restart(self, opener: Callable[[], FrameSource] | None, source_label: str) -> FrameLoop | None:
        """Reopen the source with ``opener`` (None: the same one), keeping the sink and the model.

        The old worker must be done with the model first: one still inside a frame after
        ``RESTART_WAIT_SECONDS`` keeps that model, and the new loop gets a model of its own."""
        with self._lock:
            if self.loop is None:
                return None
            if not self.loop.stop() and not self.loop.join(RESTART_WAIT_SECONDS):
                log.warning("the old frame loop is still busy; the new one gets its own lip model")
                if self.build_pipeline is not None:
                    self.pipeline = self.build_pipeline()
            if opener is not None:
                self._opener = opener
            self.pipeline.reset()  # tracked mouths belong to the old source; a model failure is tried (and told) afresh
            self.loop = self._make_loop(source_label)
            return self.loop.start()

    @property
    def stats(self) -> LoopStats:
        return self.loop.stats if self.loop is not None else LoopStats()

    def stop(self) -> None:
        """Stop the loop and close the output; safe to call twice."""
        with self._lock:
            if self.loop is not None:
                self.loop.stop()
            self.sink.close()
