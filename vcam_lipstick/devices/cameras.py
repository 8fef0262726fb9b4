"""Which cameras exist, by name, and which of them are virtual (ours, OBS's, any v4l2loopback device).

A virtual camera must never be the source: reading "Lipstick Cam" (or OBS's camera fed from it)
feeds our own output back in. Names come from ``cv2-enumerate-cameras`` (DirectShow on Windows,
AVFoundation on macOS, V4L2 on Linux), with the same indices OpenCV opens; on Linux sysfs also
tells a loopback device from a real one whatever its label. Where names cannot be read, callers
fall back to probing indices and only the Linux check applies.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: Where Linux describes its video devices; a parameter everywhere so tests can use a fake tree.
SYSFS_ROOT = Path("/sys")

#: Lower-case fragments of the names virtual camera drivers give their devices.
VIRTUAL_NAME_PARTS = (
    "lipstick cam",  # ours (the card label the installer and doctor give v4l2loopback)
    "obs virtual camera", "obs-camera", "obs cam",  # OBS on Windows/macOS, OBS's v4l2loopback label
    "virtual camera", "virtual cam", "virtualcam", "vcam",  # XSplit VCam, NVIDIA Broadcast's, generic names
    "v4l2loopback", "dummy video device",  # v4l2loopback's own default labels
    "snap camera", "manycam", "unity video capture", "e2esoft",
)


@dataclass(frozen=True)
class CameraDevice:
    """A camera OpenCV can open by ``index``; ``virtual`` marks a virtual camera (never a source)."""

    index: int
    name: str
    virtual: bool = False


def is_virtual_name(name: str) -> bool:
    """True for names virtual camera drivers use ("OBS Virtual Camera", "Lipstick Cam", ...)."""
    lowered = name.lower()
    return any(part in lowered for part in VIRTUAL_NAME_PARTS)


def _video4linux(sysfs_root: Path | None) -> Path:
    return Path(sysfs_root or SYSFS_ROOT) / "class" / "video4linux"


def _node_index(entry: Path) -> int | None:
    suffix = entry.name[len("video"):]
    return int(suffix) if entry.name.startswith("video") and suffix.isdigit() else None


def _read_label(entry: Path) -> str | None:
    try:
        return (entry / "name").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def linux_loopback_indices(sysfs_root: Path | None = None) -> set[int]:
    """Indices of /dev/videoN nodes that are virtual (v4l2loopback lives under /sys/devices/virtual)."""
    found = set()
    folder = _video4linux(sysfs_root)
    try:
        entries = list(folder.iterdir())
    except OSError:
        return found
    for entry in entries:
        index = _node_index(entry)
        if index is None:
            continue
        try:
            real = entry.resolve()
        except OSError:
            continue
        if "virtual" in real.parts:
            found.add(index)
    return found


def find_loopback_device(label: str, sysfs_root: Path | None = None) -> str | None:
    """The /dev/videoN whose card label is ``label`` (Linux), or None. The lowest N wins."""
    folder = _video4linux(sysfs_root)
    try:
        entries = sorted((e for e in folder.iterdir() if _node_index(e) is not None), key=_node_index)
    except OSError:
        return None
    for entry in entries:
        if _read_label(entry) == label:
            return f"/dev/{entry.name}"
    return None


def _library_cameras(api: int) -> Iterable | None:
    """(index, name) records from cv2-enumerate-cameras, or None where it cannot list cameras."""
    try:
        from cv2_enumerate_cameras import enumerate_cameras

        return enumerate_cameras(api)
    except Exception as exc:  # missing, or a platform part that fails to load: probe indices instead
        log.debug("camera names unavailable (%s): probing indices", exc)
        return None


def list_devices(api: int | None = None, enumerate: Callable[[int], Iterable | None] | None = None,
                 sysfs_root: Path | None = None) -> list[CameraDevice] | None:
    """Cameras with their names, sorted by index; None where this system cannot name them.

    ``api`` is the OpenCV backend the sources open cameras with (its indices are the ones listed).
    ``enumerate`` returns records with ``index`` and ``name`` (default: cv2-enumerate-cameras)."""
    if api is None:
        from .sources import camera_backend

        api = camera_backend()
    records = (enumerate or _library_cameras)(api)
    if records is None:
        return None
    loopback = linux_loopback_indices(sysfs_root) if sys.platform.startswith("linux") else set()
    devices = {}
    for record in records:
        index, name = int(record.index), str(record.name or f"camera {record.index}")
        devices.setdefault(index, CameraDevice(index, name, index in loopback or is_virtual_name(name)))
    return [devices[i] for i in sorted(devices)]


def virtual_camera_name(index: int, devices: list[CameraDevice] | None = None,
                        sysfs_root: Path | None = None) -> str | None:
    """The name of camera ``index`` if it is a virtual camera, else None."""
    if devices is None:
        devices = list_devices(sysfs_root=sysfs_root)
    if devices is None:  # no names here; Linux sysfs still knows loopback devices
        if sys.platform.startswith("linux") and index in linux_loopback_indices(sysfs_root):
            return _read_label(_video4linux(sysfs_root) / f"video{index}") or f"/dev/video{index}"
        return None
    for device in devices:
        if device.index == index:
            return device.name if device.virtual else None
    return None
