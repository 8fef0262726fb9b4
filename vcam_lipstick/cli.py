"""Command line: thin over the library. Heavy imports happen inside the commands."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from pathlib import Path

from . import __version__
from .argtypes import bounded, parse_size
from .settings import LIMITS

EXIT_USAGE = 2


class CliError(Exception):
    """A user mistake or an unusable device: print one line, exit with ``code``."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


class ArgumentParser(argparse.ArgumentParser):
    """A usage mistake is one line (the README promises it), not argparse's usage block; exit 2."""

    def error(self, message: str):
        message = message.removeprefix("argument ")
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _intensity(text: str) -> int:
    low, high = LIMITS["intensity"]
    try:
        value = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"intensity must be a number from {low} to {high}, not '{text}'") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"intensity must be from {low} to {high}, not {text}")
    return int(round(value))


_threads = bounded(int, *LIMITS["threads"], "threads")
_fps = bounded(int, *LIMITS["fps"], "fps")
_positive = bounded(int, 1, what="a count")


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="vcam-lipstick",
                       description="Realistic lipstick on your webcam, as the virtual camera 'Lipstick Cam'. "
                                   "With no command: start the tray app.")
    p.add_argument("--version", action="version", version=f"vcam-lipstick {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run the camera loop (the tray app, or headless with --no-tray)")
    run.add_argument("--no-tray", action="store_true", help="no tray icon: run until Ctrl+C or --frames")
    run.add_argument("--source", default=None, help="camera index, video FILE, or 'demo' (default: webcam, else demo)")
    run.add_argument("--sink", default=None, help="'virtual', 'window', 'null' or FILE.mp4 (default: virtual camera)")
    run.add_argument("--frames", type=_positive, default=None, help="stop after N output frames")
    run.add_argument("--shade", help="shade name or #RRGGBB (saved as the current shade)")
    run.add_argument("--size", type=parse_size, default=None, help="frame size, e.g. 1280x720")
    run.add_argument("--fps", type=_fps, default=None, help="frames per second (%d to %d)" % LIMITS["fps"])
    run.add_argument("--all-faces", action="store_true", help="lipstick on every face, not only the largest")
    run.add_argument("--stats", type=Path, default=None, metavar="FILE.json",
                     help="on exit, write frame counts, capture-to-publish latency, CPU and memory as JSON")

    seg = sub.add_parser("segment", help="write lip label maps for images (0 bg, 1 upper, 2 lower, 3 inner mouth)")
    seg.add_argument("inputs", nargs="+", type=Path, metavar="INPUT")
    seg.add_argument("--out", required=True, type=Path, metavar="DIR")
    seg.add_argument("--all-faces", action="store_true", help="every face, not only the largest")

    ev = sub.add_parser("eval", help="score the full-frame path on a labelled folder (images/, masks/)")
    ev.add_argument("--data", required=True, type=Path, metavar="DIR")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument("--report", type=Path, metavar="DIR", help="write a contact sheet of the worst cases")

    sy = sub.add_parser("synth", help="make webcam-like 1280x720 test frames from a labelled folder")
    sy.add_argument("--data", required=True, type=Path, metavar="DIR", help="labelled folder, e.g. .../lips/val")
    sy.add_argument("--out", required=True, type=Path, metavar="DIR")
    sy.add_argument("--count", type=_positive, default=None)
    sy.add_argument("--seed", type=bounded(int, 0, what="seed"), default=0)
    sy.add_argument("--occlude", action="store_true",
                    help="a finger, hand, microphone, cup, pen, phone, hair or object over each mouth; "
                         "masks keep the visible lips, occluders/ marks the occluder")
    sy.add_argument("--aligned", action="store_true", help="keep the source faces as they are (no webcam scene)")

    be = sub.add_parser("bench", help="per-stage milliseconds and fps, beside the original study's recipe")
    be.add_argument("--video", type=Path, help="video FILE (default: the built-in demo)")
    be.add_argument("--size", type=parse_size, default=(1280, 720))
    be.add_argument("--threads", type=_threads, default=1)
    # the first frame acquires the face; tracking is timed from the second
    be.add_argument("--frames", type=bounded(int, 2, what="frames"), default=150)
    be.add_argument("--no-baseline", action="store_true", help="skip the study-recipe baseline")
    be.add_argument("--json", action="store_true")

    pr = sub.add_parser("process", help="put lipstick on photos and videos")
    pr.add_argument("inputs", nargs="+", type=Path, metavar="INPUT")
    pr.add_argument("-o", "--output", required=True, type=Path, metavar="OUTPUT",
                    help="output file, or a folder when there are several inputs")
    pr.add_argument("--shade", default="Classic Red", help="shade name or #RRGGBB (see 'shades')")
    pr.add_argument("--finish", default=None, help="matte, satin, gloss or shimmer (default: the shade's)")
    pr.add_argument("--intensity", type=_intensity, default=85, help="0-100 (default 85)")
    pr.add_argument("--liner", action="store_true", help="a slightly deeper lip edge")
    pr.add_argument("--ombre", default=None, metavar="NAME|#RRGGBB",
                    help="ombré: a second shade for the middle of the lips, blended in from the lip line")
    pr.add_argument("--compare", action="store_true", help="before/after split")
    pr.add_argument("--all-faces", action="store_true", help="every face, not only the largest")

    sh = sub.add_parser("shades", help="list the shades with colour swatches")
    sh.add_argument("--json", action="store_true", help="print a JSON list of {name, family, color, finish}")
    sh.add_argument("--sheet", type=Path, default=None, metavar="FILE.png",
                    help="draw every shade as a labelled swatch, grouped by family, into one picture")
    sub.add_parser("palette", help="open the shade palette; with no app running it changes the stored shade "
                                   "(with the app running, use Shades… in its tray)")
    doc = sub.add_parser("doctor", help="check the webcam, virtual camera driver and models; say what to install")
    doc.add_argument("--no-camera-probe", action="store_true")
    for command in sub.choices.values():  # -v after the command too; SUPPRESS keeps a -v given before it
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log debug details")
    return p


