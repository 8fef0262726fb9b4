"""Test doubles that honour the device contracts: a scripted camera and a recording virtual camera."""

import threading
import time

import numpy as np
import pyvirtualcam

from vcam_lipstick.devices.sources import SourceError


class RecordingBackend:
    """A pyvirtualcam backend that keeps what it was sent (registered as 'recording')."""

    instances = []

    def __init__(self, *, width, height, fps, fourcc, device, **kw):
        self.width, self.height, self.fps, self.fourcc, self.device_path = width, height, fps, fourcc, device
        self.frames = []
        self.closed = False
        RecordingBackend.instances.append(self)

    def send(self, frame):
        self.frames.append(frame.reshape(self.height, self.width, 3).copy())

    def close(self):
        self.closed = True

    def device(self):
        return "Recording Cam"

    def native_fourcc(self):
        return None


class BrokenBackend:
    def __init__(self, **kw):
        # pyvirtualcam's wording: sentences ending in a full stop, sometimes more lines.
        raise RuntimeError("No v4l2 loopback device found. Did you run 'modprobe v4l2loopback'?\n(details)")


class RemovableBackend(RecordingBackend):
    """A virtual camera that can be removed while in use (``removed.set()``): sends and opens then fail."""

    removed = threading.Event()

    def __init__(self, **kw):
        if RemovableBackend.removed.is_set():
            raise RuntimeError("device /dev/video10 is gone")
        super().__init__(**kw)

    def send(self, frame):
        if RemovableBackend.removed.is_set():
            raise OSError(19, "No such device")
        super().send(frame)


pyvirtualcam.register_backend("recording", RecordingBackend)
pyvirtualcam.register_backend("broken", BrokenBackend)
pyvirtualcam.register_backend("removable", RemovableBackend)


class Camera:
    """A fake webcam: frames numbered in their first pixel; ``unplug()``/``replug()`` simulate faults."""

    paced = True

    def __init__(self, plug, width=64, height=48, fps=30.0):
        if not plug.connected.is_set():
            raise SourceError("camera 0 is not available")
        self.plug, self.width, self.height, self.fps = plug, width, height, fps
        self.closed = False
        plug.opened += 1

    def read(self):
        if not self.plug.connected.is_set():
            raise SourceError("camera unplugged")
        time.sleep(1.0 / self.fps)
        self.plug.count += 1
        frame = np.zeros((self.height, self.width, 3), np.uint8)
        frame[0, 0, 0] = self.plug.count % 256
        return frame

    def close(self):
        self.closed = True
        self.plug.closed += 1


class Plug:
    def __init__(self, connected=True):
        self.connected = threading.Event()
        if connected:
            self.connected.set()
        self.count = self.opened = self.closed = 0

    def open(self):
        return Camera(self)


class FakeCapture:
    """Stands in for ``cv2.VideoCapture`` on a webcam: records every ``set()`` in order.

    ``formats``: the fourccs the camera accepts ('MJPG', 'YUYV'); ``frames_in``: the formats it
    sends frames in; ``clock``: a list whose first item is advanced by ``1 / delivered_fps`` per read."""

    def __init__(self, formats=("MJPG", "YUYV"), frames_in=("MJPG", "YUYV"), delivered_fps=30.0, clock=None,
                 opened=True):
        import cv2

        self.cv2 = cv2
        self.formats, self.frames_in, self.delivered_fps, self.clock = formats, frames_in, delivered_fps, clock
        self.opened = opened
        self.calls = []
        self.props = {cv2.CAP_PROP_FOURCC: float(cv2.VideoWriter_fourcc(*"YUYV")), cv2.CAP_PROP_FPS: 30.0,
                      cv2.CAP_PROP_FRAME_WIDTH: 640.0, cv2.CAP_PROP_FRAME_HEIGHT: 480.0}
        self.released = False

    def isOpened(self):
        return self.opened

    def set(self, prop, value):
        self.calls.append((prop, value))
        if prop == self.cv2.CAP_PROP_FOURCC:
            text = "".join(chr((int(value) >> (8 * i)) & 0xFF) for i in range(4))
            if text not in self.formats:
                return False
        self.props[prop] = float(value)
        return True

    def get(self, prop):
        return self.props.get(prop, 0.0)

    def fourcc(self):
        value = int(self.props[self.cv2.CAP_PROP_FOURCC])
        return "".join(chr((value >> (8 * i)) & 0xFF) for i in range(4))

    def read(self):
        if self.fourcc() not in self.frames_in:
            return False, None
        if self.clock is not None:
            self.clock[0] += 1.0 / self.delivered_fps
        w, h = int(self.props[self.cv2.CAP_PROP_FRAME_WIDTH]), int(self.props[self.cv2.CAP_PROP_FRAME_HEIGHT])
        return True, np.zeros((h, w, 3), np.uint8)

    def release(self):
        self.released = True


def sysfs_tree(root, devices):
    """A fake /sys: ``devices`` maps N -> (card label, virtual?) for /dev/videoN, laid out as Linux does
    (class/video4linux/videoN links into devices/virtual/... for loopback devices, devices/pci... otherwise)."""
    import os

    folder = root / "class" / "video4linux"
    folder.mkdir(parents=True, exist_ok=True)
    for index, (label, virtual) in devices.items():
        parent = root / "devices" / ("virtual" if virtual else "pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0") / "video4linux"
        node = parent / f"video{index}"
        node.mkdir(parents=True)
        (node / "name").write_text(label + "\n")
        os.symlink(node, folder / f"video{index}")
    return root
