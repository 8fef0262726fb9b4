"""Train LipNet on mouth crops; resumable, seeded, with per-epoch metrics.

Run: ``vcam-lipstick-train --data ../shared/data/lips --out runs/lipnet --minutes 70``
then ``vcam-lipstick-train --export runs/lipnet/best.pt --models vcam_lipstick/models``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from ..argtypes import bounded, parse_size
from ..model.segmenter import LIP_CLASSES
from ..processing.metrics import PooledIoU
from ..processing.tone import terciles
from .checkpoint import build_model, load_trained, read_checkpoint
from .data import CropConfig, CropDataset, FaceStore
from .net import DEFAULT_WIDTHS, LipNet

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def loss_fn(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Edge-weighted cross-entropy plus soft Dice over the three mouth classes."""
    ce = (F.cross_entropy(logits, labels, reduction="none") * weights).sum() / weights.sum()
    probs = logits.softmax(1)[:, 1:]
    onehot = F.one_hot(labels, len(LIP_CLASSES)).permute(0, 3, 1, 2)[:, 1:].float()
    inter = (probs * onehot).sum((0, 2, 3))
    union = probs.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
    dice = 1.0 - ((2 * inter + 1.0) / (union + 1.0)).mean()
    return ce + dice


def lovasz_grad(gt_sorted: torch.Tensor) -> torch.Tensor:
    """Gradient of the Lovasz extension of the Jaccard loss w.r.t. sorted errors (Berman et al., 2018)."""
    total = gt_sorted.sum()
    intersection = total - gt_sorted.cumsum(0)
    union = total + (1.0 - gt_sorted).cumsum(0)
    jaccard = 1.0 - intersection / union
    jaccard[1:] = jaccard[1:] - jaccard[:-1]
    return jaccard


def lovasz_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-image Lovasz-softmax over the mouth classes and the union of both lips: a surrogate of the
    per-image IoU that ``eval`` reports, so boundary pixels are weighed as that metric weighs them."""
    probs = logits.softmax(1)
    losses = []
    for p, y in zip(probs, labels):
        p, y = p.flatten(1), y.flatten()
        pairs = [(p[c], (y == c).float()) for c in range(1, len(LIP_CLASSES))]
        pairs.append((p[1] + p[2], ((y == 1) | (y == 2)).float()))
        for prob, fg in pairs:
            if fg.sum() == 0:
                continue
            errors, order = (fg - prob).abs().sort(descending=True)
            losses.append(torch.dot(errors, lovasz_grad(fg[order])))
    return torch.stack(losses).mean() if losses else logits.sum() * 0.0


def distill_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """Per-pixel KL divergence from the teacher's class probabilities to the student's: soft targets
    carry where a larger model is unsure (lip edges), which hard labels do not."""
    return F.kl_div(student_logits.log_softmax(1), teacher_logits.log_softmax(1), log_target=True,
                    reduction="none").sum(1).mean()


def load_teacher(path: str) -> LipNet:
    """A frozen network from a training checkpoint, to distil from."""
    return load_trained(path)[0].eval().requires_grad_(False)


def batches(dataset: CropDataset, order: np.ndarray, batch_size: int):
    for start in range(0, len(order) - batch_size + 1 if dataset.train else len(order), batch_size):
        items = [dataset[int(i)] for i in order[start : start + batch_size]]
        yield tuple(torch.from_numpy(np.stack(col)) for col in zip(*items))


@torch.no_grad()
def evaluate(model: LipNet, dataset: CropDataset, batch_size: int = 64) -> dict[str, float]:
    """Pooled IoU per class and for the union of both lips, on crops."""
    model.eval()
    tally = PooledIoU()
    for x, y, _ in batches(dataset, np.arange(len(dataset)), batch_size):
        tally.add(model(x).argmax(1).numpy(), y.numpy())
    return tally.scores()


def parse_crop_size(text: str) -> tuple[int, int]:
    """'128x96' -> (128, 96); both sides must be multiples of 16 (the network's stride)."""
    w, h = parse_size(text)
    if w % 16 or h % 16:
        raise argparse.ArgumentTypeError(f"crop size {text} must be multiples of 16")
    return w, h


def parse_widths(text: str) -> tuple[int, ...]:
    """'24,32,48,64' -> (24, 32, 48, 64): the decoder's channels at strides 2, 4, 8 and 16."""
    try:
        widths = tuple(int(w) for w in text.split(","))
    except ValueError:
        widths = ()
    if len(widths) != 4 or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"widths {text!r} must be four positive integers, e.g. 24,32,48,64")
    return widths


