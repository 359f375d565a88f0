"""What a configuration builds, without training: parameter counts, receptive field, map sizes."""

from __future__ import annotations

import torch

from trainers.pix2pix.config import TrainConfig, channels, validate
from trainers.pix2pix.losses import OBJECTIVES
from trainers.pix2pix.networks import count_parameters, output_size, receptive_field
from trainers.pix2pix.step import build_networks


def describe(config: TrainConfig) -> dict:
    """Parameter counts of G and D, D's receptive field and output map at the training size."""
    config = validate(config)
    with torch.device("meta"):  # counts and shapes only: nothing is allocated or initialised
        G, D = build_networks(config)
    cin, cout = channels(config)
    obj = OBJECTIVES.get(config.loss.objective)
    size = config.data.crop_size
    g = config.generator
    out = {
        "objective": config.loss.objective,
        "image_size": size,
        "generator": {"arch": g.arch, "num_downs": g.num_downs, "ngf": g.ngf, "norm": g.norm,
                      "dropout": g.dropout, "input_channels": cin, "output_channels": cout,
                      "parameters": count_parameters(G),
                      "bottleneck": [size // 2 ** g.num_downs] * 2,
                      # input pixels one bottleneck unit sees (encoder convs only); >= image
                      # size means every output pixel can depend on the whole image
                      "bottleneck_receptive_field": [receptive_field(G)] * 2,
                      "output_map": [size, size]},
        "discriminator": None,
    }
    if D is not None:
        d = config.discriminator
        side = output_size(D, size)
        out["discriminator"] = {
            "arch": d.arch, "ndf": d.ndf, "norm": d.norm, "conditional": obj.conditional,
            "input_channels": cin + cout if obj.conditional else cout,
            "parameters": count_parameters(D),
            "receptive_field": [receptive_field(D)] * 2,
            "output_map": [side, side],
        }
    return out
