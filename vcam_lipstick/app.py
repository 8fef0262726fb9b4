"""The app controller: settings + shades + pipeline + frame loop, driven by the tray or the CLI."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from . import __version__
from .devices.sinks import SinkError, VirtualCameraSink, WindowSink, display_available, open_sink
from .devices.sources import CameraSource, DemoSource, SourceError, open_source
from .loop import FrameLoop
from .menu import MenuState, build_menu
from .pipeline import LipstickPipeline, View
from .processing.shades import Finish, Look, Shade, ShadeBook, ShadeError, parse_finish
from .settings import Settings, SettingsStore, log_dir
from .system import open_folder, set_autostart

log = logging.getLogger(__name__)

#: Length of the preview file written when there is neither a virtual camera nor a display.
SAMPLE_SECONDS = 10


class OutputSink:
    """The main sink plus an optional preview window, switchable while running."""

    def __init__(self, primary):
        self.primary = primary
        self.preview: WindowSink | None = None
        self.name = primary.name
        self._want_preview = False
        self._lock = threading.Lock()

    def want_preview(self, on: bool) -> None:
        self._want_preview = on

    def send(self, frame) -> None:
        self.primary.send(frame)
        with self._lock:
            if self._want_preview and self.preview is None and display_available():
                try:
                    self.preview = WindowSink()
                except SinkError as exc:
                    log.warning("preview: %s", exc)
                    self._want_preview = False
            if self.preview is not None:
                if not self._want_preview:
                    self.preview.close()
                    self.preview = None
                else:
                    self.preview.send(frame)

    @property
    def closed(self) -> bool:
        return bool(getattr(self.primary, "closed", False))

    def close(self) -> None:
        with self._lock:
            if self.preview is not None:
                self.preview.close()
                self.preview = None
        self.primary.close()


def first_camera(settings: Settings) -> CameraSource | None:
    indices = [settings.camera] if settings.camera >= 0 else list(range(4))
    for index in indices:
        try:
            return CameraSource(index, settings.width, settings.height, settings.fps)
        except SourceError:
            continue
    return None


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
        self.sink: OutputSink | None = None
        self.source_label = ""
        self.writes_sample_file = False
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
        return LipstickPipeline(tracker, on_error=self.notify)

    def open_source_factory(self, source_spec: str | None):
        """(opener, first): ``opener()`` (re)opens the source; ``first`` is already open (or None if the
        source is unavailable right now). With no spec: the webcam, or the demo if there is none."""
        s = self.settings
        if source_spec is not None:
            self.source_label = source_spec

            def opener():
                return open_source(source_spec, s.width, s.height, s.fps)

            try:
                first = opener()
            except SourceError as exc:
                if not source_spec.isdigit():
                    raise  # a missing or broken file will not come back: say so and stop
                self.notify(f"{exc}; retrying every 2 s")
                first = None
        else:
            first = first_camera(s)
            if first is None and s.camera < 0:
                self.source_label = "demo (no webcam found)"
                self.notify("No webcam found: showing the built-in demo. Plug in a camera and pick it under Camera.")

                def opener():
                    return DemoSource(s.width, s.height, s.fps)

                first = opener()
            else:
                index = first.index if first is not None else s.camera
                self.source_label = f"camera {index}"

                def opener():
                    return CameraSource(index, s.width, s.height, s.fps)

        pending = [first] if first is not None else []

        def reopen():
            return pending.pop() if pending else opener()

        return reopen, first

    def open_output(self, sink_spec: str | None, backend: str | None = None):
        width, height, fps = self.frame_format
        if sink_spec is not None:
            return open_sink(sink_spec, width, height, fps, backend=backend)
        try:
            return VirtualCameraSink(width, height, fps, backend=backend)
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
        self.sink = OutputSink(primary)
        self.sink.want_preview(self.settings.show_preview)
        self._loop_args = (opener, pipeline, max_frames)
        self.loop = self._make_loop(opener, pipeline, max_frames)
        self.loop.start()
        threading.Thread(target=self.refresh_cameras, name="camera-probe", daemon=True).start()
        return self.loop

    def _make_loop(self, opener, pipeline, max_frames) -> FrameLoop:
        width, height, fps = self.frame_format
        return FrameLoop(opener, self.sink, lambda frame: pipeline.apply(frame, self.view), width, height, fps,
                         max_frames=max_frames, on_status=self._on_status)

    def restart_loop(self) -> None:
        """Reopen the source (a different camera) keeping the sink and the model."""
        if self.loop is None:
            return
        opener, pipeline, max_frames = self._loop_args
        self.loop.stop()
        if self.source_label.startswith(("camera", "demo")):
            opener, _ = self.open_source_factory(None)
        if pipeline.tracker is not None:
            pipeline.tracker.reset()
        self._loop_args = (opener, pipeline, max_frames)
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
        if status.startswith("camera unavailable"):
            self.notify("Camera unavailable - retrying every 2 s. The meeting sees a placeholder meanwhile.")
        elif status == "running" and self.loop is not None and self.loop.stats.reconnects:
            self.notify("Camera is back.")

    def stop(self) -> None:
        if self.loop is not None:
            self.loop.stop()
        if self.sink is not None:
            self.sink.close()
