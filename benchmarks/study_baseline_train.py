"""Train the original study's from-scratch recipe on the same data, to compare accuracy, not only speed.

The study: the whole aligned face resized to 256x256 -> a four-level UNet (widths 16-32-64-128-256,
here with batch norm) -> one sigmoid lip mask, BCE + Dice, Adam. It reported IoU 0.822 on its own
aligned crops. Here it trains on the train split of ../shared/data/lips (union of upper and lower lip)
and is scored on the val split the way `vcam-lipstick eval` scores ours (mean union-lip IoU per
image, at 512x512). Needs the [train] extra. Resumable: rerun the same command to go on.

    python benchmarks/study_baseline_train.py --out runs/study-unet --minutes 60
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vcam_lipstick.evaluation.baseline import SCRATCH, SCRATCH_DECODER  # noqa: E402
from vcam_lipstick.processing.metrics import iou  # noqa: E402

SIZE = 256


def load_split(root: Path, split: str) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Images at 256 (N, 3, 256, 256 uint8 RGB), lip masks at 256 (N, 256, 256 uint8), full-size masks."""
    images, small, full = [], [], []
    for path in sorted((root / split / "images").glob("*.jpg")):
        image = cv2.imread(str(path))
        mask = cv2.imread(str(root / split / "masks" / f"{path.stem}.png"), cv2.IMREAD_UNCHANGED)
        lips = ((mask == 1) | (mask == 2)).astype(np.uint8)
        images.append(cv2.resize(image, (SIZE, SIZE), interpolation=cv2.INTER_AREA)[..., ::-1].transpose(2, 0, 1))
        small.append(cv2.resize(lips, (SIZE, SIZE), interpolation=cv2.INTER_NEAREST))
        full.append(lips.astype(bool))
    return np.stack(images), np.stack(small), full


def build(torch):
    nn = torch.nn

    def block(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    class StudyUNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder, self.skip_channels = nn.ModuleList(), []
            stage, cin = [], 3
            for item in SCRATCH:
                if item == "M":
                    self.encoder.append(nn.Sequential(*stage))
                    self.skip_channels.append(cin)
                    stage = []
                else:
                    stage.append(block(cin, item))
                    cin = item
            self.decoder = nn.ModuleList()
            skips = self.skip_channels[::-1]
            for level, cout in enumerate(SCRATCH_DECODER):
                cat = cin + (skips[level] if level < len(skips) else 0)
                self.decoder.append(nn.Sequential(block(cat, cout), block(cout, cout)))
                cin = cout
            self.head = nn.Conv2d(cin, 1, 3, padding=1)

        def forward(self, x):
            skips = []
            for stage in self.encoder:
                x = stage(x)
                skips.append(x)
                x = nn.functional.max_pool2d(x, 2)
            for level, stage in enumerate(self.decoder):
                x = nn.functional.interpolate(x, scale_factor=2.0, mode="nearest")
                if level < len(skips):
                    x = torch.cat([x, skips[-1 - level]], 1)
                x = stage(x)
            return self.head(x)

    return StudyUNet()


def val_iou(torch, model, images, full_masks) -> float:
    model.eval()
    scores = []
    with torch.no_grad():
        for i in range(0, len(images), 16):
            x = torch.from_numpy(images[i : i + 16]).float() / 255.0
            probs = torch.sigmoid(model(x)).numpy()[:, 0]
            for p, truth in zip(probs, full_masks[i : i + 16]):
                scores.append(iou(cv2.resize(p, truth.shape[::-1], interpolation=cv2.INTER_LINEAR) > 0.5, truth))
    model.train()
    return float(np.nanmean(scores))  # NaN: no lips in the mask or the prediction


def main() -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/lips"))
    parser.add_argument("--out", type=Path, default=Path("runs/study-unet"))
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--minutes", type=float, default=60.0, help="stop after this long (resume later)")
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    for split in ("train", "val"):
        if not any((args.data / split / "images").glob("*.jpg")):
            print(f"error: no images in {args.data / split / 'images'} (set --data to the shared lips folder)")
            return 2
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    train_x, train_y, _ = load_split(args.data, "train")
    val_x, _, val_full = load_split(args.data, "val")
    model = build(torch)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    steps = args.epochs * (len(train_x) // args.batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 1e-3, total_steps=steps, pct_start=0.05)
    args.out.mkdir(parents=True, exist_ok=True)
    last, history, start_epoch = args.out / "last.pt", [], 0
    if last.exists():
        state = torch.load(last, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        history, start_epoch = state["history"], state["epoch"] + 1
        rng = np.random.default_rng(start_epoch)
    t_end = time.time() + args.minutes * 60
    for epoch in range(start_epoch, args.epochs):
        t0, losses = time.time(), []
        order = rng.permutation(len(train_x))
        for i in range(0, len(order) - args.batch + 1, args.batch):
            idx = order[i : i + args.batch]
            x = torch.from_numpy(train_x[idx]).float() / 255.0
            y = torch.from_numpy(train_y[idx]).float()[:, None]
            if rng.random() < 0.5:  # horizontal flip
                x, y = x.flip(3), y.flip(3)
            logits = model(x)
            probs = torch.sigmoid(logits)
            dice = 1 - (2 * (probs * y).sum() + 1) / (probs.sum() + y.sum() + 1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y) + dice
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        score = val_iou(torch, model, val_x, val_full)
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "val_lip_iou": score,
                        "seconds": time.time() - t0})
        print(json.dumps(history[-1]), flush=True)
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                    "history": history, "epoch": epoch}, last)
        if time.time() > t_end:
            break
    best = max(history, key=lambda h: h["val_lip_iou"]) if history else None
    print(json.dumps({"epochs_done": len(history), "best": best}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
