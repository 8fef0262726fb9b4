"""Run code on the thread that owns the UI, from any thread.

GUI toolkits accept calls only from the thread that runs their event loop (AppKit insists on the
main thread and crashes otherwise). Workers (the camera probe, the frame loop's status reports, a
dialog's answer) therefore never touch the UI: they ``post`` a callable, and the owner runs it.
How the owner is woken up depends on the toolkit: ``tray.waker_for`` gives each pystray backend's.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

log = logging.getLogger(__name__)


class UiThread:
    """A queue of callables that only the owner thread runs, in the order they were posted.

    ``wake()`` (set with ``set_waker``) must make the owner call ``drain()`` soon, from its event
    loop; it is called from the posting thread, so it must itself be safe off the owner thread, and
    returns False when it cannot wake the owner yet (its loop is not running). Until a waker is set,
    posts wait for the first ``drain()``. ``run_inline()`` is the last resort for a toolkit whose
    thread cannot be reached: posts then run at once on the posting thread, one at a time.
    """

    def __init__(self, owner: threading.Thread | None = None):
        self.owner = owner or threading.main_thread()
        self._queue: deque[Callable[[], None]] = deque()  # append and popleft are atomic
        self._wake: Callable[[], bool | None] | None = None
        self._wake_lock = threading.Lock()
        self._wake_pending = False
        self._inline_lock: threading.Lock | None = None
        self._closed = False

    def close(self) -> None:
        """The UI's loop has ended: later posts are dropped (there is nothing left to update)."""
        self._closed = True
        self._wake = None
        self._queue.clear()

    def run_inline(self) -> None:
        self._inline_lock = threading.Lock()

    def set_waker(self, wake: Callable[[], bool | None] | None) -> None:
        self._wake = wake

    def on_owner(self) -> bool:
        return threading.current_thread() is self.owner

    def call(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` now when on the owner thread, else post it."""
        if self.on_owner():
            self._run(fn)
        else:
            self.post(fn)

    def post(self, fn: Callable[[], None]) -> None:
        """Queue ``fn`` for the owner thread and wake it (once per drain, however many posts)."""
        if self._closed:
            return
        if self._inline_lock is not None:
            with self._inline_lock:
                self._run(fn)
            return
        self._queue.append(fn)
        self.wake()

    def wake(self) -> None:
        with self._wake_lock:
            if self._wake_pending or self._wake is None:
                return
            self._wake_pending = True
        try:
            woken = self._wake() is not False
        except Exception:  # e.g. the toolkit is shutting down: the next drain still runs what is queued
            log.debug("waking the UI thread failed", exc_info=True)
            woken = False
        if not woken:
            with self._wake_lock:
                self._wake_pending = False

    def drain(self) -> None:
        """Run everything posted so far. Only the owner calls this (the waker arranges it)."""
        if not self.on_owner():
            raise RuntimeError(f"UiThread.drain called on {threading.current_thread().name}, not the UI thread")
        with self._wake_lock:
            self._wake_pending = False  # a post from now on wakes the owner again
        while self._queue:
            self._run(self._queue.popleft())

    @staticmethod
    def _run(fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:  # one failed update must not stop the others or the toolkit's loop
            log.exception("UI update failed")
