"""What a CycleGAN configuration builds, without training: parameter counts, receptive field,
output map sizes."""

from __future__ import annotations

import torch

from trainers.common.networks import count_parameters, output_size, receptive_field
from trainers.cyclegan.config import CycleGANConfig, validate
from trainers.cyclegan.networks import generator_receptive_field
from trainers.cyclegan.step import build_networks


def describe(config: CycleGANConfig) -> dict:
    """Parameter counts of both generators and discriminators, D's receptive field and output map
    at the training size."""
    config = validate(config)
    with torch.device("meta"):  # counts and shapes only: nothing is allocated or initialised
        G_A, G_B, D_A, D_B = build_networks(config)
    size, g, dc, d = config.data.crop_size, config.generator, config.discriminator, config.data
    field = generator_receptive_field(g.n_blocks)  # through the convolutions (norms aside)

    def gen(net, cin, cout, what):
        return {"maps": what, "arch": "resnet", "ngf": g.ngf, "n_blocks": g.n_blocks, "norm": g.norm,
                "input_channels": cin, "output_channels": cout, "parameters": count_parameters(net),
                # two stride-2 convs: the residual blocks work at a quarter of the side
                "bottleneck": [size // 4] * 2,
                "receptive_field": [field] * 2, "output_map": [size, size]}

    def disc(net, cin, what):
        side = output_size(net, size)
        return {"judges": what, "arch": f"patch{receptive_field(net)}", "ndf": dc.ndf, "n_layers": dc.n_layers,
                "norm": dc.norm, "input_channels": cin, "parameters": count_parameters(net),
                "receptive_field": [receptive_field(net)] * 2, "output_map": [side, side]}

    out = {"trainer": "cyclegan", "image_size": size,
           "generators": {"G_A": gen(G_A, d.channels_A, d.channels_B, "A -> B"),
                          "G_B": gen(G_B, d.channels_B, d.channels_A, "B -> A")},
           "discriminators": None}
    if D_A is not None:
        out["discriminators"] = {"D_A": disc(D_A, d.channels_B, "domain B (real B vs G_A's fakes)"),
                                 "D_B": disc(D_B, d.channels_A, "domain A (real A vs G_B's fakes)")}
    nets = [G_A, G_B] + ([D_A, D_B] if D_A is not None else [])
    out["total_parameters"] = sum(count_parameters(n) for n in nets)
    return out
