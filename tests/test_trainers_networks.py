"""pix2pix networks: parameter counts (docs/reference.md section 4), receptive fields measured by
gradients, output map sizes, init, dropout."""

import pytest
import torch

from trainers.pix2pix.networks import (PatchDiscriminator, build_discriminator, build_generator,
                                       count_parameters, init_weights, output_size, receptive_field)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def unet_param_count(cin, cout, num_downs, ngf, skip=True):
    """Closed form from the paper's layer list (4x4 convs; BatchNorm = 2 params per channel;
    convs followed by BatchNorm have no bias; the outermost up-conv has one)."""
    enc = [ngf, ngf * 2, ngf * 4] + [ngf * 8] * (num_downs - 3)
    n = 0
    for i, c in enumerate(enc):
        n += 16 * (cin if i == 0 else enc[i - 1]) * c
        if 0 < i < num_downs - 1:
            n += 2 * c  # BatchNorm after every down-conv but the first and the innermost
    for i in range(num_downs):
        innermost = i == num_downs - 1
        c_in = enc[i] if innermost or not skip else 2 * enc[i]
        c_out = cout if i == 0 else enc[i - 1]
        n += 16 * c_in * c_out + (c_out if i == 0 else 2 * c_out)  # bias, or BatchNorm
    return n


def patch_param_count(cin, ndf, n_layers):
    n, mult = 16 * cin * ndf + ndf, 1
    for k in range(1, n_layers + 1):
        prev, mult = mult, min(2 ** k, 8)
        n += 16 * ndf * prev * ndf * mult + 2 * ndf * mult
    return n + 16 * ndf * mult + 1


META = torch.device("meta")  # shapes and counts without allocating or computing


def test_generator_unet256_reference_count():
    with META:
        G = build_generator("unet", 3, 3, 8, 64, "batch", 0.5)
    assert count_parameters(G) == 54_413_955  # docs/reference.md section 4
    assert unet_param_count(3, 3, 8, 64) == 54_413_955


@pytest.mark.parametrize("arch,cin,cout,downs,ngf", [("unet", 3, 3, 7, 64), ("unet", 1, 2, 6, 16),
                                                     ("encoder-decoder", 3, 3, 8, 64),
                                                     ("encoder-decoder", 3, 3, 5, 8)])
def test_generator_counts_match_closed_form(arch, cin, cout, downs, ngf):
    with META:
        G = build_generator(arch, cin, cout, downs, ngf, "batch", 0.5)
    assert count_parameters(G) == unet_param_count(cin, cout, downs, ngf, skip=arch == "unet")


@pytest.mark.parametrize("arch,count,field", [("patch70", 2_768_705, 70), ("patch16", 139_585, 16),
                                              ("patch286", 11_159_361, 286), ("pixel", 9_024, 1)])
def test_discriminator_reference_counts(arch, count, field):
    with META:
        D = build_discriminator(arch, 6, 64, "batch")
    assert count_parameters(D) == count  # docs/reference.md section 4
    assert receptive_field(D) == field
    if arch != "pixel":
        assert count == patch_param_count(6, 64, {"patch16": 1, "patch70": 3, "patch286": 5}[arch])


def test_patch70_output_map_on_256():
    with META:
        D = build_discriminator("patch70", 6, 64, "batch")
    out = D(torch.empty(1, 6, 256, 256, device="meta"))
    assert tuple(out.shape) == (1, 1, 30, 30)
    assert output_size(D, 256) == 30


@pytest.mark.parametrize("arch,size", [("patch16", 64), ("patch70", 100), ("patch286", 300), ("pixel", 17),
                                       ("patch70", 256)])
def test_output_size_formula_matches_forward(arch, size):
    with META:
        D = build_discriminator(arch, 6, 4, "batch")
    out = D(torch.empty(1, 6, size, size, device="meta"))
    assert out.shape[-1] == output_size(D, size)


