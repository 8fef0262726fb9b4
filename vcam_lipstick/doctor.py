"""`vcam-lipstick doctor`: what works on this machine, and exactly what to install for what doesn't."""

from __future__ import annotations

import glob
import os
import platform
import sys
from pathlib import Path

LINUX_V4L2 = """\
Install the v4l2loopback kernel module (Debian/Ubuntu; Fedora: akmod-v4l2loopback):
    sudo apt install v4l2loopback-dkms v4l2loopback-utils
Load it now, as one camera named "Lipstick Cam" that browsers and Zoom accept (exclusive_caps=1):
    sudo modprobe v4l2loopback devices=1 video_nr=10 card_label="Lipstick Cam" exclusive_caps=1
Load it at every boot:
    echo v4l2loopback | sudo tee /etc/modules-load.d/v4l2loopback.conf
    echo 'options v4l2loopback devices=1 video_nr=10 card_label="Lipstick Cam" exclusive_caps=1' \\
        | sudo tee /etc/modprobe.d/v4l2loopback.conf
(or run installer/linux/install.sh, which does all of this)."""

OBS_HELP = """\
Install OBS Studio 30 or newer (https://obsproject.com); it ships the "OBS Virtual Camera" driver.
{extra}Then start vcam-lipstick and choose "OBS Virtual Camera" as the camera in Zoom, Teams, Meet or OBS."""

WINDOWS_EXTRA = "Run OBS once and click Start Virtual Camera, then Stop (this registers the driver).\n"
MAC_EXTRA = ("Run OBS once, click Start Virtual Camera and allow the system extension in System Settings > "
             "Privacy & Security; then stop it in OBS.\n")


def _loopback_devices() -> list[str]:
    names = []
    for name_file in glob.glob("/sys/devices/virtual/video4linux/video*/name"):
        try:
            label = Path(name_file).read_text().strip()
        except OSError:
            continue
        names.append(f"/dev/{Path(name_file).parent.name} ({label})")
    return names


def _virtual_camera_check() -> tuple[bool, str]:
    try:
        import pyvirtualcam
    except ImportError:
        return False, "pyvirtualcam is not installed: pip install pyvirtualcam"
    device = None
    if sys.platform.startswith("linux"):  # the device the app will use: ours, not OBS's
        from .devices.cameras import find_loopback_device
        from .devices.sinks import VIRTUAL_CAMERA_LABEL

        device = find_loopback_device(VIRTUAL_CAMERA_LABEL)
    try:
        with pyvirtualcam.Camera(640, 480, 30, fmt=pyvirtualcam.PixelFormat.BGR, device=device) as cam:
            return True, f"{cam.device} ({cam.backend})"
    except Exception as exc:
        return False, str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__


def virtual_camera_help(os_name: str | None = None) -> str:
    os_name = os_name or sys.platform
    if os_name.startswith("linux"):
        return LINUX_V4L2
    if os_name.startswith("win"):
        return OBS_HELP.format(extra=WINDOWS_EXTRA)
    return OBS_HELP.format(extra=MAC_EXTRA)


def run_doctor(out=print, probe_cameras: bool = True) -> int:
    """Print a report; returns 0 when the app can run fully, 1 otherwise."""
    from . import __version__

    ok_all = True
    out(f"vcam-lipstick {__version__} on {platform.system()} {platform.release()}, Python {platform.python_version()}")

    try:
        import onnxruntime

        out(f"[ok] onnxruntime {onnxruntime.__version__}")
    except ImportError as exc:
        ok_all = False
        out(f"[!!] onnxruntime missing ({exc}): pip install onnxruntime")

    try:
        from .model.bundle import DETECTOR_SPEC, LIPS_SPEC, shipped_spec

        for name in (DETECTOR_SPEC, LIPS_SPEC):
            spec, path = shipped_spec(name)
            out(f"[ok] model {spec.name}: {path.stat().st_size / 1e6:.2f} MB, sha256 verified")
    except Exception as exc:
        ok_all = False
        out(f"[!!] model problem: {exc}. Reinstall vcam-lipstick; the app passes video through until fixed.")

    if probe_cameras:
        from .devices.cameras import list_devices
        from .devices.sources import list_cameras

        devices = list_devices()
        names = {d.index: d.name for d in devices or []}
        cameras = list_cameras(4)
        if cameras:
            out("[ok] webcams: " + ", ".join(f"camera {i}" + (f" ({names[i]})" if i in names else "") for i in cameras))
        else:
            out("[--] no webcam delivers frames (missing, or busy in another app); the app uses its demo source")
        virtual = [f"camera {d.index} ({d.name})" for d in devices or [] if d.virtual]
        if virtual:
            out("[--] virtual cameras, never used as the source: " + ", ".join(virtual))
        if devices is None:
            out("[--] camera names unavailable here (cv2-enumerate-cameras); cameras are probed by index")

    ok, detail = _virtual_camera_check()
    if ok:
        out(f"[ok] virtual camera: {detail}")
    else:
        ok_all = False
        out(f"[!!] no virtual camera driver: {detail}")
        if sys.platform.startswith("linux"):
            devices = _loopback_devices()
            if devices:
                out("     video devices present: " + ", ".join(devices))
        out("     To publish 'Lipstick Cam' to Zoom/Teams/Meet/OBS:")
        for line in virtual_camera_help().splitlines():
            out("     " + line)
        out("     Until then the app offers preview-only mode (a window or a video file).")
    out("     Note: the virtual camera needs an even frame width (the app drops one column if needed).")

    from .devices.sinks import display_available

    if display_available():
        out("[ok] display available for the tray and the preview window")
    else:
        out("[--] no display: the app runs without a tray icon (the camera and virtual camera still work)")
    if sys.platform.startswith("linux") and display_available():
        from .tray import pick_linux_backend

        backend = os.environ.get("PYSTRAY_BACKEND") or pick_linux_backend() or "xorg"
        if backend == "appindicator":
            out("[ok] tray: AppIndicator icon with its menu")
        elif backend == "gtk":
            out("[ok] tray: GTK status icon with its menu (an X11 system tray is running)")
        else:
            out("[--] tray: an icon without a menu; a control window opens with the same controls. For the menu:")
            out("     sudo apt install python3-gi gir1.2-ayatanaappindicator3-0.1   # then a venv made with")
            out("     python3 -m venv --system-site-packages .venv")
    return 0 if ok_all else 1
