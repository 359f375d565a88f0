"""Scorer architectures by name. Every builder works offline (no pretrained downloads).

All scorers take the protocol's preprocessed input (B, 3, H, W) and return logits
(B, num_outputs, H, W) at the input resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch.nn as nn

from p2peval.core.registry import Registry


@dataclass(frozen=True)
class ScorerArch:
    name: str
    description: str
    build: Callable[[dict], nn.Module]
    default_config: dict = field(default_factory=dict)
    # Input H and W must be multiples of this (smp encoders downsample by 32).
    size_multiple: int = 1


ARCHS: Registry[ScorerArch] = Registry("scorer architecture")


def _fcn8s(config: dict) -> nn.Module:
    from p2peval.scorers.fcn8s import FCN8s, FCN8sConfig
    return FCN8s(FCN8sConfig.from_dict(config))


def _smp(kind: str, encoder: str):
    def build(config: dict) -> nn.Module:
        import segmentation_models_pytorch as smp
        cls = {"unet": smp.Unet, "deeplabv3plus": smp.DeepLabV3Plus, "fpn": smp.FPN}[kind]
        return cls(encoder_name=encoder, encoder_weights=None, in_channels=3,
                   classes=int(config.get("num_outputs", 19)))
    return build


ARCHS.register("fcn8s", ScorerArch(
    "fcn8s", "FCN-8s (VGG16), the reference scorer's topology (about 134.5 M parameters)",
    _fcn8s, {"widths": [64, 128, 256, 512, 512], "fc_width": 4096, "num_outputs": 20}))
ARCHS.register("fcn8s-small", ScorerArch(
    "fcn8s-small", "FCN-8s topology at 1/4 width (fast to train; for toy-city and tests)",
    _fcn8s, {"widths": [16, 32, 64, 128, 128], "fc_width": 256, "num_outputs": 20}))
ARCHS.register("fcn8s-tiny", ScorerArch(
    "fcn8s-tiny", "FCN-8s topology at 1/16 width (seconds to train; for tests)",
    _fcn8s, {"widths": [4, 8, 16, 32, 32], "fc_width": 64, "num_outputs": 20}))
ARCHS.register("unet-resnet34", ScorerArch(
    "unet-resnet34", "U-Net with a ResNet-34 encoder (segmentation-models-pytorch, no pretraining)",
    _smp("unet", "resnet34"), {"num_outputs": 19}, size_multiple=32))
ARCHS.register("unet-resnet18", ScorerArch(
    "unet-resnet18", "U-Net with a ResNet-18 encoder (segmentation-models-pytorch, no pretraining)",
    _smp("unet", "resnet18"), {"num_outputs": 19}, size_multiple=32))
ARCHS.register("deeplabv3plus-resnet50", ScorerArch(
    "deeplabv3plus-resnet50", "DeepLabV3+ with a ResNet-50 encoder (segmentation-models-pytorch)",
    _smp("deeplabv3plus", "resnet50"), {"num_outputs": 19}, size_multiple=32))


def build_scorer(arch: str, config: dict | None = None) -> tuple[nn.Module, dict]:
    """Build ``arch`` with ``config`` over its defaults; returns (model, full config)."""
    spec = ARCHS.get(arch)
    full = dict(spec.default_config)
    full.update(config or {})
    return spec.build(full), full
