"""Frame in, lipstick on, frame out: perception + rendering + the view options (mirror, compare)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import cv2
import numpy as np

from .processing.render import LipRenderer
from .processing.shades import Look

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class View:
    """Everything that changes how a frame is drawn; a fresh snapshot is read for every frame."""

    look: Look
    enabled: bool = True
    compare: bool = False
    mirror: bool = False


def draw_compare(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Left half before, right half after, with a thin divider; writes into ``after``."""
    mid = after.shape[1] // 2
    after[:, :mid] = before[:, :mid]
    after[:, mid - 1 : mid + 1] = 255
    cv2.putText(after, "before", (12, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
    cv2.putText(after, "after", (mid + 12, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
    return after


class LipstickPipeline:
    """Tracks the lips and renders a ``View``. A perception failure passes frames through untouched.

    After a failure the model is tried again ``retry_seconds`` later, doubling the wait while it
    keeps failing (up to ``MAX_RETRY_SECONDS``); 0 tries again with the next frame (files). The
    user hears once (``on_error``) until ``reset()``. ``cpu_seconds`` adds up the thread CPU time of
    perception and rendering, for benchmarks. ``clock`` is for tests.
    """

    MAX_RETRY_SECONDS = 60.0

    def __init__(self, tracker, renderer: LipRenderer | None = None, on_error=None, retry_seconds: float = 0.0,
                 clock=time.monotonic):
        self.tracker = tracker
        self.renderer = renderer or LipRenderer()
        self.on_error = on_error
        self.retry_seconds = retry_seconds
        self.clock = clock
        self.last_masks: list = []  # the mouths found in the last frame
        self.failures = 0  # model failures in a row
        self.retry_at = 0.0
        self._told = False
        self.cpu_seconds = {"perception": 0.0, "render": 0.0}

    @property
    def failed(self) -> bool:
        """True while frames pass through: no model, or waiting to try it again."""
        return self.tracker is None or (self.failures > 0 and self.clock() < self.retry_at)

    def reset(self) -> None:
        """Start afresh (a new source): forget failures and tracked mouths; a new failure is told again."""
        self.failures, self.retry_at, self._told = 0, 0.0, False
        if self.tracker is not None:
            self.tracker.reset()

    def apply(self, frame: np.ndarray, view: View, still: bool = False) -> np.ndarray:
        """Return the output frame; ``frame`` is used as scratch space and may be modified."""
        if view.mirror:
            frame = cv2.flip(frame, 1)
        if not view.enabled or self.failed:
            return frame
        before = frame.copy() if view.compare else None
        try:
            t = time.thread_time()
            masks = self.tracker.segment_image(frame) if still else self.tracker.process(frame)
            self.last_masks = masks
            t_render = time.thread_time()
            self.renderer.render(frame, masks, view.look)
            self.cpu_seconds["perception"] += t_render - t
            self.cpu_seconds["render"] += time.thread_time() - t_render
        except Exception as exc:  # a model error must never take the call down
            self._failed(exc)
            return before if before is not None else frame
        if self.failures:
            log.info("lip model works again after %d failure(s)", self.failures)
            self.failures = 0
        if before is not None:
            frame = draw_compare(before, frame)
        return frame

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        wait = min(self.retry_seconds * 2 ** min(self.failures - 1, 16), self.MAX_RETRY_SECONDS)
        self.retry_at = self.clock() + wait
        if self.failures == 1:
            log.exception("lip model failed; passing frames through, trying again in %g s", wait)
        elif self.failures & (self.failures - 1) == 0:  # 2nd, 4th, 8th...: a persistent fault does not flood the log
            log.warning("lip model failed %d times in a row (%s: %s); next try in %g s", self.failures,
                        type(exc).__name__, exc, wait)
        try:
            self.tracker.reset()  # the next try starts from a clean state
        except Exception:
            log.exception("resetting the tracker failed")
        if not self._told and self.on_error is not None:
            self._told = True
            self.on_error(f"Lipstick paused: the lip model failed ({exc.__class__.__name__}). "
                          "Frames pass through; it is tried again every few seconds.")
