"""CycleGAN networks: the reference's parameter counts, output map sizes, layer facts, init,
receptive fields and ``train cyclegan --describe``."""

import json

import pytest
import torch
from torch import nn

from p2peval.cli import main
from trainers.common.networks import count_parameters, init_weights, output_size
from trainers.cyclegan.networks import (ResnetGenerator, build_discriminator, build_generator,
                                        generator_receptive_field)

pytestmark = pytest.mark.usefixtures("one_torch_thread")
META = torch.device("meta")


def resnet_param_count(cin, cout, ngf, n_blocks):
    """Closed form of c7s1-ngf, d2ngf, d4ngf, R4ngf x N, u2ngf, ungf, c7s1-cout, every conv with a
    bias (instance norm has no parameters)."""
    c1 = 49 * cin * ngf + ngf
    down = 9 * ngf * 2 * ngf + 2 * ngf + 9 * 2 * ngf * 4 * ngf + 4 * ngf
    block = 2 * (9 * (4 * ngf) ** 2 + 4 * ngf)
    up = 9 * 4 * ngf * 2 * ngf + 2 * ngf + 9 * 2 * ngf * ngf + ngf
    return c1 + down + n_blocks * block + up + 49 * ngf * cout + cout


@pytest.mark.parametrize("n_blocks,count", [(9, 11_378_179), (6, 7_837_699)])
def test_generator_reference_counts(n_blocks, count):
    with META:
        G = build_generator(3, 3, 64, n_blocks, "instance")
    assert count_parameters(G) == count == resnet_param_count(3, 3, 64, n_blocks)


@pytest.mark.parametrize("cin,cout,ngf,n", [(1, 3, 8, 2), (3, 1, 16, 0), (3, 3, 4, 3)])
def test_generator_counts_match_closed_form(cin, cout, ngf, n):
    with META:
        G = build_generator(cin, cout, ngf, n, "instance")
    assert count_parameters(G) == resnet_param_count(cin, cout, ngf, n)


def test_discriminator_reference_count_and_maps():
    with META:
        D = build_discriminator(3, 64, 3, "instance")
    # C64 (no norm) C128 C256 C512 + conv to 1, 4x4 kernels, every conv with a bias
    closed = sum(16 * a * b + b for a, b in [(3, 64), (64, 128), (128, 256), (256, 512), (512, 1)])
    assert count_parameters(D) == 2_764_737 == closed
    assert output_size(D, 256) == 30 and output_size(D, 128) == 14
    tiny = build_discriminator(3, 2, 3, "instance")  # the formula agrees with a real forward
    assert tiny(torch.zeros(1, 3, 128, 128)).shape == (1, 1, 14, 14)


def test_layers_as_the_reference():
    G = build_generator(3, 3, 4, 2, "instance")
    norms = [m for m in G.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert norms and all(not m.affine and not m.track_running_stats for m in norms)
    assert not any(isinstance(m, (nn.Dropout, nn.BatchNorm2d)) for m in G.modules())
    convs = [m for m in G.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert all(m.bias is not None for m in convs)
    ups = [m for m in convs if isinstance(m, nn.ConvTranspose2d)]
    assert [(m.kernel_size, m.stride, m.padding, m.output_padding) for m in ups] == [((3, 3), (2, 2), (1, 1), (1, 1))] * 2
    assert sum(isinstance(m, nn.ReflectionPad2d) for m in G.modules()) == 2 + 2 * 2
    assert isinstance(list(G.model)[-1], nn.Tanh)
    for side in (32, 36, 44):  # any multiple of 4 keeps its size
        y = G(torch.zeros(1, 3, side, side))
        assert y.shape == (1, 3, side, side) and y.abs().max() <= 1


def test_residual_block_adds_its_input():
    G = build_generator(3, 3, 4, 1, "instance")
    block = G.model[10]
    x = torch.randn(1, 16, 8, 8)
    with torch.no_grad():
        for p in block.conv_block.parameters():
            p.zero_()  # the block's branch is then 0 after the instance norm
    assert torch.equal(block(x), x)


def test_init_normal_002():
    torch.manual_seed(0)
    G = build_generator(3, 3, 16, 2, "instance")
    init_weights(G)
    w = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
    assert abs(w.mean().item()) < 1e-3 and w.std().item() == pytest.approx(0.02, rel=0.02)
    assert all((m.bias == 0).all() for m in G.modules() if isinstance(m, nn.Conv2d))


def test_generator_receptive_field_by_perturbation():
    """The gradient measurement agrees with perturbing single pixels of a random net without norm:
    the pixels that change an output pixel span the field (the widest over the four output
    positions modulo 4)."""
    field = generator_receptive_field(1)
    assert field == 41
    torch.manual_seed(0)
    net = ResnetGenerator(1, 1, ngf=1, n_blocks=1, norm="none").double()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.rand_like(p) * 0.2 + 0.05)
    net = net.model[:-1]  # before the tanh, which saturates with these weights
    size, c = 96, 48
    x = torch.rand(1, 1, size, size, dtype=torch.float64) + 0.5
    base = net(x)[0, 0]
    widths = []
    for shift in range(4):
        o = c + shift
        hits = []
        for dy in range(-30, 31):
            y = x.clone()
            y[0, 0, o + dy, o] += 1.0
            if net(y)[0, 0, o, o] != base[o, o]:
                hits.append(dy)
        widths.append(max(hits) - min(hits) + 1)
    assert max(widths) == field and min(widths) < field


def test_describe_cli(capsys):
    assert main(["train", "cyclegan", "--describe", "--set", "generator.n_blocks=6", "--set", "data.crop_size=128"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["generators"]["G_A"]["parameters"] == d["generators"]["G_B"]["parameters"] == 7_837_699
    assert d["discriminators"]["D_A"]["parameters"] == 2_764_737
    assert d["discriminators"]["D_B"]["output_map"] == [14, 14] and d["discriminators"]["D_A"]["receptive_field"] == [70, 70]
    assert d["generators"]["G_A"]["output_map"] == [128, 128]
    assert d["total_parameters"] == 2 * 7_837_699 + 2 * 2_764_737
    assert main(["train", "cyclegan", "--describe"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["generators"]["G_B"]["parameters"] == 11_378_179 and d["discriminators"]["D_A"]["output_map"] == [30, 30]
    assert main(["train", "cyclegan", "--describe", "--set", "generator.n_blocks=x"]) == 2
    assert "generator.n_blocks: expected int" in capsys.readouterr().err