def epoch_order(store: FaceStore, rng: np.random.Generator, dark_weight: float = 1.0) -> np.ndarray:
    """The faces of one epoch: a permutation, or, with ``dark_weight`` != 1, as many faces drawn with
    replacement where the darkest skin-tone tercile is ``dark_weight`` times as likely as the others."""
    if dark_weight == 1.0:
        return rng.permutation(len(store))
    weights = np.where(terciles(np.array(store.ita)) == 0, dark_weight, 1.0)
    return rng.choice(len(store), size=len(store), replace=True, p=weights / weights.sum())


def train(args: argparse.Namespace) -> Path:
    seed_everything(args.seed)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = CropConfig.from_run(vars(args))
    log.info("loading faces from %s", args.data)
    train_store = FaceStore(Path(args.data), "train", limit=args.limit)
    val_store = FaceStore(Path(args.data), "val", limit=args.limit)
    train_set = CropDataset(train_store, cfg, train=True, seed=args.seed, lowres_p=args.lowres_p,
                            min_mouth_px=args.min_mouth_px, lowres_interp=args.lowres_interp,
                            wide_scale_p=args.wide_scale_p, occlude_p=args.occlude_p, tone_p=args.tone_p,
                            hidden_weight=args.hidden_weight)
    val_set = CropDataset(val_store, cfg, train=False, seed=args.seed)
    log.info("train %d faces, val %d faces", len(train_set), len(val_set))

    model = build_model(vars(args))
    if not args.no_pretrained:
        log.info("loaded %d ImageNet encoder tensors", model.load_imagenet_encoder())
    if args.init and args.init.endswith(".onnx"):
        # A shipped model, without its run folder: rebuild the trainable network from the ONNX file.
        from .from_onnx import calibrate_batch_norms, load_onnx_weights

        plain = CropDataset(train_store, cfg, train=False, seed=args.seed)
        order = np.random.default_rng(args.seed).permutation(len(plain))[:640]
        log.info("initialised %d convs from %s", load_onnx_weights(model, Path(args.init), (cfg.height, cfg.width)),
                 args.init)
        calibrate_batch_norms(model, (x for x, _, _ in batches(plain, order, 64)))
    elif args.init:
        # Tensors the source lacks (a deeper encoder) keep their ImageNet or fresh values.
        own = model.state_dict()
        source = read_checkpoint(args.init)["model"]
        matched = {k: v for k, v in source.items() if k in own and own[k].shape == v.shape}
        if not matched:
            raise SystemExit(f"error: {args.init} shares no weights with this network")
        model.load_state_dict(matched, strict=False)
        log.info("initialised %d of %d tensors from %s", len(matched), len(own), args.init)
    teacher = load_teacher(args.teacher) if args.teacher else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps_per_epoch = max(1, len(train_set) // args.batch)
    total_steps = args.epochs * steps_per_epoch
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=total_steps, pct_start=args.warmup)

    start_epoch, best, history = 0, -1.0, []
    last = out / "last.pt"
    if last.exists() and not args.restart:
        ckpt = read_checkpoint(last)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        schedule.load_state_dict(ckpt["schedule"])
        start_epoch, best, history = ckpt["epoch"] + 1, ckpt["best"], ckpt["history"]
        log.info("resumed from epoch %d (best lip IoU %.4f)", start_epoch, best)

    deadline = time.monotonic() + args.minutes * 60 if args.minutes else math.inf
    for epoch in range(start_epoch, args.epochs):
        model.train()
        train_set.epoch = epoch
        order = epoch_order(train_store, np.random.default_rng((args.seed, epoch)), args.dark_weight)
        running, t0 = 0.0, time.monotonic()
        bar = tqdm(batches(train_set, order, args.batch), total=steps_per_epoch, desc=f"epoch {epoch}", leave=False)
        for step, (x, y, w) in enumerate(bar):
            logits = model(x)
            loss = loss_fn(logits, y, w)
            if args.lovasz:
                loss = loss + args.lovasz * lovasz_loss(logits, y)
            if teacher is not None:
                with torch.no_grad():
                    soft = teacher(x)
                loss = loss + args.distill * distill_loss(logits, soft)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            running += loss.item()
            bar.set_postfix(loss=f"{running / (step + 1):.4f}")
        metrics = evaluate(model, val_set)
        metrics.update(epoch=epoch, loss=running / steps_per_epoch, seconds=time.monotonic() - t0)
        history.append(metrics)
        log.info("epoch %d %s", epoch, json.dumps({k: round(float(v), 4) for k, v in metrics.items()}))
        if metrics["lip_iou"] > best:
            best = metrics["lip_iou"]
            torch.save({"model": model.state_dict(), "metrics": metrics, "config": vars(args)}, out / "best.pt")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                    "epoch": epoch, "best": best, "history": history}, last)
        (out / "history.json").write_text(json.dumps(history, indent=1, default=float))
        if time.monotonic() > deadline:
            log.info("time budget reached after epoch %d", epoch)
            break
    return out / "best.pt"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vcam-lipstick-train", description="Train or export the lip segmentation model.")
    parser.add_argument("--data", default="../shared/data/lips", help="folder in the shared layout (train/, val/)")
    parser.add_argument("--out", default="runs/lipnet", help="checkpoint folder")
    parser.add_argument("--epochs", type=bounded(int, 1, what="epochs"), default=40)
    parser.add_argument("--batch", type=bounded(int, 1, what="batch"), default=32)
    parser.add_argument("--lr", type=bounded(float, 1e-7, 1.0, "learning rate"), default=3e-3)
    parser.add_argument("--threads", type=bounded(int, 1, 64, "threads"), default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--minutes", type=bounded(float, 0.0, what="minutes"), default=0, help="stop after the epoch that passes this budget")
    parser.add_argument("--limit", type=bounded(int, 1, what="limit"), default=None, help="use only the first N faces (smoke runs)")
    parser.add_argument("--restart", action="store_true", help="ignore an existing last.pt")
    parser.add_argument("--no-pretrained", action="store_true")
    parser.add_argument("--init", metavar="CKPT", help="start from a checkpoint's weights, or a shipped lips.onnx (fine-tuning)")
    parser.add_argument("--size", type=parse_crop_size, default=(128, 96), help="crop size WxH (default 128x96)")
    parser.add_argument("--mouth-fraction", type=bounded(float, 0.1, 1.0, "mouth fraction"), default=0.6, help="share of the crop's width the mouth spans")
    parser.add_argument("--lovasz", type=bounded(float, 0.0, what="lovasz weight"), default=0.0, help="weight of a per-image Lovasz IoU loss (0: none)")
    parser.add_argument("--blocks", type=int, choices=range(8, 12), default=8, metavar="8..11",
                        help="EfficientNet-Lite0 blocks in the encoder (more: deeper at stride 16)")
    parser.add_argument("--widths", type=parse_widths, default=DEFAULT_WIDTHS, metavar="W1,W2,W3,W4",
                        help="decoder channels at strides 2, 4, 8 and 16 (default %s)" % ",".join(map(str, DEFAULT_WIDTHS)))
    parser.add_argument("--lowres-p", type=bounded(float, 0.0, 1.0, "lowres-p"), default=0.5, help="share of crops rendered at webcam resolution")
    parser.add_argument("--min-mouth-px", type=bounded(float, 4.0, 512.0, "min-mouth-px"), default=18.0,
                        help="narrowest mouth (frame pixels) the low-resolution crops simulate")
    parser.add_argument("--lowres-interp", choices=("bilinear", "lowpass", "mixed"), default="bilinear",
                        help="how low-resolution crops are shrunk (see training.data.cut_crop)")
    parser.add_argument("--teacher", metavar="CKPT", help="distil from this (larger) trained network's checkpoint")
    parser.add_argument("--distill", type=bounded(float, 0.0, what="distillation weight"), default=1.0, help="weight of the distillation loss (with --teacher)")
    parser.add_argument("--wide-scale-p", type=bounded(float, 0.0, 1.0, "wide-scale-p"), default=0.0,
                        help="share of crops whose box is 0.5-2x the mouth, as acquisition boxes can be")
    parser.add_argument("--occlude-p", type=bounded(float, 0.0, 1.0, "occlude-p"), default=0.0,
                        help="share of crops with a synthetic occluder (finger, microphone, cup...) over the mouth")
    parser.add_argument("--hidden-weight", type=bounded(float, 1.0, 20.0, "hidden-weight"), default=1.0,
                        help="loss weight of lips an occluder hides (with --occlude-p)")
    parser.add_argument("--tone-p", type=bounded(float, 0.0, 1.0, "tone-p"), default=0.0,
                        help="share of crops whose skin and lips are darkened or lightened together in CIELAB")
    parser.add_argument("--dark-weight", type=bounded(float, 0.1, 10.0, "dark-weight"), default=1.0,
                        help="sampling weight of the darkest skin-tone tercile of the training faces")
    parser.add_argument("--warmup", type=bounded(float, 0.01, 0.99, "warmup"), default=0.05, help="share of steps warming up the learning rate")
    parser.add_argument("--export", metavar="CKPT", help="export a checkpoint to ONNX + spec instead of training")
    parser.add_argument("--models", default="vcam_lipstick/models", help="where --export writes lips.onnx")
    args = parser.parse_args(argv)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if not args.export:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(Path(args.out) / "train.log"))  # metrics per epoch, kept with the run
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", handlers=handlers)
    if args.export:
        from .export import export_checkpoint

        spec_path = export_checkpoint(Path(args.export), Path(args.models))
        print(spec_path)
        return 0
    if not Path(args.data).is_dir():
        print(f"error: data folder {args.data} not found", file=sys.stderr)
        return 2
    train(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
