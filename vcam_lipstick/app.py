"""The app controller: settings + shades + source choice + the frame loop's runner, driven by the tray or the CLI."""

from __future__ import annotations

import dataclasses
import enum
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from . import __version__
from .camera_permission import DENIED_MESSAGE, WAITING_MESSAGE, WAITING_REASON, Access, CameraPermission
from .devices.sinks import SinkError, VirtualCameraSink, WindowSink, display_available, open_sink
from .devices.sources import (CameraSource, DemoSource, FrameSource, SourceError, VirtualCameraError, open_source,
                              refuse_virtual_camera)
from .dialogs import ChildDialog, ask_color
from .frame_tap import FrameTap
from .loop import FrameLoop
from .menu import MenuState, build_menu
from .palette import PaletteHost, file_signature
from .pipeline import LipstickPipeline, View
from .processing.shades import Finish, Look, Shade, ShadeBook, ShadeError, parse_finish
from .runner import LoopRunner, OutputSink
from .settings import Settings, SettingsStore, log_dir
from .system import cli_name, open_folder, set_autostart

log = logging.getLogger(__name__)

#: Length of the preview file written when there is neither a virtual camera nor a display.
SAMPLE_SECONDS = 10


class SourceKind(enum.Enum):
    """What kind of source the frame loop reads; the value names it to the user."""

    CAMERA = "Camera"
    DEMO = "Demo"
    FILE = "Video file"


@dataclasses.dataclass(frozen=True)
class SourceChoice:
    """The source in use, as the user would name it.

    ``index``: the camera's (None while it is still to be picked); ``path``: the video file's.
    ``automatic``: picked from the settings rather than named with ``--source``, so a change of
    camera in the menu picks again. ``note``: why this source, e.g. "no webcam found"."""

    kind: SourceKind
    index: int | None = None
    path: str | None = None
    automatic: bool = False
    note: str = ""

    @classmethod
    def from_spec(cls, spec: str) -> "SourceChoice":
        """'demo', a camera index ('0') or a video file path, as ``--source`` takes them."""
        if spec == "demo":
            return cls(SourceKind.DEMO)
        if spec.isdigit():
            return cls(SourceKind.CAMERA, index=int(spec))
        return cls(SourceKind.FILE, path=spec)

    @property
    def spec(self) -> str:
        """The ``--source`` spelling (``open_source`` takes it)."""
        if self.kind is SourceKind.CAMERA:
            return str(self.index)
        return "demo" if self.kind is SourceKind.DEMO else str(self.path)

    @property
    def label(self) -> str:
        """Where frames come from, for About and the log: 'camera 0', 'demo (no webcam found)', a path."""
        if self.kind is SourceKind.CAMERA:
            text = "camera" if self.index is None else f"camera {self.index}"
        elif self.kind is SourceKind.DEMO:
            text = "demo"
        else:
            text = str(self.path)
        return f"{text} ({self.note})" if self.note else text


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




def open_output(sink_spec: str | None, frame_format: tuple[int, int, float], notify: Callable[[str], None],
                backend: str | None = None) -> tuple[object, Callable[[], object] | None, bool]:
    """(sink, reopen, sample): the output for ``sink_spec``; with none, the virtual camera, else a preview
    window, else (no display either) a short preview file. ``reopen`` reopens a virtual camera that
    failed mid-run (None for other outputs); ``sample`` is True for the preview file."""
    width, height, fps = frame_format

    def reopen():
        return VirtualCameraSink(width, height, fps, backend=backend)

    if sink_spec is not None:
        sink = open_sink(sink_spec, width, height, fps, backend=backend)
        return sink, (reopen if sink_spec == "virtual" else None), False
    try:
        return VirtualCameraSink(width, height, fps, backend=backend), reopen, False
    except SinkError as exc:
        notify(f"{exc} - run '{cli_name()} doctor' to install one. Showing a preview instead.")
        if display_available():
            return WindowSink(), None, False
        path = Path.cwd() / "lipstick-preview.mp4"
        notify(f"No display either: writing a {SAMPLE_SECONDS} s preview to {path}")
        return open_sink(str(path), width, height, fps), None, True


