"""Frame in, lipstick on, frame out: perception + rendering + the view options (mirror, compare)."""

from __future__ import annotations

import logging
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
    """Tracks the lips and renders a ``View``. A perception failure passes frames through untouched."""

    def __init__(self, tracker, renderer: LipRenderer | None = None, on_error=None):
        self.tracker = tracker
        self.renderer = renderer or LipRenderer()
        self.on_error = on_error
        self.failed = tracker is None
        self.last_masks: list = []  # the mouths found in the last frame

    def apply(self, frame: np.ndarray, view: View, still: bool = False) -> np.ndarray:
        """Return the output frame; ``frame`` is used as scratch space and may be modified."""
        if view.mirror:
            frame = cv2.flip(frame, 1)
        if not view.enabled or self.failed:
            return frame
        before = frame.copy() if view.compare else None
        try:
            masks = self.tracker.segment_image(frame) if still else self.tracker.process(frame)
            self.last_masks = masks
            self.renderer.render(frame, masks, view.look)
        except Exception as exc:  # a model error must never take the call down
            self.failed = True
            log.exception("lip model failed; passing frames through")
            if self.on_error is not None:
                self.on_error(f"Lipstick paused: the lip model failed ({exc.__class__.__name__}). Frames pass through.")
            return before if before is not None else frame
        if before is not None:
            frame = draw_compare(before, frame)
        return frame