def _data_hint(path: Path) -> str:
    if path.exists():
        return f"{path}: not a folder (give a folder with images/ and masks/)"
    return f"{path}: no such folder" + (" (set the path to ../shared/data/lips/val or similar)" if "shared" in str(path) else "")


def cmd_shades(args) -> int:
    from .processing.shades import ShadeBook
    from .settings import config_dir

    book = ShadeBook.load(config_dir() / "shades.json")
    families = book.families()
    if args.sheet is not None:
        from .media import check_output
        from .swatches import write_sheet

        check_output(args.sheet, [])  # a folder that cannot be made or written: one line, exit 1
        try:
            write_sheet(args.sheet, families)  # an existing file is replaced, as 'process' does
        except ValueError as exc:
            raise CliError(str(exc)) from None
        except OSError as exc:
            raise CliError(f"{args.sheet}: cannot write ({exc.strerror or exc})") from None
        print(f"wrote {args.sheet} ({len(book)} shades)", file=sys.stderr)
    if args.json:
        print(json.dumps([{"name": s.name, "family": s.family, "color": s.hex, "finish": s.finish.value}
                          for shades in families.values() for s in shades], indent=1, ensure_ascii=False))
    if args.sheet is not None or args.json:
        return 0
    color = sys.stdout.isatty() and os.environ.get("NO_COLOR") is None
    for family, shades in families.items():
        print(family.capitalize())
        for s in shades:
            swatch = f"\x1b[48;2;{s.rgb[0]};{s.rgb[1]};{s.rgb[2]}m      \x1b[0m" if color else "[" + s.hex + "]"
            print(f"  {swatch} {s.name:<16} {s.hex}  {s.finish.value}")
    print(f"\nCustom shades: add them to {config_dir() / 'shades.json'} as "
          '{"shades": [{"name": "My Red", "family": "reds", "color": "#B01020", "finish": "matte"}]}')
    return 0