def measured_field(D, size, cin):
    """Extent of input pixels that influence the central output logit (gradient != 0)."""
    D = D.double()
    with torch.no_grad():
        for m in D.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.weight.abs_()  # positive weights: no accidental cancellation
    x = torch.randn(1, cin, size, size, dtype=torch.float64, requires_grad=True)
    y = D(x)
    c = y.shape[-1] // 2
    y[0, 0, c, c].backward()
    nz = (x.grad[0].abs().sum(0) > 0).nonzero()
    rows, cols = nz[:, 0], nz[:, 1]
    assert rows.min() > 0 and rows.max() < size - 1, "field clipped by the border; use a larger input"
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


@pytest.mark.parametrize("n_layers,size", [(1, 40), (2, 80), (3, 100), (4, 200), (5, 330)])
def test_receptive_field_matches_gradient_extent(n_layers, size):
    D = PatchDiscriminator(3, ndf=2, n_layers=n_layers, norm="none")
    h, w = measured_field(D, size, 3)
    assert h == w == receptive_field(D)


def test_pixel_discriminator_sees_one_pixel():
    D = build_discriminator("pixel", 3, 4, "none")
    assert measured_field(D, 9, 3) == (1, 1) == (receptive_field(D),) * 2


def test_generator_shapes_fully_convolutional():
    with META:
        G = build_generator("unet", 3, 3, 8, 64, "batch", 0.5)
    for s in (256, 512):
        assert tuple(G(torch.empty(1, 3, s, s, device="meta")).shape) == (1, 3, s, s)


def test_encoder_decoder_has_no_skips():
    """The encoder-decoder's output depends on the input only through the bottleneck: forcing the
    innermost block's output to that of another image reproduces that image's output exactly;
    the U-Net's skips carry the input past the bottleneck, so its output changes."""
    from trainers.pix2pix.networks import UnetBlock
    x1, x2 = torch.randn(1, 3, 32, 32), torch.randn(1, 3, 32, 32)
    for arch, same in (("encoder-decoder", True), ("unet", False)):
        torch.manual_seed(0)
        G = build_generator(arch, 3, 3, 5, 4, "none", 0.0).eval()
        inner = next(m for m in G.modules() if isinstance(m, UnetBlock) and m.model[0].__class__
                     is torch.nn.LeakyReLU and len(m.model) == 5 and not isinstance(m.model[3], UnetBlock))
        saved = {}
        h = inner.register_forward_hook(lambda m, i, o: saved.setdefault("o", o))
        with torch.no_grad():
            y1 = G(x1)
        h.remove()
        h = inner.register_forward_hook(lambda m, i, o: saved["o"])
        with torch.no_grad():
            y2 = G(x2)
        h.remove()
        assert torch.equal(y1, y2) == same


def test_init_statistics():
    torch.manual_seed(0)
    G = build_generator("unet", 3, 3, 6, 32, "batch", 0.5)
    init_weights(G)
    convs = torch.cat([m.weight.flatten() for m in G.modules()
                       if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))])
    bns = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d)])
    assert abs(convs.mean()) < 1e-3 and abs(convs.std() - 0.02) < 1e-3
    assert abs(bns.mean() - 1) < 5e-3 and abs(bns.std() - 0.02) < 5e-3
    assert all(float(m.bias.detach().abs().max()) == 0 for m in G.modules()
               if isinstance(m, torch.nn.BatchNorm2d))


def test_dropout_on_in_train_mode_only():
    torch.manual_seed(0)
    G = build_generator("unet", 3, 3, 6, 8, "batch", 0.5)  # one dropout block (num_downs - 5)
    n_drop = sum(isinstance(m, torch.nn.Dropout) for m in G.modules())
    assert n_drop == 1 and sum(isinstance(m, torch.nn.Dropout)
                               for m in build_generator("unet", 3, 3, 8, 8, "batch", 0.5).modules()) == 3
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert not torch.equal(G(x), G(x))
        G.eval()
        assert torch.equal(G(x), G(x))
