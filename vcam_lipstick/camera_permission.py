"""Camera permission on macOS, asked through AVFoundation before OpenCV opens a camera.

macOS lets an app capture video only once the user allowed it. OpenCV's first open of a camera
triggers the prompt and then fails, and it cannot prompt from a worker thread at all; the app then
believed there was no webcam. So the app asks itself, on the main thread, with
``AVCaptureDevice.requestAccessForMediaType:completionHandler:``; while the prompt is up it says
"waiting for camera permission", and the camera is opened once the answer is yes.

Apple's AVCaptureDevice documentation: ``authorizationStatusForMediaType:`` returns the current
status (not determined, restricted, denied, authorized); when it is not determined, call
``requestAccessForMediaType:completionHandler:``, which returns at once and calls the handler with
the user's answer on an arbitrary dispatch queue, so the handler must not touch the UI.
Other systems need no permission: ``status()`` is always GRANTED there.
"""

from __future__ import annotations

import enum
import logging
import sys
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

#: AVAuthorizationStatus values, from AVFoundation's AVCaptureDevice.h.
NOT_DETERMINED, RESTRICTED, DENIED, AUTHORIZED = 0, 1, 2, 3

WAITING_REASON = "waiting for camera permission"  # the frame loop's status while no camera may be opened
WAITING_MESSAGE = "Waiting for camera permission: answer the macOS prompt to use your webcam."
DENIED_MESSAGE = ("Camera access is off for Lipstick Cam: allow it in System Settings > Privacy & Security > Camera; "
                  "the meeting sees a placeholder meanwhile.")


class Access(enum.Enum):
    GRANTED = "granted"
    PENDING = "pending"  # nobody asked yet, or the prompt is up
    DENIED = "denied"  # denied by the user, or restricted (parental controls, a device profile)


def _load_avfoundation():
    """pyobjc-framework-AVFoundation, or None where it is missing (then OpenCV asks, as before)."""
    try:
        import AVFoundation
    except ImportError:
        log.warning("pyobjc-framework-AVFoundation is missing: cannot ask for camera permission ahead of OpenCV")
        return None
    return AVFoundation


class CameraPermission:
    """Whether the app may open a camera, and asking for it.

    ``av``: the AVFoundation module (tests pass a fake); ``platform``: ``sys.platform`` by default.
    ``unchecked()`` never asks: for library use, tests and benchmarks, where the entry point has not
    chosen to prompt (a prompt from a process without a camera usage text can get it killed on macOS)."""

    def __init__(self, av=None, platform: str | None = None):
        self._needed = (platform if platform is not None else sys.platform) == "darwin"
        self._av = av
        self._av_loaded = av is not None
        self._lock = threading.Lock()
        self._asked = False

    @classmethod
    def unchecked(cls) -> "CameraPermission":
        return cls(platform="")

    def _avfoundation(self):
        if not self._av_loaded:
            self._av = _load_avfoundation()  # lazily: other systems never import pyobjc
            self._av_loaded = True
        return self._av

    def status(self) -> Access:
        """The answer so far (cheap; any thread)."""
        if not self._needed:
            return Access.GRANTED
        av = self._avfoundation()
        if av is None:
            return Access.GRANTED
        code = int(av.AVCaptureDevice.authorizationStatusForMediaType_(av.AVMediaTypeVideo))
        if code == AUTHORIZED:
            return Access.GRANTED
        if code == NOT_DETERMINED:
            return Access.PENDING
        return Access.DENIED

    def request(self, on_answer: Callable[[Access], None] | None = None) -> Access:
        """Show the system prompt if the user has not answered yet; returns the status now.

        Call on the main thread. ``on_answer(access)`` hears the user's answer later, on an arbitrary
        thread (AVFoundation's dispatch queue). The prompt is asked for once per run."""
        access = self.status()
        if access is not Access.PENDING:
            return access
        with self._lock:
            if self._asked:
                return access
            self._asked = True
        if threading.current_thread() is not threading.main_thread():
            log.warning("camera permission requested off the main thread")

        def answered(granted) -> None:
            result = Access.GRANTED if granted else Access.DENIED
            log.info("camera permission: %s", result.value)
            if on_answer is not None:
                on_answer(result)

        av = self._avfoundation()
        av.AVCaptureDevice.requestAccessForMediaType_completionHandler_(av.AVMediaTypeVideo, answered)
        log.info("camera permission: asked")
        return access