def _look(args):
    from .processing.shades import Look, ShadeBook, ShadeError, parse_finish
    from .settings import config_dir

    book = ShadeBook.load(config_dir() / "shades.json")
    shade = book.get(args.shade)
    finish = parse_finish(args.finish) if args.finish else shade.finish
    ombre = None
    if getattr(args, "ombre", None) is not None:
        try:
            ombre = book.get(args.ombre)
        except ShadeError as exc:
            raise ShadeError(f"--ombre: {exc}") from None
    return Look(shade, finish, args.intensity / 100.0, args.liner, ombre)


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM unwinds like Ctrl+C, so half-written outputs are removed; the old handler comes back after."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError):  # not in the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cmd_process(args) -> int:
    from .batch import process_files
    from .model.bundle import load_tracker
    from .pipeline import LipstickPipeline, View

    view = View(_look(args), compare=args.compare)  # bad shade/finish: exit 2 before loading anything
    pipeline = LipstickPipeline(load_tracker(all_faces=args.all_faces))
    with _sigterm_as_interrupt():
        result = process_files(pipeline, args.inputs, args.output, view, report=lambda m: print(m, file=sys.stderr))
    return 1 if result.failed else 0


def cmd_segment(args) -> int:
    from .batch import segment_files
    from .model.bundle import load_tracker

    tracker = load_tracker(all_faces=args.all_faces)
    with _sigterm_as_interrupt():
        result = segment_files(tracker, args.inputs, args.out, report=lambda m: print(m, file=sys.stderr))
    print(f"segmented {result.done} image(s) into {args.out}" + (f", {result.failed} failed" if result.failed else ""),
          file=sys.stderr)
    return 1 if result.failed else 0


def _output_folder(folder: Path, data: Path, what: str) -> None:
    """Create ``folder`` for ``what`` a command writes; never inside the data set it reads."""
    from .media import resolved

    out, source = resolved(folder), resolved(data)
    if out == source or source in out.parents:
        raise CliError(f"{folder}: is inside the data folder {data}; {what} would mix with its images")
    if out.exists() and not out.is_dir():
        raise CliError(f"{folder}: is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"{folder}: cannot create the folder ({exc.strerror or exc})") from None


def cmd_eval(args) -> int:
    from .evaluation.evaluate import evaluate_folder
    from .model.bundle import load_tracker

    if not args.data.is_dir():
        raise CliError(_data_hint(args.data))
    if args.report is not None:
        _output_folder(args.report, args.data, "the report")
    summary = evaluate_folder(load_tracker(), args.data, report=args.report, progress=not args.json)
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{summary['images']} images from {args.data}")
        print(f"union-lip IoU  mean {summary['lip_iou_mean']:.4f}   pooled {summary['lip_iou_pooled']:.4f}")
        for key in ("upper", "lower", "inner"):
            print(f"{key:<6} IoU     mean {summary[key + '_iou_mean']:.4f}   pooled {summary[key + '_iou_pooled']:.4f}")
        print(f"lip recall     mean {summary['recall_mean']:.4f}   pooled {summary['recall_pooled']:.4f}")
        print("F1 (pooled)    " + "   ".join(f"{key} {summary[key + '_f1_pooled']:.4f}" for key in ("lip", "upper", "lower", "inner")))
        if "painted_on_occluder" in summary:
            print(f"occluders      painted {100 * summary['painted_on_occluder']:.1f}% (pooled)   "
                  f"visible-lip IoU {summary['visible_lip_iou']:.4f}")
        if "tone" in summary:
            tone = summary["tone"]
            print("skin tone      union IoU darkest/middle/lightest third "
                  + " / ".join(f"{v:.4f}" for v in tone["lip_iou_by_tercile"]) + f"   spread {tone['spread']:.4f}")
        print(f"ms per image   median {summary['ms_per_image_median']:.1f}")
        if "report" in summary:
            print(f"worst cases: {summary['report']}")
    return 0


def cmd_synth(args) -> int:
    from .evaluation.synth import make_webcam_set

    if not args.data.is_dir():
        raise CliError(_data_hint(args.data))
    _output_folder(args.out, args.data, "the new images")
    n = make_webcam_set(args.data, args.out, args.count, args.seed, occlude=args.occlude, aligned=args.aligned)
    kind = "aligned faces" if args.aligned else "webcam-like frames"
    print(f"wrote {n} {kind}{' with occluders' if args.occlude else ''} to {args.out}")
    return 0


def cmd_bench(args) -> int:
    from .evaluation.bench import bench_frames, run_bench
    from .model.bundle import load_tracker

    tracker = load_tracker(threads=args.threads)
    frames = bench_frames(args.video, args.size, args.frames)
    baselines = []
    if not args.no_baseline:
        try:
            from .evaluation.baseline import ARCHITECTURES, StudyBaseline
            from .settings import cache_dir

            cache = cache_dir()
            baselines = [StudyBaseline(tracker.detector, cache / f"{name}_256.onnx", threads=args.threads,
                                       architecture=name) for name in ARCHITECTURES]
        except ImportError:
            print("note: the baselines need the 'onnx' package (pip install onnx); skipped", file=sys.stderr)
    result = run_bench(tracker, frames, baselines)
    result["threads"] = args.threads
    result["source"] = str(args.video) if args.video else "demo"
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['frames']} frames at {result['size']} from {result['source']}, {args.threads} thread(s)")
    print(f"tracking   {result['ms_per_frame']:.2f} ms/frame median (p90 {result['ms_per_frame_p90']:.2f}), "
          f"{result['fps']:.0f} fps")
    print(f"  track {result['track_ms']:.2f} | infer {result['infer_ms']:.2f} | paste {result['paste_ms']:.2f} ms")
    print(f"acquire    {result['acquire_ms']:.2f} ms (detector {result['detector_ms']:.2f} ms)")
    print(f"lips found in {result['frames_with_lips']}/{result['frames']} frames")
    if "baseline_ms_per_frame" in result:
        print(f"baseline   {result['baseline_ms_per_frame']:.1f} ms/frame ({result['baseline']}), "
              f"speedup {result['speedup']:.0f}x")
        print(f"scratch    {result['scratch_unet_ms_per_frame']:.1f} ms/frame (the study's scratch UNet at 256)")
    return 0


