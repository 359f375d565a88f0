"""Named, frozen evaluation protocols (docs/architecture.md contract 3).

A protocol fixes everything that changes an FCN-score: the resolution at which the scorer sees an
image, the resize kernels, the preprocessing, the class set, how a predicted index 19 is treated
and how scores are averaged. Only ``pix2pix`` may be compared with the published tables.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from p2peval.core.registry import Registry

# B, G, R means subtracted by the reference evaluator (docs/reference.md 1.5); no division by 255.
CITYSCAPES_MEAN_BGR = (72.78044, 83.21195, 73.45286)


@dataclass(frozen=True)
class Protocol:
    name: str
    description: str
    # Where scoring happens: "label" = generated images are resized to the label resolution
    # (the reference); "generated" = labels are resized to the generated resolution.
    eval_resolution: Literal["label", "generated"]
    image_resize: Literal["pil-bilinear-uint8", "none"]
    label_resize: Literal["none", "nearest"]
    # Resolution (H, W) of the generated images the protocol expects, and at which a scorer is
    # trained (photos downsampled to it and upsampled back, docs/reference.md 1.6).
    generated_size: tuple[int, int]
    channel_order: Literal["BGR", "RGB"]
    mean: tuple[float, float, float]
    scale: float
    num_classes: int
    index19: Literal["reference", "strict"]  # confusion mode, see metrics/confusion.py
    averaging: str
    comparable_with_published: bool
    disable_tf32: bool = True
    # Arithmetic of the scorer's forward pass: "fp32" (TF32 off on CUDA), "tf32" (CUDA only) or
    # "bf16" (autocast). Only the precisions in ``precisions`` may be chosen (``with_precision``).
    precision: str = "fp32"
    precisions: tuple[str, ...] = ("fp32",)

    def settings(self) -> dict:
        """All settings, for the score file."""
        return asdict(self)

    def with_precision(self, precision: str) -> Protocol:
        """This protocol scored in ``precision``; refused where the protocol does not allow it."""
        from dataclasses import replace

        from p2peval.core.errors import ConfigError
        if precision not in PRECISIONS:
            raise ConfigError(f"--precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
        if precision not in self.precisions:
            allowed = [n for n in PROTOCOLS.names() if precision in PROTOCOLS.get(n).precisions]
            raise ConfigError(f"--precision {precision}: protocol {self.name} is scored in "
                              f"{'/'.join(self.precisions)} only, so that its numbers stay comparable; "
                              f"{precision} is allowed with protocol {', '.join(allowed) or 'none'}")
        return replace(self, precision=precision)


PRECISIONS = ("fp32", "tf32", "bf16")


PROTOCOLS: Registry[Protocol] = Registry("protocol")

PROTOCOLS.register("pix2pix", Protocol(
    name="pix2pix",
    description="The reference pix2pix Cityscapes evaluation, exactly: 256x256 results resized "
                "bilinearly (PIL uint8) to the full 1024x2048 labels, BGR mean subtraction, 19 "
                "classes, one dataset-wide confusion matrix, epsilon means; a predicted index 19 "
                "is handled as the reference's bincount does (reported in the score file).",
    eval_resolution="label", image_resize="pil-bilinear-uint8", label_resize="none",
    generated_size=(256, 256), channel_order="BGR", mean=CITYSCAPES_MEAN_BGR, scale=1.0,
    num_classes=19, index19="reference",
    averaging="dataset confusion matrix; mean over 19 classes with eps 1e-12 (absent class = 0)",
    comparable_with_published=True,
))
PROTOCOLS.register("cyclegan", Protocol(
    name="cyclegan",
    description="The CycleGAN paper's Cityscapes evaluation: the pix2pix protocol for 128x128 results "
                "(resized bilinearly, PIL uint8, to the full 1024x2048 labels; BGR mean subtraction, "
                "19 classes, one dataset-wide confusion matrix, the reference's index-19 handling). "
                "Comparable with the CycleGAN paper's rows (published tables cyclegan-*).",
    eval_resolution="label", image_resize="pil-bilinear-uint8", label_resize="none",
    generated_size=(128, 128), channel_order="BGR", mean=CITYSCAPES_MEAN_BGR, scale=1.0,
    num_classes=19, index19="reference",
    averaging="dataset confusion matrix; mean over 19 classes with eps 1e-12 (absent class = 0)",
    comparable_with_published=True,
))
PROTOCOLS.register("pix2pix-strict", Protocol(
    name="pix2pix-strict",
    description="As pix2pix, but a pixel predicted as index 19 counts as an error of its class "
                "and no frame is ever dropped (the corrected reference).",
    eval_resolution="label", image_resize="pil-bilinear-uint8", label_resize="none",
    generated_size=(256, 256), channel_order="BGR", mean=CITYSCAPES_MEAN_BGR, scale=1.0,
    num_classes=19, index19="strict",
    averaging="dataset confusion matrix; mean over 19 classes with eps 1e-12 (absent class = 0)",
    comparable_with_published=False,
))
PROTOCOLS.register("fast", Protocol(
    name="fast",
    description="Scores at the generated resolution against nearest-downsampled labels: about "
                "30x less compute, NOT comparable with published numbers.",
    eval_resolution="generated", image_resize="none", label_resize="nearest",
    generated_size=(256, 256), channel_order="BGR", mean=CITYSCAPES_MEAN_BGR, scale=1.0,
    num_classes=19, index19="strict",
    averaging="dataset confusion matrix; mean over 19 classes with eps 1e-12 (absent class = 0)",
    comparable_with_published=False, precisions=PRECISIONS,
))


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name``; unknown names raise with the valid choices."""
    return PROTOCOLS.get(name)
