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
        self.width, self.height, self.fps, self.fourcc = width, height, fps, fourcc
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


pyvirtualcam.register_backend("recording", RecordingBackend)
pyvirtualcam.register_backend("broken", BrokenBackend)


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