def cmd_doctor(args) -> int:
    from .doctor import run_doctor

    return run_doctor(probe_cameras=not args.no_camera_probe)


def cmd_palette(args) -> int:
    """The palette against the settings file; a running app is told about, not joined (no channel into it)."""
    from .palette import discard_spare, prestart, run_standalone
    from .settings import SettingsStore, log_dir
    from .system import AlreadyRunning, SingleInstance, setup_logging

    # devices.sinks.display_available's test, without importing numpy before the window's process starts
    has_display = sys.platform.startswith(("win", "darwin")) or os.environ.get("DISPLAY") or \
        os.environ.get("WAYLAND_DISPLAY")
    if not has_display:
        raise CliError("no display for the palette window (DISPLAY is not set)")
    setup_logging(log_dir(), args.verbose, console=False)  # the window names problems with shades.json itself
    store = SettingsStore()
    try:
        lock = SingleInstance(store.folder, mode="palette").acquire()  # one writer of the settings at a time
    except AlreadyRunning as exc:
        if "palette" in str(exc):
            raise CliError("the shade palette is already open") from None
        raise CliError("vcam-lipstick is already running: open the palette from its tray menu (Shades…) "
                       "or its controls window") from None
    try:
        prestart()  # the window's process starts Tk while this one imports the app (numpy, OpenCV)
        from .app import Controller

        controller = Controller(store, notify=lambda message: None)  # the window and the exit line say it all
        error = run_standalone(controller)
    finally:
        discard_spare()
        lock.release()
    if error:
        raise CliError(f"the palette cannot open: {error}")
    return 0


def cmd_run(args) -> int:
    from .app import Controller
    from .camera_permission import CameraPermission
    from .devices.sinks import display_available
    from .settings import SettingsStore, log_dir
    from .system import SingleInstance, setup_logging, share_the_cpu

    check_run_files(args.source, args.sink, args.stats)
    setup_logging(log_dir(), args.verbose)
    share_the_cpu()
    store = SettingsStore()
    # The lock comes first: a refused second instance must not load, change or save anything.
    mode = "headless" if args.no_tray or not display_available() else "tray"
    with SingleInstance(store.folder, mode=mode):
        controller = Controller(store, notify=lambda m: print(m, file=sys.stderr), camera_permission=CameraPermission())
        if args.shade is not None:  # "" too: an empty name is a mistake to report, not to ignore
            controller.set_shade(args.shade)
        if args.size:
            controller.settings.width, controller.settings.height = args.size
        if args.fps:
            controller.settings.fps = args.fps
        if args.all_faces:
            controller.settings.all_faces = True
        if args.no_tray:
            return run_headless(controller, args.source, args.sink, args.frames, args.stats)
        return run_tray(controller, args.source, args.sink, args.frames, args.stats)


