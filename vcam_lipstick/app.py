"""The app controller: settings + shades + pipeline + frame loop, driven by the tray or the CLI."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from . import __version__
from .devices.sinks import SinkError, VirtualCameraSink, WindowSink, display_available, open_sink
from .devices.sources import (CameraSource, DemoSource, SourceError, VirtualCameraError, open_source,
                              refuse_virtual_camera)
from .loop import FrameLoop
from .menu import MenuState, build_menu
from .pipeline import LipstickPipeline, View
from .processing.shades import Finish, Look, Shade, ShadeBook, ShadeError, parse_finish
from .settings import Settings, SettingsStore, log_dir
from .system import open_folder, set_autostart

log = logging.getLogger(__name__)

#: Length of the preview file written when there is neither a virtual camera nor a display.
SAMPLE_SECONDS = 10
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

    def close(self) -> None:
        with self._lock:
            if self.preview is not None:
                self.preview.close()
                self.preview = None
            if self.primary is not None:
                self.primary.close()


def first_camera(settings: Settings) -> CameraSource | None:
    """The chosen camera, or with none chosen the first real one that delivers frames (never a virtual one)."""
    from .devices.cameras import list_devices

    if settings.camera >= 0:
        indices = [settings.camera]
    else:
        devices = list_devices()
        indices = list(range(4)) if devices is None else [d.index for d in devices if not d.virtual]
    for index in indices:
        try:
            return CameraSource(index, settings.width, settings.height, settings.fps)
        except SourceError:
            continue
    return None


def install_thread_excepthook() -> None:
    """Log an exception that ends a thread (a tray app has no console to print it on); the app goes on."""
    if getattr(threading.excepthook, "vcam_lipstick", False):
        return

    def hook(args) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "a thread"
        log.error("unexpected error in %s", name, exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    hook.vcam_lipstick = True
    threading.excepthook = hook


class Controller:
    """Owns the state. Menu handlers call its methods; the frame loop reads ``view`` every frame."""

    def __init__(self, store: SettingsStore, settings: Settings | None = None, shades: ShadeBook | None = None,
                 notify: Callable[[str], None] | None = None, tracker_factory=None):
        self.store = store
        self.settings = settings or store.load()
        self.shades = shades or ShadeBook.load(store.folder / "shades.json")
        self.notify = notify or (lambda message: log.warning("%s", message))
        self.tracker_factory = tracker_factory
        self.listeners: list[Callable[[], None]] = []
        self.loop: FrameLoop | None = None
        self.pipeline: LipstickPipeline | None = None
        self.sink: OutputSink | None = None
        self.source_label = ""
        self.source_kind = "Camera"  # names the source on the placeholder card and in messages
        self.writes_sample_file = False
        self.frame_format: tuple[int, int, float] = (self.settings.width, self.settings.height, self.settings.fps)
        self._loop_args = None
        self._reopen_output: Callable[[], object] | None = None
        self._notices: set[str] = set()
        self.quit_requested = threading.Event()
        self.cameras: tuple[int, ...] = ()
        self._check_shade()
        self.view = self._make_view()

    # -- state -------------------------------------------------------------------------------
    def _check_shade(self) -> None:
        try:
            self.shades.get(self.settings.shade)
        except ShadeError:
            log.warning("saved shade %r is unknown; using the default", self.settings.shade)
            self.settings.shade = Settings().shade

    def shade(self) -> Shade:
        return self.shades.get(self.settings.shade)

    def finish(self) -> Finish:
        if self.settings.finish:
            try:
                return parse_finish(self.settings.finish)
            except ShadeError:
                pass
        return self.shade().finish

    def _make_view(self) -> View:
        s = self.settings
        look = Look(self.shade(), self.finish(), s.intensity / 100.0, s.liner)
        return View(look, s.enabled, s.compare, s.mirror)

    def _changed(self) -> None:
        self.view = self._make_view()  # one reference swap: the worker sees old or new, never half
        try:
            self.store.save(self.settings)
        except OSError as exc:
            log.warning("cannot save settings: %s", exc)
        for listener in list(self.listeners):
            listener()

    def menu_state(self) -> MenuState:
        families = {family: [s.name for s in shades] for family, shades in self.shades.families().items()}
        return MenuState(self.settings.enabled, self.shade().name, self.finish().value, self.settings.intensity,
                         self.settings.compare, self.settings.mirror, self.settings.show_preview,
                         self.settings.start_at_login, self.settings.camera, self.cameras, families)

    def menu(self):
        return build_menu(self.menu_state(), self)

    def tooltip(self) -> str:
        device = self.sink.name if self.sink else "not started"
        state = "" if self.settings.enabled else " (off)"
        return f"Lipstick Cam: {self.shade().name}, {self.finish().value}{state} -> {device}"[:127]

    # -- menu actions ------------------------------------------------------------------------
    def toggle_enabled(self) -> None:
        self.settings.enabled = not self.settings.enabled
        self._changed()

    def set_shade(self, name: str) -> None:
        shade = self.shades.get(name)
        self.settings.shade = shade.name if shade.family != "custom" else shade.hex
        self.settings.finish = ""  # the shade's own finish until the user picks another
        self._changed()

    def set_custom_color(self, hex_color: str) -> None:
        shade = Shade.custom(hex_color)
        self.settings.shade = shade.hex
        self._changed()

    def ask_custom_color(self) -> None:
        """Ask for a colour with a small dialog (Tk), off the tray thread."""
        def ask():
            from .control_window import ask_color

            color = ask_color(self.shade().hex)
            if color:
                self.set_custom_color(color)

        threading.Thread(target=ask, name="colour-dialog", daemon=True).start()

    def set_finish(self, finish: str) -> None:
        self.settings.finish = parse_finish(finish).value
        self._changed()

    def set_intensity(self, percent: int) -> None:
        if not 0 <= int(percent) <= 100:
            raise ShadeError(f"intensity {percent} is outside 0-100")
        self.settings.intensity = int(percent)
        self._changed()

    def toggle_compare(self) -> None:
        self.settings.compare = not self.settings.compare
        self._changed()

    def toggle_mirror(self) -> None:
        self.settings.mirror = not self.settings.mirror
        self._changed()

    def toggle_preview(self) -> None:
        self.settings.show_preview = not self.settings.show_preview
        if self.sink is not None:
            self.sink.want_preview(self.settings.show_preview)
        self._changed()

    def toggle_start_at_login(self) -> None:
        want = not self.settings.start_at_login
        try:
            path = set_autostart(want)
        except OSError as exc:
            self.notify(f"Could not change start at login: {exc}")
            return
        log.info("start at login %s (%s)", "on" if want else "off", path)
        self.settings.start_at_login = want
        self._changed()

    def set_camera(self, index: int) -> None:
        self.settings.camera = int(index)
        self._changed()
        if self.loop is not None:
            self.restart_loop()

    def open_log_folder(self) -> None:
        open_folder(log_dir())

    def about_text(self) -> str:
        from .model.bundle import LIPS_SPEC, shipped_spec

        try:
            spec, _ = shipped_spec(LIPS_SPEC)
            model = f"{spec.name} ({spec.sha256[:12]}, non-commercial research weights)"
        except Exception as exc:  # About must always open
            model = f"unavailable ({exc})"
        device = self.sink.name if self.sink else "none"
        return f"vcam-lipstick {__version__}\nModel: {model}\nVirtual camera: {device}\nSource: {self.source_label}"

    def show_about(self) -> None:
        self.notify(self.about_text())

    def quit(self) -> None:
        self.quit_requested.set()
        for listener in list(self.listeners):
            listener()

    # -- running -----------------------------------------------------------------------------
    def build_pipeline(self) -> LipstickPipeline:
        tracker = None
        try:
            if self.tracker_factory is not None:
                tracker = self.tracker_factory()
            else:
                from .model.bundle import load_tracker

                tracker = load_tracker(self.settings.threads, self.settings.all_faces)
        except Exception as exc:  # any model problem: pass frames through, tell the user
            log.error("lip model unavailable: %s", exc)
            self.notify(f"Lip model unavailable ({exc}); video passes through unchanged.")
        from .loop import RETRY_SECONDS

        return LipstickPipeline(tracker, on_error=self.notify, retry_seconds=RETRY_SECONDS)

    def notify_once(self, message: str) -> None:
        """Tell the user something only the first time it happens in this run (e.g. a slow camera)."""
        if message not in self._notices:
            self._notices.add(message)
            self.notify(message)

    def open_source_factory(self, source_spec: str | None):
        """(opener, first): ``opener()`` (re)opens the source; ``first`` is already open (or None if the
        source is unavailable right now). With no spec: the webcam, or the demo if there is none."""
        s = self.settings
        if source_spec is not None:
            self.source_label = source_spec
            self.source_kind = "Demo" if source_spec == "demo" else "Camera" if source_spec.isdigit() else "Video file"

            def opener():
                return open_source(source_spec, s.width, s.height, s.fps, on_notice=self.notify_once)

            try:
                first = opener()
            except SourceError as exc:
                if not source_spec.isdigit() or isinstance(exc, VirtualCameraError):
                    raise  # a missing or broken file, or a virtual camera, will not change: say so and stop
                self.notify(f"{exc}; retrying every 2 s")
                first = None
        else:
            chosen = s
            if s.camera >= 0:
                try:
                    refuse_virtual_camera(s.camera)
                except VirtualCameraError as exc:
                    self.notify(f"{exc}. Using the first real camera instead.")
                    chosen = dataclasses.replace(s, camera=-1)
            first = first_camera(chosen)
            self.source_kind = "Camera"
            if first is None and chosen.camera < 0:
                self.source_label = "demo (no webcam found)"
                self.source_kind = "Demo"
                self.notify("No webcam found: showing the built-in demo. Plug in a camera and pick it under Camera.")

                def opener():
                    return DemoSource(s.width, s.height, s.fps)

                first = opener()
            else:
                index = first.index if first is not None else chosen.camera
                self.source_label = f"camera {index}"
                if first is not None:
                    first.on_notice = self.notify_once

                def opener():
                    return CameraSource(index, s.width, s.height, s.fps, on_notice=self.notify_once)

        pending = [first] if first is not None else []

        def reopen():
            return pending.pop() if pending else opener()

        return reopen, first

    def open_output(self, sink_spec: str | None, backend: str | None = None):
        width, height, fps = self.frame_format
        self._reopen_output = None
        if sink_spec == "virtual" or sink_spec is None:
            def reopen():
                return VirtualCameraSink(width, height, fps, backend=backend)
        if sink_spec is not None:
            sink = open_sink(sink_spec, width, height, fps, backend=backend)
            if sink_spec == "virtual":
                self._reopen_output = reopen
            return sink
        try:
            sink = VirtualCameraSink(width, height, fps, backend=backend)
            self._reopen_output = reopen
            return sink
        except SinkError as exc:
            self.notify(f"{exc} - run 'vcam-lipstick doctor' to install one. Showing a preview instead.")
            if display_available():
                return WindowSink()
            path = Path.cwd() / "lipstick-preview.mp4"
            self.notify(f"No display either: writing a {SAMPLE_SECONDS} s preview to {path}")
            self.writes_sample_file = True
            return open_sink(str(path), width, height, fps)

    def start(self, source_spec: str | None = None, sink_spec: str | None = None, max_frames: int | None = None,
              backend: str | None = None) -> FrameLoop:
        install_thread_excepthook()
        pipeline = self.build_pipeline()
        opener, first = self.open_source_factory(source_spec)
        # Publish at the source's own size and rate, so frames need no resizing on the hot path.
        s = self.settings
        self.frame_format = (first.width, first.height, first.fps) if first is not None else (s.width, s.height, s.fps)
        try:
            primary = self.open_output(sink_spec, backend)
        except BaseException:
            if first is not None:
                first.close()
            raise
        if self.writes_sample_file and max_frames is None:
            max_frames = round(self.frame_format[2] * SAMPLE_SECONDS)  # a fallback file is a sample, not a recording
        self.sink = OutputSink(primary, reopen=self._reopen_output, notify=self.notify)
        self.sink.want_preview(self.settings.show_preview)
        self._loop_args = (opener, pipeline, max_frames)
        self.pipeline = pipeline
        self.loop = self._make_loop(opener, pipeline, max_frames)
        self.loop.start()
        threading.Thread(target=self.refresh_cameras, name="camera-probe", daemon=True).start()
        return self.loop

    def _make_loop(self, opener, pipeline, max_frames) -> FrameLoop:
        width, height, fps = self.frame_format
        return FrameLoop(opener, self.sink, lambda frame: pipeline.apply(frame, self.view), width, height, fps,
                         max_frames=max_frames, on_status=self._on_status, source_label=self.source_kind)

    def restart_loop(self) -> None:
        """Reopen the source (a different camera) keeping the sink and the model.

        The old worker must be done with the model first: one still inside a frame after
        ``RESTART_WAIT_SECONDS`` keeps that model, and the new loop gets a model of its own."""
        if self.loop is None:
            return
        opener, pipeline, max_frames = self._loop_args
        if not self.loop.stop() and not self.loop.join(RESTART_WAIT_SECONDS):
            log.warning("the old frame loop is still busy; the new one gets its own lip model")
            pipeline = self.build_pipeline()
        if self.source_label.startswith(("camera", "demo")):
            opener, _ = self.open_source_factory(None)
        pipeline.reset()  # tracked mouths belong to the old source; a model failure is tried (and told) afresh
        self._loop_args = (opener, pipeline, max_frames)
        self.pipeline = pipeline
        self.loop = self._make_loop(opener, pipeline, max_frames)
        self.loop.start()

    def refresh_cameras(self) -> None:
        """Fill the Camera menu: the camera in use plus every other one that delivers frames."""
        from .devices.sources import list_cameras

        in_use = (int(self.source_label.split()[1]),) if self.source_label.startswith("camera ") else ()
        try:
            others = list_cameras(4, skip=in_use)
        except Exception:  # a driver crash while probing must not take the app down
            log.exception("camera probe failed")
            others = []
        self.cameras = tuple(sorted(set(in_use) | set(others)))
        for listener in list(self.listeners):
            listener()

    def _on_status(self, status: str) -> None:
        kind = self.source_kind
        if status.startswith("source unavailable"):
            reason = status.partition(": ")[2]
            detail = f" ({reason})" if kind != "Camera" and reason else ""
            self.notify(f"{kind} unavailable{detail} - retrying every 2 s. The meeting sees a placeholder meanwhile.")
        elif status == "running" and self.loop is not None and self.loop.stats.reconnects:
            self.notify(f"{kind} is back.")
        elif status.startswith("output failed"):
            self.notify(f"Output failed ({status.partition(': ')[2]}); trying again with every frame.")
        elif status == "output restored":
            self.notify("Output works again.")

    def write_stats(self, path: Path) -> None:
        """Write the run's numbers (``LoopStats.summary``) to ``path`` as one JSON object, atomically."""
        import json
        import os

        from .loop import LoopStats

        summary = (self.loop.stats if self.loop is not None else LoopStats()).summary()
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            tmp.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def stop(self) -> None:
        if self.loop is not None:
            self.loop.stop()
        if self.sink is not None:
            self.sink.close()