class SourcePicker:
    """Chooses the frame loop's source and how to (re)open it.

    The one named with ``--source``; else the camera in the settings, or the first real one (never
    a virtual camera), or the demo when there is no webcam. Where the system wants camera
    permission (macOS), it asks before any camera is opened and waits for the answer meanwhile.
    ``choice`` is the latest pick; ``on_allowed()`` runs when the user allows the camera."""

    def __init__(self, settings: Settings, permission: CameraPermission, notify: Callable[[str], None],
                 notify_once: Callable[[str], None], on_allowed: Callable[[], None]):
        self.settings = settings
        self.permission = permission
        self.notify = notify
        self.notify_once = notify_once
        self.on_allowed = on_allowed
        self.choice: SourceChoice | None = None

    def pick(self, source_spec: str | None):
        """(opener, first): ``opener()`` (re)opens the source; ``first`` is already open (or None if the
        source is unavailable right now). Sets ``choice``."""
        if source_spec is not None:
            choice = SourceChoice.from_spec(source_spec)
            opener, first = self._named(choice)
        else:
            choice, opener, first = self._automatic()
        self.choice = choice
        pending = [first] if first is not None else []

        def reopen():
            return pending.pop() if pending else opener()

        return reopen, first

    def waiting_for_permission(self) -> bool:
        """True while the chosen camera waits for the user's permission (told already)."""
        choice = self.choice
        return choice is not None and choice.kind is SourceKind.CAMERA and \
            self.permission.status() is not Access.GRANTED

    def _permission_pending(self, index: int | None) -> bool:
        """True while a camera must not be opened yet (macOS: no answer yet, or access is off); says
        so once. Asks first where the system wants it; ``index``: the camera wanted (None: any)."""
        if self.permission.status() is Access.GRANTED:
            return False
        if not self._camera_present(index):
            return False  # nothing to ask about: the usual "no webcam" path, and no prompt without a camera
        access = self.permission.request(on_answer=self._answered)
        if access is Access.PENDING:
            self.notify_once(WAITING_MESSAGE)
        elif access is Access.DENIED:
            self.notify_once(DENIED_MESSAGE)
        return access is not Access.GRANTED

    @staticmethod
    def _camera_present(index: int | None) -> bool:
        from .devices.cameras import list_devices

        devices = list_devices()  # names only: nothing is opened
        if devices is None:
            return True  # the system does not say
        return any(not d.virtual and (index is None or d.index == index) for d in devices)

    def _answered(self, access: Access) -> None:
        """The user answered the permission prompt (on AVFoundation's queue, not the main thread)."""
        if access is Access.GRANTED:
            self.on_allowed()  # the loop opens the camera at its next retry by itself
        else:
            self.notify_once(DENIED_MESSAGE)

    def _when_permitted(self, open_camera: Callable[[], FrameSource]) -> Callable[[], FrameSource]:
        """An opener that opens no camera until the user allowed it (OpenCV would fail and prompt again)."""

        def opener() -> FrameSource:
            access = self.permission.status()
            if access is Access.PENDING:
                raise SourceError(WAITING_REASON)
            if access is Access.DENIED:
                raise SourceError("camera access is off in System Settings")
            return open_camera()

        return opener

    def _named(self, choice: SourceChoice) -> tuple[Callable[[], FrameSource], FrameSource | None]:
        s = self.settings

        def opener():
            return open_source(choice.spec, s.width, s.height, s.fps, on_notice=self.notify_once)

        if choice.kind is SourceKind.CAMERA and self.permission.status() is not Access.GRANTED:
            refuse_virtual_camera(choice.index)  # a virtual camera will never do: say so before any prompt
            if self._permission_pending(choice.index):
                return self._when_permitted(opener), None
        try:
            return opener, opener()
        except SourceError as exc:
            if choice.kind is not SourceKind.CAMERA or isinstance(exc, VirtualCameraError):
                raise  # a missing or broken file, or a virtual camera, will not change: say so and stop
            self.notify(f"{exc}; retrying every 2 s")
            return opener, None

    def _automatic(self) -> tuple[SourceChoice, Callable[[], FrameSource], FrameSource | None]:
        s = self.settings
        chosen = s
        if s.camera >= 0:
            try:
                refuse_virtual_camera(s.camera)
            except VirtualCameraError as exc:
                self.notify(f"{exc}. Using the first real camera instead.")
                chosen = dataclasses.replace(s, camera=-1)
        wanted = chosen.camera if chosen.camera >= 0 else None
        if self._permission_pending(wanted):
            choice = SourceChoice(SourceKind.CAMERA, index=wanted, automatic=True)

            def open_camera() -> FrameSource:
                camera = first_camera(chosen)
                if camera is None:
                    raise SourceError("no webcam found")
                camera.on_notice = self.notify_once
                self.choice = dataclasses.replace(choice, index=camera.index)
                return camera

            return choice, self._when_permitted(open_camera), None
        first = first_camera(chosen)
        if first is None and wanted is None:
            self.notify("No webcam found: showing the built-in demo. Plug in a camera and pick it under Camera.")

            def demo() -> FrameSource:
                return DemoSource(s.width, s.height, s.fps)

            return SourceChoice(SourceKind.DEMO, automatic=True, note="no webcam found"), demo, demo()
        index = first.index if first is not None else wanted
        if first is not None:
            first.on_notice = self.notify_once

        def camera() -> FrameSource:
            return CameraSource(index, s.width, s.height, s.fps, on_notice=self.notify_once)

        return SourceChoice(SourceKind.CAMERA, index=index, automatic=True), camera, first