def _install_signal_handlers(stop) -> None:
    def handler(signum, frame):
        stop()

    # SIGHUP: the terminal closed; stop as cleanly as on Ctrl+C (no half-written video left behind)
    for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is None:  # Windows has no SIGHUP
            continue
        try:
            signal.signal(sig, handler)
        except (ValueError, OSError):  # not in the main thread
            pass


def check_run_files(source: str | None, sink: str | None, stats: Path | None) -> None:
    """Before anything opens: a run must not write its video or its stats over its own source, its
    stats over its video, or either onto a folder, a device or a pipe (found after a long run, or never)."""
    from .devices.sinks import SINK_NAMES
    from .media import check_output, resolved

    source_file = [Path(source)] if source and Path(source).is_file() else []
    sink_file = Path(sink) if sink and sink not in SINK_NAMES else None
    if sink_file is not None:
        check_output(sink_file, source_file)
    if stats is None:
        return
    check_output(stats, source_file)
    if sink_file is not None and resolved(stats) == resolved(sink_file):
        raise CliError(f"{stats}: the stats and the video would be the same file; choose another name")


def _write_stats(controller, path: Path | None) -> None:
    if path is not None:
        try:
            controller.write_stats(path)
        except OSError as exc:
            raise CliError(f"{path}: cannot write the stats ({exc.strerror or exc})") from None


def run_headless(controller, source, sink, frames, stats: Path | None = None) -> int:
    loop = controller.start(source, sink, frames)
    _install_signal_handlers(controller.quit)
    announced = False
    try:
        while not controller.quit_requested.is_set() and not loop.wait(0.02):
            if not announced and loop.stats.first_frame_at is not None:
                print("first frame sent", file=sys.stderr, flush=True)  # benchmarks time startup by this line
                announced = True
    finally:
        controller.stop()
        _write_stats(controller, stats)
    if loop.error is not None:
        raise CliError(f"the frame loop stopped: {loop.error}")
    if controller.sink.failure is not None:
        raise CliError(controller.sink.failure)
    print(f"{loop.stats.frames_out} frames to {controller.sink.name}", file=sys.stderr)
    return 0


def run_tray(controller, source, sink, frames, stats: Path | None = None) -> int:
    from .devices.sinks import display_available

    if not display_available():
        # No screen for a tray: the camera still works; without a driver either, a short preview file shows the effect.
        print("No display: running without a tray icon (Ctrl+C stops it)", file=sys.stderr)
        return run_headless(controller, source, sink, frames, stats)
    try:
        from .tray import Tray

        tray = Tray(controller)
    except Exception as exc:
        raise CliError(f"cannot create a tray icon here ({exc}); use 'vcam-lipstick run --no-tray'") from None
    controller.start(source, sink, frames)
    _install_signal_handlers(controller.quit)
    try:
        tray.run()  # on the main thread; where the tray has no menu, the controls open in a window of their own
    finally:
        controller.stop()
        _write_stats(controller, stats)
    return 0


COMMANDS = {"shades": cmd_shades, "process": cmd_process, "segment": cmd_segment, "eval": cmd_eval,
            "synth": cmd_synth, "bench": cmd_bench, "doctor": cmd_doctor, "run": cmd_run, "palette": cmd_palette}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.command is None:  # no command: the tray app, keeping the top-level options (-v)
        args = parser.parse_args([*argv, "run"])
    from .devices.sinks import SinkError
    from .devices.sources import SourceError
    from .media import MediaError
    from .model.spec import ModelError
    from .processing.shades import ShadeError
    from .system import LockError, quiet_opencv

    if not getattr(args, "verbose", False):
        quiet_opencv()
    try:
        return COMMANDS[args.command](args)
    except ShadeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except (MediaError, ModelError, SourceError, SinkError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except LockError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a reader that stopped (`... | head`): not an error
        # Python would complain again when it flushes stdout at exit; point stdout at nowhere first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
