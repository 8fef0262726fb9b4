"""Training checkpoints: read one, and rebuild the network it holds. Shared by the trainer and the export."""

from __future__ import annotations

import torch

from .net import DEFAULT_WIDTHS, LipNet


def read_checkpoint(path) -> dict:
    """A checkpoint this trainer wrote; a missing or foreign file stops the run with a one-line error."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise SystemExit(f"error: checkpoint {path} not found") from None
    except Exception as exc:  # torch raises several types for a file that is not a checkpoint
        raise SystemExit(f"error: {path} is not a training checkpoint ({type(exc).__name__})") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise SystemExit(f"error: {path} is not a training checkpoint (no model weights)")
    return ckpt


def build_model(config: dict) -> LipNet:
    """The network a run's arguments (or a checkpoint's saved ``config``) describe."""
    return LipNet(blocks=config.get("blocks") or 8, widths=tuple(config.get("widths") or DEFAULT_WIDTHS))


def load_trained(path) -> tuple[LipNet, dict]:
    """The network a training checkpoint holds, weights loaded, and the checkpoint itself."""
    ckpt = read_checkpoint(path)
    model = build_model(ckpt.get("config", {}))
    model.load_state_dict(ckpt["model"])
    return model, ckpt