class Controller:
    """Owns the state. Menu handlers call its methods; the frame loop reads ``view`` every frame.

    Other parts hear about changes through callbacks they register: ``add_listener(fn)`` (state
    changed: redraw) and ``add_notice_listener(fn)`` (a message for the user). Both may be called on
    any thread (the camera probe, the frame loop, a dialog's answer): a UI posts them to its own thread."""

    def __init__(self, store: SettingsStore, settings: Settings | None = None, shades: ShadeBook | None = None,
                 notify: Callable[[str], None] | None = None, tracker_factory=None,
                 camera_permission: CameraPermission | None = None):
        self.store = store
        self.settings = settings or store.load()
        self.shades_file = store.folder / "shades.json"
        self._shades_signature = file_signature(self.shades_file)
        problems: list[str] = []
        self.shades = shades or ShadeBook.load(self.shades_file, problems)
        self.shade_problems: tuple[str, ...] = tuple(problems)  # what is wrong with shades.json, one line each
        self.tracker_factory = tracker_factory
        # The CLI passes CameraPermission() to ask on macOS; by default nothing is asked (tests, benchmarks).
        permission = camera_permission if camera_permission is not None else CameraPermission.unchecked()
        self.sources = SourcePicker(self.settings, permission, self.notify, self.notify_once,
                                    on_allowed=self._probe_cameras)
        self.runner: LoopRunner | None = None
        self.cameras: tuple[int, ...] = ()
        self.writes_sample_file = False
        self.quit_requested = threading.Event()
        self._listeners: list[Callable[[], None]] = []
        self._notice_listeners: list[Callable[[str], None]] = [notify] if notify is not None else []
        self._notices: set[str] = set()
        self._told_unavailable = False  # "is back" only follows an "unavailable"
        self._state_lock = threading.RLock()  # menu actions (UI thread) and a dialog's answer (a waiter) change state
        self._color_dialog = ChildDialog(ask_color, "colour dialog")
        self._told_ombre: str | None = None  # an unknown ombré shade is logged once
        self._check_shade()
        self.view = self._make_view()
        self.frame_tap = FrameTap()  # the palette's live thumbnail; costs nothing while nobody listens
        self.palette = PaletteHost(self)

    # -- who hears about changes ---------------------------------------------------------------
    def add_listener(self, listener: Callable[[], None]) -> None:
        """``listener()`` after every change of state, and on quit; called on the changing thread."""
        self._listeners.append(listener)

    def add_notice_listener(self, listener: Callable[[str], None]) -> None:
        """``listener(message)`` for every message to the user; called on the reporting thread."""
        self._notice_listeners.append(listener)

    def _tell_listeners(self) -> None:
        for listener in list(self._listeners):
            listener()

    def notify(self, message: str) -> None:
        """Tell the user ``message`` through every notice listener (logged when there is none)."""
        listeners = list(self._notice_listeners)
        if not listeners:
            log.warning("%s", message)
        for listener in listeners:
            listener(message)

    def notify_once(self, message: str) -> None:
        """Tell the user something only the first time it happens in this run (e.g. a slow camera)."""
        if message not in self._notices:
            self._notices.add(message)
            self.notify(message)

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

    def ombre(self) -> Shade | None:
        """The ombré shade from the settings; None when off or unknown to the shade book (logged once)."""
        name = self.settings.ombre
        if name is None:
            return None
        try:
            return self.shades.get(name)
        except ShadeError as exc:
            if self._told_ombre != name:
                self._told_ombre = name
                log.warning("ombré shade: %s; ombré is off", exc)
            return None

    def ombre_match(self) -> Shade:
        """The matching lighter shade for ombré with the current shade (the tray's choice)."""
        return self.shades.lighter_match(self.shade())

    def _make_view(self) -> View:
        s = self.settings
        look = Look(self.shade(), self.finish(), s.intensity / 100.0, s.liner, ombre=self.ombre())
        return View(look, s.enabled, s.compare, s.mirror)

    def reload_shades(self) -> bool:
        """Read ``shades.json`` again if it changed since it was read; True if it did. A broken file
        leaves the built-in shades, and ``shade_problems`` names each bad entry. The shade in use
        stays even if it is gone from the file, until the user picks another."""
        signature = file_signature(self.shades_file)
        if signature == self._shades_signature:
            return False
        problems: list[str] = []
        book = ShadeBook.load(self.shades_file, problems)
        with self._state_lock:
            self._shades_signature = signature
            current = self.shade()
            try:
                book.get(self.settings.shade)
            except ShadeError:
                book = ShadeBook([*book, current])
            self.shades, self.shade_problems = book, tuple(problems)
        log.info("shades reloaded from %s (%d shades, %d problem(s))", self.shades_file, len(book), len(problems))
        self._changed()
        return True

    def _changed(self) -> None:
        with self._state_lock:
            self.view = self._make_view()  # one reference swap: the worker sees old or new, never half
            try:
                self.store.save(self.settings)
            except OSError as exc:
                log.warning("cannot save settings: %s", exc)
        self._tell_listeners()

    @property
    def sink(self) -> OutputSink | None:
        return self.runner.sink if self.runner is not None else None

    @property
    def pipeline(self) -> LipstickPipeline | None:
        return self.runner.pipeline if self.runner is not None else None

    @property
    def loop(self) -> FrameLoop | None:
        return self.runner.loop if self.runner is not None else None

    @property
    def source(self) -> SourceChoice | None:
        """The source in use (None before ``start``)."""
        return self.sources.choice

    @property
    def source_label(self) -> str:
        return self.source.label if self.source is not None else ""

    def menu_state(self) -> MenuState:
        families = {family: [s.name for s in shades] for family, shades in self.shades.families().items()}
        ombre = self.ombre()
        return MenuState(self.settings.enabled, self.shade().name, self.finish().value, self.settings.intensity,
                         self.settings.compare, self.settings.mirror, self.settings.show_preview,
                         self.settings.start_at_login, self.settings.camera, self.cameras, families,
                         ombre.name if ombre is not None else None, self.ombre_match().name)

    def menu(self):
        return build_menu(self.menu_state(), self)

    def tooltip(self) -> str:
        device = self.sink.name if self.sink else "not started"
        state = "" if self.settings.enabled else " (off)"
        return f"Lipstick Cam: {self.shade().name}, {self.finish().value}{state} -> {device}"[:127]

    # -- menu actions ------------------------------------------------------------------------
    def toggle_enabled(self) -> None:
        with self._state_lock:
            self.settings.enabled = not self.settings.enabled
        self._changed()

    def set_shade(self, name: str) -> None:
        with self._state_lock:
            shade = self.shades.get(name)
            follows = self._ombre_is_the_match()
            self.settings.shade = shade.name if shade.family != "custom" else shade.hex
            self.settings.finish = ""  # the shade's own finish until the user picks another
            if follows:
                self.settings.ombre = self.ombre_match().name
        self._changed()

    def set_custom_color(self, hex_color: str) -> None:
        with self._state_lock:
            follows = self._ombre_is_the_match()
            self.settings.shade = Shade.custom(hex_color).hex
            if follows:
                self.settings.ombre = self.ombre_match().name
        self._changed()

    def _ombre_is_the_match(self) -> bool:
        """True when the ombré is the current shade's matching lighter one: it follows a change of shade."""
        ombre = self.settings.ombre
        return ombre is not None and ombre.casefold() == self.ombre_match().name.casefold()

    def set_ombre(self, name: str | None) -> None:
        """Ombré with shade ``name`` (a name or #RRGGBB), or off with None; ShadeError if unknown."""
        with self._state_lock:
            self.settings.ombre = None if name is None else self.shades.get(name).name
        self._changed()

    def set_ombre_match(self) -> None:
        """Ombré with the matching lighter shade (the tray's choice)."""
        self.set_ombre(self.ombre_match().name)

    def open_palette(self) -> None:
        """Open the shade palette (a window in a child process), or bring it to the front."""
        self.palette.open()

    def ask_custom_color(self) -> None:
        """Ask for a colour with a dialog in a child process; the answer arrives later (a waiter thread)."""
        if not self._color_dialog.open((self.shade().hex,), self._color_chosen, self.notify):
            log.info("the colour dialog is already open or cannot open")

    def _color_chosen(self, color) -> None:
        if color:
            try:
                self.set_custom_color(color)
            except ShadeError as exc:
                self.notify(str(exc))

    def set_finish(self, finish: str) -> None:
        with self._state_lock:
            self.settings.finish = parse_finish(finish).value
        self._changed()

    def set_intensity(self, percent: int) -> None:
        if not 0 <= int(percent) <= 100:
            raise ShadeError(f"intensity {percent} is outside 0-100")
        with self._state_lock:
            self.settings.intensity = int(percent)
        self._changed()

    def toggle_compare(self) -> None:
        with self._state_lock:
            self.settings.compare = not self.settings.compare
        self._changed()

    def toggle_mirror(self) -> None:
        with self._state_lock:
            self.settings.mirror = not self.settings.mirror
        self._changed()

    def toggle_preview(self) -> None:
        with self._state_lock:
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
        with self._state_lock:
            self.settings.start_at_login = want
        self._changed()

    def set_camera(self, index: int) -> None:
        with self._state_lock:
            self.settings.camera = int(index)
        self._changed()
        if self.runner is not None:
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
        self._tell_listeners()

    def open_source_factory(self, source_spec: str | None):
        """(opener, first) for ``source_spec`` (see ``SourcePicker.pick``); ``source`` says what was chosen."""
        return self.sources.pick(source_spec)

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

    def _view(self) -> View:
        return self.view

    def start(self, source_spec: str | None = None, sink_spec: str | None = None, max_frames: int | None = None,
              backend: str | None = None) -> FrameLoop:
        """Open the source and the output and start the frame loop. Call on the main thread: on macOS
        it asks for camera permission, and the system prompt must come from there."""
        install_thread_excepthook()
        pipeline = self.build_pipeline()
        opener, first = self.open_source_factory(source_spec)
        # Publish at the source's own size and rate, so frames need no resizing on the hot path.
        s = self.settings
        frame_format = (first.width, first.height, first.fps) if first is not None else (s.width, s.height, s.fps)
        try:
            primary, reopen, self.writes_sample_file = open_output(sink_spec, frame_format, self.notify, backend)
        except BaseException:
            if first is not None:
                first.close()
            raise
        if self.writes_sample_file and max_frames is None:
            max_frames = round(frame_format[2] * SAMPLE_SECONDS)  # a fallback file is a sample, not a recording
        sink = OutputSink(primary, reopen=reopen, notify=self.notify)
        sink.want_preview(self.settings.show_preview)
        self.runner = LoopRunner(sink, pipeline, self._view, frame_format, max_frames, on_status=self._on_status,
                                 build_pipeline=self.build_pipeline, tap=self.frame_tap)
        loop = self.runner.start(opener, self.source.kind.value)
        self._probe_cameras()
        return loop

    def _probe_cameras(self) -> None:
        threading.Thread(target=self.refresh_cameras, name="camera-probe", daemon=True).start()

    def restart_loop(self) -> None:
        """Reopen the source (a different camera) keeping the sink and the model."""
        if self.runner is None:
            return
        opener = None
        if self.source is not None and self.source.automatic:
            opener, _ = self.open_source_factory(None)
        self.runner.restart(opener, self.source.kind.value)

    def refresh_cameras(self) -> None:
        """Fill the Camera menu: the camera in use plus every other one that delivers frames."""
        if self.sources.permission.status() is not Access.GRANTED:
            return  # probing would make OpenCV prompt from this thread; the user's yes starts a probe
        from .devices.sources import list_cameras

        source = self.source
        in_use = (source.index,) if source is not None and source.kind is SourceKind.CAMERA and \
            source.index is not None else ()
        try:
            others = list_cameras(4, skip=in_use)
        except Exception:  # a driver crash while probing must not take the app down
            log.exception("camera probe failed")
            others = []
        self.cameras = tuple(sorted(set(in_use) | set(others)))
        self._tell_listeners()

    def _on_status(self, status: str) -> None:
        """The frame loop's status changes (on its threads): told to the user in the source's words."""
        kind = self.source.kind.value if self.source is not None else SourceKind.CAMERA.value
        if status.startswith("source unavailable"):
            reason = status.partition(": ")[2]
            # The permission notice already said why. The reason counts too: the user may have said yes
            # between the loop's failed open and this call, and then no "unavailable" (or "is back") is due.
            if reason == WAITING_REASON or self.sources.waiting_for_permission():
                return
            detail = f" ({reason})" if kind != SourceKind.CAMERA.value and reason else ""
            self._told_unavailable = True
            self.notify(f"{kind} unavailable{detail} - retrying every 2 s. The meeting sees a placeholder meanwhile.")
        elif status == "running" and self._told_unavailable:
            self._told_unavailable = False
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

        summary = (self.runner.stats if self.runner is not None else LoopStats()).summary()
        path = Path(os.path.realpath(path))  # through a symbolic link, not over it
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            tmp.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def stop(self) -> None:
        """Close the palette and stop the loop; safe to call twice."""
        self.palette.close()
        if self.runner is not None:
            self.runner.stop()
