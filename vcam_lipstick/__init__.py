"""vcam-lipstick: realistic lipstick on a live webcam, published as a virtual camera."""

import os as _os
import sys as _sys

# onnxruntime (1.32) sends telemetry by default: it writes ~/.cache/Microsoft/... and makes DNS lookups
# from a background thread. Only this variable stops it, and only if it is in the environment before
# onnxruntime is first imported (``disable_telemetry_events()`` does not stop it). Every entry point
# (CLI, tray, benchmarks, the frozen build) imports this package first. A value the user set is kept.
#: True when onnxruntime was imported before this package without the variable: too late to switch it off.
ORT_TELEMETRY_MAY_BE_ON = "onnxruntime" in _sys.modules and "ORT_DISABLE_TELEMETRY" not in _os.environ
_os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"
