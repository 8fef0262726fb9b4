"""The one place that builds onnxruntime sessions."""

from __future__ import annotations

import logging
from pathlib import Path

from .spec import ModelError

log = logging.getLogger(__name__)
_warned_telemetry = False


def _check_telemetry_off() -> None:
    """Say once if onnxruntime was imported before this package could switch its telemetry off."""
    global _warned_telemetry
    from .. import ORT_TELEMETRY_MAY_BE_ON

    if ORT_TELEMETRY_MAY_BE_ON and not _warned_telemetry:
        _warned_telemetry = True
        log.warning("onnxruntime was imported before vcam_lipstick, so its telemetry may be on; "
                    "set ORT_DISABLE_TELEMETRY=1 in the environment or import vcam_lipstick first")


def create_session(onnx_path: Path, threads: int = 1, providers: list[str] | None = None):
    """An InferenceSession on the wanted providers that exist, always ending with CPU.

    ``threads`` defaults to 1: a meeting app shares the CPU with the meeting.
    """
    _check_telemetry_off()
    import onnxruntime as ort

    available = set(ort.get_available_providers())
    chosen = [p for p in (providers or []) if p in available and p != "CPUExecutionProvider"]
    chosen.append("CPUExecutionProvider")
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(onnx_path), options, providers=chosen)
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelError(f"cannot load model {Path(onnx_path).name}: {exc}") from None
    log.info("loaded %s on %s with %d thread(s)", Path(onnx_path).name, session.get_providers(), threads)
    return session
