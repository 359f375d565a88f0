"""FCN-8s (VGG16 backbone) exactly as the reference Cityscapes scorer of pix2pix.

Layer names, pad 100 on conv1_1, ceil-mode pooling, the learned deconvolutions and the crop
offsets (5, 9, 31) follow the reference deploy network (docs/reference.md section 1), so a converted
Caffe model loads one to one: parameter names are ``<caffe layer>.weight`` / ``.bias``.
Channel widths are configurable so that small scorers train fast.

Shapes for a 256x256 input at full width: pool5 15x15, score_fr 9x9, upscore2 20x20,
upscore_pool4 42x42, upscore8 344x344, score 256x256.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

# (block, number of 3x3 convs) of VGG16.
VGG_BLOCKS = ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3))


@dataclass(frozen=True)
class FCN8sConfig:
    widths: tuple[int, int, int, int, int] = (64, 128, 256, 512, 512)  # conv blocks 1..5
    fc_width: int = 4096  # fc6_cs, fc7_cs
    num_outputs: int = 20  # the reference has 20 outputs (19 classes + one extra index)

    def to_dict(self) -> dict:
        return {"widths": list(self.widths), "fc_width": self.fc_width, "num_outputs": self.num_outputs}

    @classmethod
    def from_dict(cls, d: dict) -> "FCN8sConfig":
        return cls(widths=tuple(int(w) for w in d.get("widths", cls.widths)),
                   fc_width=int(d.get("fc_width", cls.fc_width)),
                   num_outputs=int(d.get("num_outputs", cls.num_outputs)))


def conv_layer_names() -> list[str]:
    return [f"conv{b}_{i}" for b, n in VGG_BLOCKS for i in range(1, n + 1)]


def crop(x: torch.Tensor, offset: int, like: torch.Tensor) -> torch.Tensor:
    """Caffe ``Crop`` on axis 2: take ``like``'s H, W starting at ``offset`` in both dims."""
    h, w = like.shape[-2:]
    return x[:, :, offset:offset + h, offset:offset + w]


class FCN8s(nn.Module):
    """FCN-8s; input (B, 3, H, W) preprocessed BGR minus mean; output (B, num_outputs, H, W)."""

    def __init__(self, config: FCN8sConfig = FCN8sConfig()):
        super().__init__()
        self.config = config
        c_in = 3
        for (block, n), width in zip(VGG_BLOCKS, config.widths):
            for i in range(1, n + 1):
                pad = 100 if (block, i) == (1, 1) else 1
                setattr(self, f"conv{block}_{i}", nn.Conv2d(c_in, width, 3, padding=pad))
                c_in = width
        k, fc = config.num_outputs, config.fc_width
        self.fc6_cs = nn.Conv2d(config.widths[4], fc, 7)
        self.fc7_cs = nn.Conv2d(fc, fc, 1)
        self.score_fr = nn.Conv2d(fc, k, 1)
        self.upscore2 = nn.ConvTranspose2d(k, k, 4, stride=2, bias=False)
        self.score_pool4 = nn.Conv2d(config.widths[3], k, 1)
        self.upscore_pool4 = nn.ConvTranspose2d(k, k, 4, stride=2, bias=False)
        self.score_pool3 = nn.Conv2d(config.widths[2], k, 1)
        self.upscore8 = nn.ConvTranspose2d(k, k, 16, stride=8, bias=False)

    def forward_blobs(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """All named intermediate blobs of the reference net (for parity checks)."""
        blobs: dict[str, torch.Tensor] = {}
        h = x
        for block, n in VGG_BLOCKS:
            for i in range(1, n + 1):
                h = F.relu(getattr(self, f"conv{block}_{i}")(h))
                blobs[f"conv{block}_{i}"] = h
            h = F.max_pool2d(h, 2, 2, ceil_mode=True)  # Caffe rounds pooled sizes up
            blobs[f"pool{block}"] = h
        h = F.relu(self.fc6_cs(h))                     # (B, fc, H/32 - 6, ...)
        blobs["fc6_cs"] = h
        h = F.relu(self.fc7_cs(h))
        blobs["fc7_cs"] = h
        score_fr = self.score_fr(h)
        upscore2 = self.upscore2(score_fr)
        score_pool4c = crop(self.score_pool4(blobs["pool4"]), 5, upscore2)
        fuse_pool4 = upscore2 + score_pool4c
        upscore_pool4 = self.upscore_pool4(fuse_pool4)
        score_pool3c = crop(self.score_pool3(blobs["pool3"]), 9, upscore_pool4)
        fuse_pool3 = upscore_pool4 + score_pool3c
        upscore8 = self.upscore8(fuse_pool3)
        blobs.update(score_fr=score_fr, upscore2=upscore2, score_pool4c=score_pool4c,
                     fuse_pool4=fuse_pool4, upscore_pool4=upscore_pool4,
                     score_pool3c=score_pool3c, fuse_pool3=fuse_pool3, upscore8=upscore8,
                     score=crop(upscore8, 31, x))
        return blobs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Same computation as forward_blobs without keeping every activation alive.
        h = x
        pools = {}
        for block, n in VGG_BLOCKS:
            for i in range(1, n + 1):
                h = F.relu(getattr(self, f"conv{block}_{i}")(h), inplace=True)
            h = F.max_pool2d(h, 2, 2, ceil_mode=True)
            if block in (3, 4):
                pools[block] = h
        h = F.relu(self.fc6_cs(h), inplace=True)
        h = F.relu(self.fc7_cs(h), inplace=True)
        up = self.upscore2(self.score_fr(h))
        up = self.upscore_pool4(up + crop(self.score_pool4(pools[4]), 5, up))
        up = self.upscore8(up + crop(self.score_pool3(pools[3]), 9, up))
        return crop(up, 31, x)
